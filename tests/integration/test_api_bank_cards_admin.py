"""The JSON API for bank top-ups and payouts, virtual cards and the back office's reconciliation:
the same services as the pages, owner scoping (404), admin-only operations (a customer gets 404),
stable problem types for refusals, and the Idempotency-Key contract."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from lumipay.bank import service as bank
from lumipay.bank.models import Payout, TopUp
from lumipay.cards.models import Card
from lumipay.clock import lagos_day
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger.models import Hold
from tests.conftest import PASSWORD, Browser, set_tier
from tests.integration.helpers.api import (
    ApiClient,
    api_register,
    new_key,
    ngn_wallet_id,
    post_debit,
)
from tests.integration.helpers.bank import settle
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_api import BONUS, assert_problem, count
from tests.integration.test_bank_payouts import bank_config, review  # noqa: F401 (autouse)

CHECKOUT, RESERVED = "moniepoint:checkout", "moniepoint:reserved_account"
PAYOUT = {"bank_code": "058", "account_number": "0123456789", "amount": 1_000_000}


@pytest.fixture()
def cards_config(app, monkeypatch):  # type: ignore[no-untyped-def]
    """Embedded mode: the issuing job runs in the web process after the commit."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")


def ngn_wallet(client: ApiClient) -> dict[str, Any]:
    wallets = client.get("/accounts/").json["wallets"]
    return next(w for w in wallets if w["currency"] == "NGN")  # type: ignore[no-any-return]


def holds() -> int:
    return count(Hold)


# Top-ups


def test_top_up_gives_payment_instructions_and_is_credited_once_paid(app, ctx):
    ada = api_register(app, "Ada Obi")
    key = new_key()
    body = {"amount": 500_000, "method": CHECKOUT}
    response = ada.post("/bank/topup", body, key=key)
    assert response.status_int == 201, response.text
    started = response.json
    assert started["status"] == "pending" and started["method"] == CHECKOUT
    assert started["amount"] == 500_000 and started["checkout_url"]
    assert started["reserved_account"] is None
    again = ada.post("/bank/topup", body, key=key)
    assert again.status_int == 201 and again.json == started
    assert again.headers["Idempotent-Replayed"] == "true"
    other = ada.post("/bank/topup", {**body, "amount": 600_000}, key=key)
    assert_problem(other, 422, "idempotency-key-reused")
    assert count(TopUp) == 1

    reserved = ada.post("/bank/topup", {"amount": 200_000, "method": RESERVED}, key=new_key())
    assert reserved.status_int == 201, reserved.text
    account = reserved.json["reserved_account"]
    assert re.fullmatch(r"\d{10}", account["account_number"]) and account["bank_name"]
    assert reserved.json["checkout_url"] is None

    bank.sandbox_pay(ada.pk, started["reference"], 500_000)
    settle()
    credited = ada.get(f"/bank/topups/{started['reference']}").json
    assert credited["status"] == "credited" and credited["amount_paid"] == 500_000
    assert credited["credited_at"]
    assert ngn_wallet(ada)["balance"] == BONUS + 500_000
    cy = api_register(app, "Cy Okafor")
    assert_problem(cy.get(f"/bank/topups/{started['reference']}"), 404, "not-found")
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 1, "method": CHECKOUT}, "amount"),
        ({"amount": 500_000, "method": "moniepoint:cash"}, "method"),
    ],
)
def test_top_up_refusals_name_the_field_and_record_nothing(app, ctx, body, field):
    ada = api_register(app, "Ada Obi")
    key = new_key()
    doc = assert_problem(ada.post("/bank/topup", body, key=key), 422, "topup-refused")
    assert doc["errors"][0]["field"] == field
    assert count(TopUp) == 0
    fixed = ada.post("/bank/topup", {"amount": 500_000, "method": CHECKOUT}, key=key)
    assert fixed.status_int == 201, "a refused request stores nothing: its key may be retried"


# Payouts


def test_payout_holds_waits_for_approval_then_is_paid(app, ctx, admin):
    ada = api_register(app, "Ada Obi")
    set_tier(ada.email, 2)
    key = new_key()
    body = {**PAYOUT, "narration": "Rent"}
    response = ada.post("/bank/payout", body, key=key)
    assert response.status_int == 202, response.text
    requested = response.json
    assert requested["status"] == "awaiting_approval"
    assert requested["account_name"] and requested["bank_name"] == "Guaranty Trust Bank"
    assert (requested["amount"], requested["fee"]) == (1_000_000, 5_000)
    wallet = ngn_wallet(ada)
    assert (wallet["held"], wallet["available"]) == (1_005_000, BONUS - 1_005_000)
    again = ada.post("/bank/payout", body, key=key)
    assert again.status_int == 202 and again.json == requested
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(
        ada.post("/bank/payout", {**body, "amount": 2_000_000}, key=key),
        422,
        "idempotency-key-reused",
    )
    assert count(Payout) == 1

    tola = admin()
    assert review(tola, requested["reference"], "approve").status_int == 303
    settle()
    paid = ada.get(f"/bank/payouts/{requested['reference']}").json
    assert paid["status"] == "succeeded" and paid["settled_at"]
    wallet = ngn_wallet(ada)
    assert (wallet["balance"], wallet["held"]) == (BONUS - 1_005_000, 0)
    cy = api_register(app, "Cy Okafor")
    assert_problem(cy.get(f"/bank/payouts/{requested['reference']}"), 404, "not-found")
    assert_ledger_ok()


def test_tier_1_payout_is_refused_with_its_own_problem_type(app, ctx):
    ada = api_register(app, "Ada Obi")
    doc = assert_problem(ada.post("/bank/payout", PAYOUT, key=new_key()), 403, "kyc-tier-required")
    assert doc["errors"] == [{"field": "amount", "message": doc["detail"]}]
    assert "Tier 2" in doc["detail"]
    assert (count(Payout), holds()) == (0, 0)
    assert ngn_wallet(ada)["available"] == BONUS


def test_payout_over_the_kyc_limit_or_the_balance_is_refused(app, ctx, monkeypatch):
    ada = api_register(app, "Ada Obi")
    set_tier(ada.email, 2)
    assert ada.post("/users/me/pin", {"pin": "2468"}).status_int == 204  # above Tier 1 amounts
    ada.pin = "2468"
    over_balance = {**PAYOUT, "amount": BONUS}  # the fee makes it one fee too much
    doc = assert_problem(post_debit(app, ada, "/bank/payout", over_balance, new_key()), 422,
                         "insufficient-funds")  # fmt: skip
    assert doc["errors"][0]["field"] == "amount"
    limits = json.loads(json.dumps(app.config["KYC_LIMITS"]), object_hook=_int_keys)
    limits[2]["TRANSACTION_LIMIT"] = 500_000
    monkeypatch.setitem(app.config, "KYC_LIMITS", limits)
    doc = assert_problem(ada.post("/bank/payout", PAYOUT, key=new_key()), 422, "over-kyc-limit")
    assert "Tier 2" in doc["detail"]
    unknown = {**PAYOUT, "bank_code": "999"}
    doc = assert_problem(ada.post("/bank/payout", unknown, key=new_key()), 422, "payout-refused")
    assert doc["errors"][0]["field"] == "bank_code"
    assert (count(Payout), holds()) == (0, 0)
    assert_ledger_ok()


def _int_keys(found: dict[str, Any]) -> dict[Any, Any]:
    return {int(k) if k.isdigit() else k: v for k, v in found.items()}


def test_bank_list_names_banks_and_top_up_methods(app, ctx):
    ada = api_register(app, "Ada Obi")
    listed = ada.get("/bank/banks").json
    assert {"code": "058", "name": "Guaranty Trust Bank"} in listed["banks"]
    assert CHECKOUT in listed["topup_methods"] and RESERVED in listed["topup_methods"]


# Cards


def card_body(client: ApiClient, **more: Any) -> dict[str, Any]:
    return {
        "wallet_id": ngn_wallet_id(client),
        "type": "multi",
        "label": "Online shopping",
        "per_transaction_limit": 2_000_000,
        "monthly_limit": 5_000_000,
        **more,
    }


def test_card_is_issued_listed_frozen_and_unfrozen_without_its_number(app, ctx, cards_config):
    ada = api_register(app, "Ada Obi")
    key = new_key()
    body = card_body(ada)
    response = ada.post("/cards/", body, key=key)
    assert response.status_int == 202, response.text
    created = response.json
    assert created["status"] == "issuing" and created["last4"] is None
    assert "retail" in created["groups"] and "gambling" not in created["groups"]
    again = ada.post("/cards/", body, key=key)
    assert again.json == created and again.headers["Idempotent-Replayed"] == "true"
    reused = ada.post("/cards/", {**body, "label": "Other"}, key=key)
    assert_problem(reused, 422, "idempotency-key-reused")

    card = ada.get(f"/cards/{created['card_id']}").json
    assert card["status"] == "active" and re.fullmatch(r"\d{4}", card["last4"])
    assert card["brand"] and re.fullmatch(r"\d\d/\d\d", card["expiry"])
    second = ada.post("/cards/", card_body(ada, type="single", label="Travel"), key=new_key())
    first_page = ada.get("/cards/", params={"limit": 1}).json
    assert [c["card_id"] for c in first_page["items"]] == [second.json["card_id"]]
    last_page = ada.get("/cards/", params={"limit": 1, "cursor": first_page["next_cursor"]}).json
    assert [c["card_id"] for c in last_page["items"]] == [created["card_id"]]
    assert last_page["next_cursor"] is None
    listing = ada.get("/cards/")
    keys = set(listing.json["items"][0])
    assert not keys & {"number", "pan", "cvv", "cvc", "provider_token"}
    # A card number stands alone; a reference's date digits follow its letters (CD20261201…).
    pan = r"(?<![A-Za-z0-9])\d{12,19}(?![A-Za-z0-9])"
    assert not re.search(pan, listing.text), "never a card number"
    stored = db.session.scalar(select(Card).where(Card.reference == created["reference"]))
    assert stored.provider_token not in listing.text

    frozen = ada.patch(f"/cards/{created['card_id']}/block", {"blocked": True})
    assert frozen.status_int == 200 and frozen.json["status"] == "frozen"
    assert ada.patch(f"/cards/{created['card_id']}/block", {"blocked": True}).json == frozen.json
    thawed = ada.patch(f"/cards/{created['card_id']}/block", {"blocked": False})
    assert thawed.json["status"] == "active"

    cy = api_register(app, "Cy Okafor")
    assert_problem(cy.get(f"/cards/{created['card_id']}"), 404, "not-found")
    assert_problem(cy.patch(f"/cards/{created['card_id']}/block", {"blocked": True}), 404,
                   "not-found")  # fmt: skip
    assert cy.get("/cards/").json == {"items": [], "next_cursor": None}
    db.session.expire_all()
    assert db.session.get(Card, stored.id).status == "active"


def test_card_refusals_name_the_field_and_create_nothing(app, ctx, cards_config):
    ada = api_register(app, "Ada Obi")
    cy = api_register(app, "Cy Okafor")
    bad_limits = card_body(ada, monthly_limit=1_000_000)
    doc = assert_problem(ada.post("/cards/", bad_limits, key=new_key()), 422, "card-refused")
    assert doc["errors"][0]["field"] == "monthly_limit"
    theirs = card_body(ada, wallet_id=ngn_wallet_id(cy))
    doc = assert_problem(ada.post("/cards/", theirs, key=new_key()), 422, "card-refused")
    assert doc["errors"][0]["field"] == "wallet_id"
    assert_problem(ada.post("/cards/", card_body(ada), key=None), 400, "idempotency-key-required")
    assert count(Card) == 0


# Admin


def admin_client(app: Any, admin: Any, clock: Any) -> ApiClient:
    tola = admin("Tola Bello")
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.48"}))
    code = pyotp.TOTP(tola.secret).at(clock())
    response = client.post(
        "/auth/login", {"login": tola.email, "password": PASSWORD, "otp_code": code}
    )
    assert response.status_int == 200, response.text
    client.take(response.json)
    return client


def test_admin_operations_are_404_to_customers(app, ctx):
    ada = api_register(app, "Ada Obi")
    today = lagos_day(utcnow()).isoformat()
    body = {"provider": "bills-sandbox", "start": today, "end": today}
    assert_problem(ada.post("/admin/reconcile", body), 404, "not-found")
    assert_problem(ada.get("/admin/provider-report"), 404, "not-found")
    from lumipay.reconciliation.models import ReconciliationRun

    assert count(ReconciliationRun) == 0


def test_admin_queues_a_reconciliation_and_reads_the_provider_report(app, ctx, admin, clock):
    from lumipay.reconciliation import service as reconciliation
    from lumipay.reconciliation.models import ReconciliationRun

    tola = admin_client(app, admin, clock)
    today = lagos_day(utcnow())
    body = {"provider": "bills-sandbox", "start": today.isoformat(), "end": today.isoformat()}
    response = tola.post("/admin/reconcile", body)
    assert response.status_int == 202, response.text
    run_id = response.json["run_id"]
    assert response.json["status"] == "queued"
    run = db.session.get(ReconciliationRun, run_id)
    assert run.provider == "bills-sandbox" and run.requested_by is not None
    assert reconciliation.carry_out(run_id) == "completed"
    report = tola.get("/admin/provider-report").json
    assert report["end"] == today.isoformat()
    assert report["start"] == (today - timedelta(days=13)).isoformat()
    rows = [r for r in report["rows"] if r["provider"] == "bills-sandbox"]
    assert [r["run_id"] for r in rows] == [run_id] and rows[0]["day"] == today.isoformat()
    assert rows[0]["outstanding"] == rows[0]["expected"] - rows[0]["settled"]
    page = tola.get("/admin/provider-report", params={"start": "2020-01-02", "end": "2020-01-01"})
    assert_problem(page, 422, "validation-error")

    backwards = {**body, "start": (today + timedelta(days=1)).isoformat()}
    doc = assert_problem(tola.post("/admin/reconcile", backwards), 422, "reconciliation-refused")
    assert doc["errors"][0]["field"] == "end"
    doc = assert_problem(
        tola.post("/admin/reconcile", {**body, "provider": "nobody"}), 422, "reconciliation-refused"
    )
    assert doc["errors"][0]["field"] == "provider"
    assert db.session.scalar(select(func.count(ReconciliationRun.id))) == 1


def test_a_readme_card_gets_its_monthly_limit_and_a_capped_per_purchase_limit(
    app, ctx, cards_config
):
    """`limit` is the monthly limit; the limit per purchase defaults to it, within the tier's
    cap per transaction (₦50,000 at Tier 1); the same card in the full shape replays."""
    ada = api_register(app, "Ada Obi")
    cap = app.config["KYC_LIMITS"][1]["TRANSACTION_LIMIT"]
    body = {"wallet_id": ngn_wallet_id(ada), "currency": "NGN", "limit": cap * 3,
            "type": "single_use"}  # fmt: skip
    key = new_key()
    made = ada.post("/cards/", body, key=key)
    assert made.status_int == 202, made.text
    card = made.json
    assert (card["limit"], card["monthly_limit"], card["per_transaction_limit"]) == (
        cap * 3, cap * 3, cap
    )  # fmt: skip
    assert card["type"] == "single"
    full = {"wallet_id": ngn_wallet_id(ada), "type": "single", "label": "Virtual card",
            "per_transaction_limit": cap, "monthly_limit": cap * 3}  # fmt: skip
    again = ada.post("/cards/", full, key=key)
    assert (again.status_int, again.headers["Idempotent-Replayed"]) == (202, "true")
    small = ada.post("/cards/", {**body, "limit": 100_000}, key=new_key()).json
    assert small["per_transaction_limit"] == small["limit"] == 100_000
    wrong = ada.post("/cards/", {**body, "currency": "USD"}, key=new_key())
    assert assert_problem(wrong, 422, "validation-error")["errors"][0]["field"] == "currency"


def test_card_limits_freeze_unfreeze_and_termination_through_the_api(app, ctx, cards_config):
    ada = api_register(app, "Ada Obi")
    card_id = ada.post("/cards/", card_body(ada), key=new_key()).json["card_id"]
    assert ada.get(f"/cards/{card_id}").json["status"] == "active"
    changed = ada.patch(f"/cards/{card_id}/limits", {"limit": 3_000_000})
    assert changed.status_int == 200, changed.text
    assert (changed.json["monthly_limit"], changed.json["per_transaction_limit"]) == (
        3_000_000, 2_000_000
    )  # fmt: skip
    below = ada.patch(f"/cards/{card_id}/limits", {"per_transaction_limit": 4_000_000})
    assert assert_problem(below, 422, "card-refused")["errors"][0]["field"] == "monthly_limit"

    def act(action: str) -> Any:
        return ada.post(f"/cards/{card_id}/status", {"action": action})

    assert act("freeze").json["status"] == "frozen"
    assert_problem(act("freeze"), 422, "card-refused")
    assert act("unfreeze").json["status"] == "active"
    assert act("terminate").json["status"] == "terminated"
    assert_problem(act("unfreeze"), 422, "card-refused")
    late = ada.patch(f"/cards/{card_id}/limits", {"limit": 1_000_000})
    assert_problem(late, 422, "card-refused")
    bayo = api_register(app, "Bayo Adeyemi")
    assert_problem(bayo.post(f"/cards/{card_id}/status", {"action": "freeze"}), 404, "not-found")
