"""The issuing-API-shaped card adapter against a fake issuer served over real HTTP on loopback:
issuance (and its retry by idempotency key after a 5xx), a refusal, the full details shown once,
and status changes reaching the issuer."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from lumipay.cards import service
from tests.integration.helpers.bills import ServerThread
from tests.integration.helpers.cards import card_of, new_card
from tests.integration.test_cards import cards_config as cards_config

NUMBER, CVC = "5399830000001234", "987"


@dataclass
class FakeIssuer:
    """Stripe-Issuing-shaped. `create_answer` picks what POST /v1/cards does: ok | 500 | 402."""

    create_answer: str = "ok"
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_json(silent=True) or {}
        with self.lock:
            self.requests.append((request.method, request.path, body))
        if request.headers.get("Authorization") != "Bearer sk_test_issuer":
            return self.answer({"error": {"message": "Invalid API key"}}, 401)(
                environ, start_response
            )
        if request.method == "POST" and request.path == "/v1/cards":
            if self.create_answer == "500":
                return self.answer({"error": {"message": "try later"}}, 500)(
                    environ, start_response
                )
            if self.create_answer == "402":
                return self.answer({"error": {"message": "Card programme limit reached."}}, 402)(
                    environ, start_response
                )
            key = request.headers["Idempotency-Key"]
            with self.lock:
                card_id = self.by_key.setdefault(key, f"ic_{len(self.by_key) + 1:024d}")
                self.cards.setdefault(card_id, {"status": "active"})
            public = {"id": card_id, "brand": "Mastercard", "last4": NUMBER[-4:],
                      "exp_month": 9, "exp_year": 2029, "status": "active"}  # fmt: skip
            return self.answer(public, 200)(environ, start_response)
        match = re.fullmatch(r"/v1/cards/(ic_\d+)", request.path)
        if match is None or match.group(1) not in self.cards:
            return self.answer({"error": {"message": "No such card"}}, 404)(environ, start_response)
        card = self.cards[match.group(1)]
        if request.method == "GET":
            assert request.args.getlist("expand[]") == ["number", "cvc"]
            details = {"id": match.group(1), "number": NUMBER, "cvc": CVC, "exp_month": 9,
                       "exp_year": 2029}  # fmt: skip
            return self.answer(details, 200)(environ, start_response)
        card["status"] = body["status"]
        return self.answer({"id": match.group(1), "status": card["status"]}, 200)(
            environ, start_response
        )

    @staticmethod
    def answer(payload: dict[str, Any], status: int) -> Response:
        return Response(json.dumps(payload), status, mimetype="application/json")


@pytest.fixture()
def fake_issuer(app, monkeypatch):  # type: ignore[no-untyped-def]
    fake = FakeIssuer()
    with ServerThread(fake) as server:
        monkeypatch.setitem(app.config, "CARDS_PROVIDER", "issuing")
        monkeypatch.setitem(app.config, "CARDS_API_URL", server.url)
        monkeypatch.setitem(app.config, "CARDS_API_KEY", "sk_test_issuer")
        monkeypatch.setitem(app.config, "CARDS_API_TIMEOUT", 2)
        yield fake


def test_card_issued_over_http_and_details_fetched_once(ctx, register, fake_issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = new_card(ada, label="Travel")
    card = card_of(ada.email)
    assert (card.status, card.provider, card.brand, card.last4, card.expiry) == (
        "active", "issuing", "Mastercard", "1234", "09/29",
    )  # fmt: skip
    method, path, sent = fake_issuer.requests[0]
    assert (method, path, sent["reference"], sent["currency"]) == (
        "POST", "/v1/cards", card.reference, "ngn",
    )  # fmt: skip
    form = response.follow().forms["reveal-form"]
    form["password"] = ada.password
    shown = form.submit()
    assert "5399 8300 0000 1234" in shown.text and CVC in shown.text
    assert shown.headers["Cache-Control"] == "no-store"


def test_a_5xx_leaves_the_card_being_issued_and_the_retry_gets_the_same_card(
    ctx, register, fake_issuer
):  # type: ignore[no-untyped-def]
    fake_issuer.create_answer = "500"
    ada = register("Ada Obi")
    new_card(ada)
    card = card_of(ada.email)
    assert card.status == "issuing" and card.provider_token is None
    fake_issuer.create_answer = "ok"
    assert service.issue(card.reference) == "active"
    assert service.issue(card.reference) == "active"  # a second run changes nothing
    creates = [r for r in fake_issuer.requests if r[:2] == ("POST", "/v1/cards")]
    assert len(creates) == 2 and len(fake_issuer.cards) == 1


def test_a_refusal_fails_the_card_with_the_issuers_words(ctx, register, fake_issuer):  # type: ignore[no-untyped-def]
    fake_issuer.create_answer = "402"
    ada = register("Ada Obi")
    page = new_card(ada).follow()
    assert card_of(ada.email).status == "failed"
    assert "Card programme limit reached." in page.text


def test_freeze_unfreeze_and_terminate_reach_the_issuer(ctx, register, fake_issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    new_card(ada)
    card = card_of(ada.email)
    page = ada.get(f"/cards/{card.reference}")
    seen = []
    for action in ("freeze", "unfreeze"):
        page = page.forms["card-status-form"].submit("action", value=action).follow()
        seen.append(fake_issuer.cards[card.provider_token]["status"])
    ada.get(f"/cards/{card.reference}/terminate").forms["terminate-form"].submit()
    seen.append(fake_issuer.cards[card.provider_token]["status"])
    assert seen == ["inactive", "active", "canceled"]
    assert ada.get("/cards/sandbox/merchant", expect_errors=True).status_int == 404
