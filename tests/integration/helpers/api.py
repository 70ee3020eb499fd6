"""A JSON API client for tests: WebTest underneath, bearer token and Idempotency-Key on top."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from tests.conftest import PASSWORD, Browser, unique_details

API = "/api/lumipay/v1"
_keys = itertools.count(1)


def new_key() -> str:
    return f"test-key-{next(_keys):08d}"


@dataclass
class ApiClient:
    browser: Browser
    access: str | None = None
    refresh: str | None = None
    email: str = ""
    password: str = PASSWORD
    account_number: str = ""
    user_id: str = ""  # the public id (a UUID)
    extra: dict[str, Any] = field(default_factory=dict)
    pin: str | None = None  # once set, sent as X-Transaction-PIN on every POST (the debits)

    def headers(self, key: str | None = None, **more: str) -> dict[str, str]:
        found = dict(more)
        if self.access:
            found["Authorization"] = f"Bearer {self.access}"
        if self.pin and "X-Transaction-PIN" not in found:
            found["X-Transaction-PIN"] = self.pin
        if key:
            found["Idempotency-Key"] = key
        return found

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.browser.get(
            API + path, params=params or {}, headers=self.headers(), expect_errors=True, **kw
        )

    def post(self, path: str, body: Any = None, *, key: str | None = None, **kw: Any) -> Any:
        return self.browser.post_json(
            API + path, body if body is not None else {}, headers=self.headers(key),
            expect_errors=True, **kw,
        )  # fmt: skip

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self.browser.patch_json(
            API + path, body, headers=self.headers(), expect_errors=True, **kw
        )

    @property
    def pk(self) -> int:
        """The user's sequential key, inside the database only (for calling services)."""
        from sqlalchemy import select

        from lumipay.auth.models import User
        from lumipay.extensions import db

        found = db.session.scalar(select(User.id).where(User.email == self.email))
        assert found is not None
        return found

    def take(self, tokens: dict[str, Any]) -> None:
        self.access, self.refresh = tokens["access_token"], tokens["refresh_token"]


def api_register(app: Flask, name: str = "Api Customer", ip: str = "198.51.100.40") -> ApiClient:
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": ip}))
    details = unique_details(name)
    response = client.post("/auth/register", details)
    assert response.status_int == 201, response.text
    client.take(response.json["tokens"])
    client.email = details["email"]
    client.account_number = response.json["account_number"]
    client.user_id = response.json["user_id"]
    return client


def ngn_wallet_id(client: ApiClient) -> str:
    wallets = client.get("/accounts/").json["wallets"]
    return next(w["wallet_id"] for w in wallets if w["currency"] == "NGN")


def post_debit(app: Flask, client: ApiClient, path: str, body: Any, key: str) -> Any:
    """POST a debit; when it asks for the code we emailed (above step-up), send that too."""
    from tests.conftest import emailed_code

    response = client.post(path, body, key=key)
    if response.status_int == 401 and response.json.get("type", "").endswith("email-code-required"):
        response = client.browser.post_json(
            API + path, body, expect_errors=True,
            headers=client.headers(key, **{"X-Email-Code": emailed_code(app)}),
        )  # fmt: skip
    return response
