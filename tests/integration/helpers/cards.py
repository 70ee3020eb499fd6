"""Helpers for the card tests: make cards through the real form, and speak as the card issuer
(signed deliveries to POST /api/lumipay/v1/webhooks/cards)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import select

from lumipay.cards.models import Card
from lumipay.extensions import db
from lumipay.providers import signing

CARDS_SECRET = "test-cards-webhook-secret-0123456789"
WEBHOOK = "/api/lumipay/v1/webhooks/cards"


def new_card(customer: Any, **fields: Any) -> Any:
    """Fill /cards/new (defaults: NGN wallet, multi-use) and submit; returns the response."""
    form = customer.get("/cards/new").forms["new-card-form"]
    form["label"] = fields.pop("label", "Online shopping")
    for name, value in fields.items():
        if name == "groups":
            for checkbox in form.fields["groups"]:
                checkbox.checked = checkbox._value in value
        else:
            form[name] = value
    return form.submit(expect_errors=True)


def card_of(customer_email: str) -> Card:
    from lumipay.auth.models import User

    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == customer_email))
    return db.session.scalars(
        select(Card).where(Card.user_id == user.id).order_by(Card.id.desc())
    ).first()


def deliver(
    browser: Any,
    event_type: str,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    secret: str = CARDS_SECRET,
    at: int | None = None,
) -> Any:
    body = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}
    raw = json.dumps(body).encode()
    headers = signing.signed_headers(secret, int(time.time()) if at is None else at, raw)
    return browser.post(WEBHOOK, raw, headers=headers, expect_errors=True)


def auth_data(
    token: str,
    amount: int,
    *,
    mcc: str = "5411",
    currency: str = "NGN",
    merchant: str = "Shoprite Lekki",
    authorization_id: str | None = None,
) -> dict[str, Any]:
    return {
        "authorization_id": authorization_id or f"iauth_{uuid.uuid4().hex[:20]}",
        "card_token": token,
        "amount": amount,
        "currency": currency,
        "merchant": {"name": merchant, "mcc": mcc},
    }


def authorise_at_once(app: Any, token: str, amounts: list[int]) -> list[dict[str, Any]]:
    """Send one authorisation per amount to the card at the same moment (threads released by
    a barrier, each with its own browser); returns the issuer's answers."""
    import threading

    from tests.conftest import Browser

    barrier = threading.Barrier(len(amounts))
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def buy(n: int, amount: int) -> None:
        browser = Browser(app, extra_environ={"REMOTE_ADDR": f"192.0.2.{100 + n}"})
        data = auth_data(token, amount)
        barrier.wait(10)
        with app.app_context():
            response = deliver(browser, "authorization.request", data)
        with lock:
            answers.append(response.json)

    threads = [threading.Thread(target=buy, args=(n, a)) for n, a in enumerate(amounts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers
