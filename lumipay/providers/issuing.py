"""A card adapter shaped like a real issuing API (Stripe Issuing / Sudo Africa style).

Endpoints under CARDS_API_URL, `Authorization: Bearer CARDS_API_KEY`, JSON both ways:

- POST /v1/cards {reference, currency, type: "virtual", cardholder_name, metadata}
  with `Idempotency-Key: <reference>` -> {id, brand, last4, exp_month, exp_year, status}
- GET  /v1/cards/<id>?expand[]=number&expand[]=cvc -> {number, cvc, exp_month, exp_year}
- POST /v1/cards/<id> {status: active | inactive | canceled}

A 4xx is a refusal (final); a timeout, a refused connection, a 5xx or a body we can't read is
not final, and the job asks again (by the same idempotency key, so no second card). Response
bodies are never logged: one of them carries the card number.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from lumipay import requestid
from lumipay.providers.cards import CardDetails, CardProviderError, CardRequest, IssuedCard

log = logging.getLogger(__name__)

# Our card statuses in the issuer's words (Stripe's: inactive = blocked, canceled = closed).
STATUSES = {"active": "active", "frozen": "inactive", "terminated": "canceled"}


class IssuingCards:
    name = "issuing"

    def __init__(self, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the URL is our configuration
            f"{self.base_url}{path}",
            data=json.dumps(payload).encode() if payload is not None else None,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                **requestid.outgoing_headers(),
                **headers,
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = _error_message(exc)
            log.warning(
                "card issuer refused", extra={"path": path.split("?")[0], "status": exc.code}
            )
            raise CardProviderError(message, final=400 <= exc.code < 500) from None
        except (OSError, ValueError) as exc:
            log.warning("card issuer unreachable", extra={"error": type(exc).__name__})
            raise CardProviderError("The card issuer did not answer.") from None
        if not isinstance(body, dict):
            raise CardProviderError("The card issuer answered something unreadable.")
        return body

    def create_card(self, request: CardRequest) -> IssuedCard:
        body = self._call(
            "POST",
            "/v1/cards",
            {
                "reference": request.reference,
                "currency": request.currency.lower(),
                "type": "virtual",
                "cardholder_name": request.cardholder_name,
                "metadata": {"label": request.label},
            },
            **{"Idempotency-Key": request.reference},
        )
        try:
            return IssuedCard(
                token=str(body["id"]),
                brand=str(body.get("brand") or "Card")[:16],
                last4=str(body["last4"])[-4:],
                exp_month=int(body["exp_month"]),
                exp_year=int(body["exp_year"]),
            )
        except (KeyError, TypeError, ValueError):
            raise CardProviderError("The card issuer's answer was incomplete.") from None

    def card_details(self, token: str) -> CardDetails:
        body = self._call("GET", f"/v1/cards/{_safe(token)}?expand[]=number&expand[]=cvc")
        number, cvc = str(body.get("number") or ""), str(body.get("cvc") or "")
        if not (number.isdigit() and cvc.isdigit()):
            raise CardProviderError("The card issuer did not send the card details.")
        return CardDetails(
            number, cvc, int(body.get("exp_month") or 0), int(body.get("exp_year") or 0)
        )

    def update_status(self, token: str, status: str) -> None:
        self._call("POST", f"/v1/cards/{_safe(token)}", {"status": STATUSES[status]})


def _safe(token: str) -> str:
    if not token.replace("_", "").isalnum():
        raise CardProviderError("Not a card id.", final=True)
    return token


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        message = str(((body or {}).get("error") or {}).get("message") or "")
    except (ValueError, AttributeError, OSError):
        message = ""
    return message[:200] or f"The card issuer answered {exc.code}."
