"""The sandbox card issuer: the embedded default, and the "test merchant" that pays with cards.

Cards get a token `ic_sbx_…`; their number, CVV and expiry are derived from the token with an
HMAC of the app's secret key, so the sandbox can show them again without storing them anywhere
(a real issuer keeps them in its vault). Numbers start with the test BIN 4242 42 and pass the
Luhn check. A card labelled with "decline-issue" is refused by the issuer.

The merchant side (`authorise`, `clear`) builds the issuer's signed webhook deliveries and hands
them to our webhook inbox in-process, as the issuer would post them to
POST /api/lumipay/v1/webhooks/cards, and returns what the inbox answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from lumipay import settings
from lumipay.providers import signing
from lumipay.providers.cards import CardDetails, CardProviderError, CardRequest, IssuedCard

BIN = "424242"


def _luhn_digit(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _secret_digits(token: str, purpose: str) -> str:
    key = str(settings.core().secret_key).encode()
    digest = hmac.new(key, f"{purpose}:{token}".encode(), hashlib.sha256).hexdigest()
    return str(int(digest, 16))


def _expiry(token: str) -> tuple[int, int]:
    digits = _secret_digits(token, "expiry")
    this_year = time.gmtime().tm_year
    return int(digits[:2]) % 12 + 1, this_year + 3


class SandboxCards:
    name = "sandbox"

    def create_card(self, request: CardRequest) -> IssuedCard:
        if "decline-issue" in request.label.lower():
            raise CardProviderError("The issuer declined to issue this card.", final=True)
        token = "ic_sbx_" + hashlib.sha256(request.reference.encode()).hexdigest()[:24]
        details = self.card_details(token)
        return IssuedCard(token, "Visa", details.number[-4:], details.exp_month, details.exp_year)

    def card_details(self, token: str) -> CardDetails:
        if not token.startswith("ic_sbx_"):
            raise CardProviderError("No such card at the issuer.", final=True)
        body = BIN + _secret_digits(token, "pan")[:9]
        month, year = _expiry(token)
        cvv = _secret_digits(token, "cvv")[:3]
        return CardDetails(body + _luhn_digit(body), cvv, month, year)

    def update_status(self, token: str, status: str) -> None:
        if not token.startswith("ic_sbx_"):
            raise CardProviderError("No such card at the issuer.", final=True)


def deliver(event_type: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Sign one delivery with the cards channel's secret and hand it to our inbox.

    Returns the HTTP status and JSON body the endpoint would have answered.
    """
    inbox = signing.local_inbox()
    secret = inbox.secret_for("cards")
    if secret is None:
        return 404, {"status": "rejected", "reason": "unknown channel"}
    raw = json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}).encode()
    headers = signing.signed_headers(secret, int(time.time()), raw)
    timestamp, presented = headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
    try:
        return 200, inbox.receive("cards", raw, timestamp, presented)
    except signing.WebhookRejected as exc:
        return exc.status, {"status": "rejected", "reason": exc.reason}


def authorise(
    card_token: str, amount: int, currency: str, merchant_name: str, mcc: str
) -> dict[str, Any]:
    """A purchase at the test merchant: the issuer asks us to approve it, we answer at once."""
    authorization_id = f"iauth_{uuid.uuid4().hex[:24]}"
    status, body = deliver(
        "authorization.request",
        {
            "authorization_id": authorization_id,
            "card_token": card_token,
            "amount": amount,
            "currency": currency,
            "merchant": {"name": merchant_name, "mcc": mcc, "city": "Lagos", "country": "NG"},
        },
    )
    return {"http_status": status, "authorization_id": authorization_id, **body}


def clear(authorization_id: str, amount: int, currency: str) -> dict[str, Any]:
    """The merchant's settlement of an approved purchase (capture), possibly another amount."""
    status, body = deliver(
        "clearing",
        {
            "clearing_id": f"iclr_{uuid.uuid4().hex[:24]}",
            "authorization_id": authorization_id,
            "amount": amount,
            "currency": currency,
        },
    )
    return {"http_status": status, **body}
