"""OAuth2 client-credentials sessions to providers, through Authlib.

A token is cached per (token endpoint, client id) for the life of the process, used until it
is about to expire (Authlib fetches a new one then), and fetched again once if the provider
answers 401 anyway (a token revoked or rotated on their side).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

import requests
from authlib.integrations.requests_client import OAuth2Session

from lumipay import requestid

_tokens: dict[tuple[str, str], dict[str, Any]] = {}
_lock = threading.Lock()


class TokenClient:
    """Requests to one provider's API with a cached client-credentials token."""

    def __init__(
        self,
        base_url: str,
        token_path: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float,
        token_response: Callable[[requests.Response], requests.Response] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = self.base_url + token_path
        self.key = (self.token_url, client_id)
        self.timeout = timeout
        self.session = OAuth2Session(
            client_id,
            client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            token_endpoint=self.token_url,
            grant_type="client_credentials",
            update_token=self._store,
            leeway=30,
        )
        if token_response is not None:
            self.session.register_compliance_hook("access_token_response", token_response)
        with _lock:
            cached = _tokens.get(self.key)
        if cached:
            self.session.token = cached

    def _store(self, token: dict[str, Any], **_: Any) -> None:
        with _lock:
            _tokens[self.key] = dict(token)

    def _fetch(self) -> None:
        """A new token; a refusal (wrong secret) or a garbled answer is a ConnectionError, which
        callers treat like any unreachable provider."""
        try:
            token = self.session.fetch_token(self.token_url, timeout=self.timeout)
        except requests.RequestException:
            raise
        except Exception as exc:
            raise ConnectionError(f"token refused: {type(exc).__name__}: {exc}") from exc
        if not token.get("access_token"):
            self.session.token = None
            raise ConnectionError("the token endpoint gave no access token")
        self._store(token)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The provider's answer; a 401 fetches a new token and tries once more."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs["headers"] = {**requestid.outgoing_headers(), **(kwargs.get("headers") or {})}
        if not self.session.token:
            self._fetch()
        response = self.session.request(method, self.base_url + path, **kwargs)
        if response.status_code == 401:
            self._fetch()
            response = self.session.request(method, self.base_url + path, **kwargs)
        return cast(requests.Response, response)


def json_call(
    client: TokenClient, provider: str, method: str, path: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON object) from a provider. A timeout, a refused connection, a 5xx or an
    answer that is not a JSON object raises (callers treat it as "no clear answer")."""
    response = client.request(method, path, **kwargs)
    if response.status_code >= 500:
        raise ConnectionError(f"{provider} answered {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ConnectionError(f"{provider} answered something that is not JSON") from exc
    if not isinstance(body, dict):
        raise ConnectionError(f"{provider} answered something that is not a JSON object")
    return response.status_code, body


def forget_tokens() -> None:
    """Drop every cached token (tests; a rotated client secret)."""
    with _lock:
        _tokens.clear()
