"""Virtual cards end to end: issued through the real form by the sandbox issuer (jobs
in-process, the embedded mode), authorised synchronously over the signed webhook, cleared,
reversed, expired and refunded through the ledger. The ledger proves itself after each."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from lumipay.cards import expiry
from lumipay.cards.models import Card, CardTransaction
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account, Hold, LedgerTransaction
from lumipay.webhooks.models import WebhookEvent
from tests.conftest import Browser, set_tier
from tests.integration.helpers.cards import (
    CARDS_SECRET,
    auth_data,
    authorise_at_once,
    card_of,
    deliver,
    new_card,
)
from tests.integration.helpers.ledger import assert_ledger_ok
from tests.integration.test_transfers import balances_on_dashboard, wallet


@pytest.fixture(autouse=True)
def cards_config(app, monkeypatch):  # type: ignore[no-untyped-def]
    """Embedded mode (jobs run in the web process after commit) and a known cards secret."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    secrets = {**app.config["WEBHOOK_SECRETS"], "cards": CARDS_SECRET}
    monkeypatch.setitem(app.config, "WEBHOOK_SECRETS", secrets)
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")
    monkeypatch.setitem(app.config, "CARDS_CLEARING_TOLERANCE_PERCENT", 20)


@pytest.fixture()
def issuer(app):  # type: ignore[no-untyped-def]
    return Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.90"})


def active_card(customer, **fields) -> Card:  # type: ignore[no-untyped-def]
    response = new_card(customer, **fields)
    assert response.status_int == 303, response.text
    card = card_of(customer.email)
    assert card.status == "active", card.status
    return card


def authorise(issuer, card: Card, amount: int, **kw):  # type: ignore[no-untyped-def]
    response = deliver(
        issuer, "authorization.request", auth_data(card.provider_token, amount, **kw)
    )
    assert response.status_int == 200, response.text
    return response.json


def test_card_is_issued_by_the_job_and_stores_only_token_last4_and_expiry(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = new_card(ada, label="Streaming", card_type="single")
    assert response.status_int == 303
    card = card_of(ada.email)
    assert card.status == "active" and card.single_use
    assert card.provider_token.startswith("ic_sbx_") and len(card.last4) == 4
    assert card.brand == "Visa" and card.exp_month and card.exp_year
    page = response.follow()
    assert "Streaming" in page.text and f"·· {card.last4}" in page.text and "Active" in page.text
    assert "Cards" in ada.get("/dashboard").text
    assert card.reference in ada.get("/cards").text


def test_new_card_refuses_bad_limits_and_changes_nothing(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    for fields, message in (
        ({"per_transaction_limit": "0"}, "greater than zero"),
        ({"per_transaction_limit": "60,000", "monthly_limit": "50,000"}, "can&#39;t be below"),
        ({"groups": []}, "at least one kind"),
        ({"label": " "}, "name"),
    ):
        page = new_card(ada, **fields)
        assert page.status_int == 422, fields
        assert message in page.text, (fields, page.text[:2000])
    assert db.session.scalar(select(func.count(Card.id))) == 0


def test_approval_holds_money_and_clearing_captures_it_with_the_merchant_name(
    ctx, register, issuer
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 250_000, merchant="Chicken Republic")
    assert answer["approved"] is True and answer["code"] == "approved"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦97,500.00")
    assert "Held" in ada.get(f"/cards/{card.reference}").text
    assert_ledger_ok()

    cleared = deliver(
        issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 250_000}
    )
    assert cleared.status_int == 200
    assert balances_on_dashboard(ada) == ("₦97,500.00", "₦97,500.00")
    history = ada.get("/dashboard/history").text
    assert "Card purchase" in history and "Chicken Republic" in history
    row = db.session.scalar(select(CardTransaction))
    assert (row.status, row.captured_amount) == ("captured", 250_000)
    clearing = db.session.scalar(select(Account).where(Account.code == "card_clearing:NGN"))
    assert ledger.account_balance(clearing.id) == 250_000
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("authorised", "settled", "captured", "flagged"),
    [
        (100_000, 80_000, 80_000, False),  # below: the rest is released
        (100_000, 115_000, 115_000, False),  # a tip within 20%
        (100_000, 150_000, 100_000, True),  # above tolerance: only the authorised amount
    ],
)
def test_clearing_above_and_below_the_authorised_amount(
    ctx, register, issuer, authorised, settled, captured, flagged
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, authorised)
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": settled})
    db.session.expire_all()
    row = db.session.scalar(select(CardTransaction))
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", captured, flagged)
    w = wallet(ada)
    assert (w.balance, w.held) == (10_000_000 - captured, 0)
    assert db.session.get(Hold, row.hold_id).status == "captured"
    assert_ledger_ok()


def test_reversal_releases_the_hold(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 500_000)
    deliver(issuer, "reversal", {"authorization_id": answer["authorization_id"]})
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    row = db.session.scalar(select(CardTransaction))
    assert row.status == "reversed" and db.session.get(Hold, row.hold_id).status == "released"
    # A clearing after the reversal changes nothing.
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 500_000})
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert_ledger_ok()


def test_expired_authorisation_is_released_by_the_card_expiry_job(ctx, register, issuer):  # type: ignore[no-untyped-def]
    from lumipay.cards.jobs import expire_card_authorisations

    ada = register("Ada Obi")
    card = active_card(ada)
    authorise(issuer, card, 300_000)
    assert balances_on_dashboard(ada)[1] == "₦97,000.00"
    assert expire_card_authorisations(utcnow() + timedelta(days=8)) == 1
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert "Expired" in ada.get(f"/cards/{card.reference}").text
    assert_ledger_ok()


def test_late_clearing_after_expiry_is_still_debited(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 300_000)
    expiry.expire_authorisations(utcnow() + timedelta(days=8))
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 300_000})
    assert balances_on_dashboard(ada) == ("₦97,000.00", "₦97,000.00")
    assert_ledger_ok()


def test_refund_credits_the_wallet_from_card_clearing_once(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    answer = authorise(issuer, card, 400_000, merchant="Jumia")
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 400_000})
    refund = {
        "authorization_id": answer["authorization_id"],
        "refund_id": "iref_1",
        "amount": 150_000,
    }
    deliver(issuer, "refund", refund)
    deliver(issuer, "refund", refund)  # the same refund under another event id
    deliver(issuer, "refund", {**refund, "refund_id": "iref_2", "amount": 300_000})  # too much
    assert balances_on_dashboard(ada) == ("₦97,500.00", "₦97,500.00")
    assert "Card refund" in ada.get("/dashboard/history").text
    assert_ledger_ok()


def test_single_use_card_is_terminated_after_its_first_capture(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, card_type="single")
    first = authorise(issuer, card, 100_000)
    assert first["approved"]
    deliver(issuer, "clearing", {"authorization_id": first["authorization_id"], "amount": 100_000})
    assert card_of(ada.email).status == "terminated"
    assert authorise(issuer, card, 1_000)["code"] == "card_terminated"
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert "Single-use card used" in ada.get("/notifications").text
    assert_ledger_ok()


def test_every_decline_reason(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="50,000", monthly_limit="80,000")
    codes = {}
    codes["over_transaction_limit"] = authorise(issuer, card, 5_000_001)
    assert authorise(issuer, card, 5_000_000)["approved"]
    codes["over_monthly_limit"] = authorise(issuer, card, 3_000_001)
    codes["merchant_category_blocked"] = authorise(issuer, card, 1_000, mcc="7995")
    codes["currency_mismatch"] = authorise(issuer, card, 1_000, currency="USD")
    codes["card_not_found"] = json.loads(
        deliver(issuer, "authorization.request", auth_data("ic_nope", 1_000)).text
    )
    codes["invalid_request"] = deliver(
        issuer, "authorization.request", {**auth_data(card.provider_token, 1_000), "amount": "10"}
    ).json
    rich = active_card(ada, label="Big", per_transaction_limit="200,000", monthly_limit="500,000")
    codes["insufficient_funds"] = authorise(issuer, rich, 9_500_000)
    # Ada is Tier 1: the ₦50,000 held above is her whole daily limit.
    codes["over_kyc_limit"] = authorise(issuer, rich, 1_000)
    assert "Tier 1 daily limit" in codes["over_kyc_limit"]["reason"]
    ada.get(f"/cards/{card.reference}").forms["card-status-form"].submit("action", value="freeze")
    codes["card_frozen"] = authorise(issuer, card, 1_000)
    ada.get(f"/cards/{card.reference}/terminate").forms["terminate-form"].submit()
    codes["card_terminated"] = authorise(issuer, card, 1_000)
    issuing = run_in_transaction(lambda: _issuing_card(rich))
    codes["card_not_active"] = authorise(issuer, issuing, 1_000)
    for code, answer in codes.items():
        assert answer["approved"] is False, code
        assert answer["code"] == code, (code, answer)
        assert answer["reason"], code
    page = ada.get(f"/cards/{card.reference}").text
    assert "above this card&#39;s limit per purchase" in page and "Declined" in page
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦50,000.00")
    assert_ledger_ok()


def _issuing_card(template: Card) -> Card:
    """A card still being issued but already known to the issuer (its token arrived first)."""
    card = Card(
        reference="CDTESTISSUING0001",
        user_id=template.user_id,
        account_id=template.account_id,
        currency="NGN",
        label="Pending",
        per_transaction_limit=100,
        monthly_limit=100,
        allowed_groups="retail",
        status="issuing",
        provider="sandbox",
        provider_token="ic_sbx_issuing_not_yet_active",
    )
    db.session.add(card)
    db.session.flush()
    return card


def test_duplicate_delivery_returns_the_first_decision_without_a_second_hold(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    data = auth_data(card.provider_token, 200_000)
    first = deliver(issuer, "authorization.request", data, event_id="evt_same")
    again = deliver(issuer, "authorization.request", data, event_id="evt_same")
    other_event = deliver(issuer, "authorization.request", data, event_id="evt_other")
    assert first.json["approved"] and again.json == first.json
    assert (
        other_event.json["approved"]
        and other_event.json["authorization_id"] == data["authorization_id"]
    )
    assert db.session.scalar(select(func.count(Hold.id))) == 1
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦98,000.00")
    assert_ledger_ok()


def test_forged_stale_and_unsigned_authorisations_change_nothing(ctx, register, issuer):  # type: ignore[no-untyped-def]
    import time

    ada = register("Ada Obi")
    card = active_card(ada)
    data = auth_data(card.provider_token, 100_000)
    forged = deliver(issuer, "authorization.request", data, secret="not-the-secret")
    stale = deliver(issuer, "authorization.request", data, at=int(time.time()) - 3600)
    unsigned = issuer.post_json(
        "/api/lumipay/v1/webhooks/cards",
        {"id": "x", "type": "authorization.request", "data": data},
        expect_errors=True,
    )
    assert (forged.status_int, stale.status_int, unsigned.status_int) == (401, 401, 401)
    for response in (forged, stale, unsigned):
        assert "approved" not in response.json
    assert db.session.scalar(select(func.count(CardTransaction.id))) == 0
    assert db.session.scalar(select(func.count(WebhookEvent.id))) == 0
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")


def test_ten_concurrent_authorisations_approve_exactly_what_fits(app, ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, per_transaction_limit="100,000", monthly_limit="1,000,000")
    # Spend the balance down to ₦25,000 so ten ₦4,000 purchases (₦40,000) can't all fit.
    bob = register("Bayo Adeyemi")
    from tests.integration.test_transfers import send

    set_tier(ada.email, 3)  # ₦75,000 is more than Tier 1 may send in a day
    send(ada, bob.account_number, "75,000")
    assert balances_on_dashboard(ada)[1] == "₦25,000.00"
    answers = authorise_at_once(app, card.provider_token, [400_000] * 10)
    approved = [a for a in answers if a["approved"]]
    declined = [a for a in answers if not a["approved"]]
    assert len(answers) == 10
    assert len(approved) == 6, answers
    assert {a["code"] for a in declined} == {"insufficient_funds"}
    w = wallet(ada)
    assert (w.balance, w.held) == (2_500_000, 2_400_000)
    assert_ledger_ok()


def test_freeze_unfreeze_terminate_and_limits_through_the_page(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada)
    page = ada.get(f"/cards/{card.reference}")
    page = page.forms["card-status-form"].submit("action", value="freeze").follow()
    assert "Frozen" in page.text and card_of(ada.email).status == "frozen"
    page = page.forms["card-status-form"].submit("action", value="unfreeze").follow()
    assert card_of(ada.email).status == "active"
    form = ada.get(f"/cards/{card.reference}/limits").forms["limits-form"]
    form["per_transaction_limit"] = "1,000"
    form["monthly_limit"] = "5,000"
    assert form.submit().status_int == 303
    assert authorise(issuer, card, 100_001)["code"] == "over_transaction_limit"
    assert authorise(issuer, card, 100_000)["approved"]
    # Terminating is final, so the card's page only links to a confirmation that says so;
    # a "terminate" posted beside "Freeze" is sent there and changes nothing.
    page = ada.get(f"/cards/{card.reference}")
    assert 'value="terminate"' not in page.text
    token = page.forms["card-status-form"]["csrf_token"].value
    sent = ada.browser.post(
        f"/cards/{card.reference}/status", {"csrf_token": token, "action": "terminate"}
    )
    assert sent.status_int == 303 and sent.location.endswith(f"/cards/{card.reference}/terminate")
    assert card_of(ada.email).status == "active"
    confirm = page.click("Terminate card…")
    assert "This is final." in confirm.text
    page = confirm.forms["terminate-form"].submit().follow()
    assert "Terminated" in page.text
    assert (
        ada.get(f"/cards/{card.reference}/limits")
        .forms["limits-form"]
        .submit(expect_errors=True)
        .status_int
        == 422
    )
    assert_ledger_ok()


def test_full_details_need_the_password_are_not_cached_and_never_stored_or_logged(
    app, ctx, register, issuer, capsys
):  # type: ignore[no-untyped-def]
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.DEBUG)
    logging.getLogger("lumipay").addHandler(keep)
    logging.getLogger().addHandler(keep)
    try:
        ada = register("Ada Obi")
        card = active_card(ada)
        form = ada.get(f"/cards/{card.reference}").forms["reveal-form"]
        form["password"] = "wrong-password-123"
        refused = form.submit(expect_errors=True)
        assert refused.status_int == 422 and "not your password" in refused.text
        form = refused.forms["reveal-form"]
        form["password"] = ada.password
        shown = form.submit()
        assert shown.headers["Cache-Control"] == "no-store"
        pan = re.search(r'id="card-pan">([\d ]+)<', shown.text).group(1).replace(" ", "")
        cvv = re.search(r'id="card-cvv">(\d{3})<', shown.text).group(1)
        assert len(pan) == 16 and pan.endswith(card.last4)
        # Use the card, so every table a purchase touches has rows to search.
        answer = authorise(issuer, card, 10_000)
        deliver(
            issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 10_000}
        )
        assert ada.get(f"/cards/{card.reference}").text.count(pan) == 0
    finally:
        logging.getLogger("lumipay").removeHandler(keep)
        logging.getLogger().removeHandler(keep)
    captured = capsys.readouterr()
    logged = "\n".join(
        [r.getMessage() + " " + json.dumps(vars(r), default=str) for r in records]
        + [captured.out, captured.err]
    )
    assert records, "the log capture saw nothing"
    assert pan not in logged and pan[-8:] not in logged.replace(card.last4, "")
    found = []
    with db.engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb', 'character')"
            )
        ).all()
        assert len(columns) > 50
        for table, column in columns:
            hits = conn.execute(
                sa.text(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE :pan'),
                {"pan": f"%{pan}%"},
            ).scalar()
            if hits:
                found.append((table, column))
    assert found == []
    assert cvv not in card_of(ada.email).provider_token


def test_another_customer_cannot_use_or_see_a_card(ctx, register, issuer):  # type: ignore[no-untyped-def]
    ada, cy = register("Ada Obi"), register("Cy Okafor")
    card = active_card(ada)
    for path in (f"/cards/{card.reference}", f"/cards/{card.reference}/limits"):
        assert cy.get(path, expect_errors=True).status_int == 404
    assert card.reference not in cy.get("/cards").text
    page = cy.get("/cards/sandbox/merchant")
    assert card.reference not in page.text


def test_sandbox_merchant_pays_then_clears_a_single_use_card(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    card = active_card(ada, card_type="single", label="One-off")
    form = ada.get("/cards/sandbox/merchant").forms["merchant-form"]
    form["card"] = card.reference
    form["merchant_name"] = "Konga"
    form["mcc"] = "5732"
    form["amount"] = "2,500"
    result = form.submit()
    assert "Approved" in result.text
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦97,500.00")
    assert "Held" in ada.get(f"/cards/{card.reference}").text
    detail = result.forms["clear-form"].submit().follow()
    assert "Paid" in detail.text and "Terminated" in detail.text
    assert balances_on_dashboard(ada) == ("₦97,500.00", "₦97,500.00")
    assert "Konga" in ada.get("/dashboard/history").text

    multi = active_card(
        ada, label="Everyday", per_transaction_limit="1,000", monthly_limit="10,000"
    )
    form = ada.get("/cards/sandbox/merchant").forms["merchant-form"]
    form["card"] = multi.reference
    form["amount"] = "1,500"
    declined = form.submit()
    assert "Declined" in declined.text and "limit per purchase" in declined.text
    assert "clear-form" not in declined.text
    assert_ledger_ok()


def test_sandbox_merchant_is_404_outside_sandbox_mode(app, ctx, register, monkeypatch):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "issuing")
    assert ada.get("/cards/sandbox/merchant", expect_errors=True).status_int == 404
    assert "Test merchant" not in ada.get("/cards").text


def test_issuer_refusal_fails_the_card_and_says_so(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = new_card(ada, label="decline-issue please")
    assert response.status_int == 303
    card = card_of(ada.email)
    assert card.status == "failed" and card.provider_token is None
    assert "Not issued" in response.follow().text
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == 1  # the welcome bonus


def test_a_tip_the_wallet_cannot_cover_captures_only_the_authorised_amount(ctx, register, issuer):  # type: ignore[no-untyped-def]
    from tests.integration.test_transfers import send

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    card = active_card(ada)
    set_tier(ada.email, 3)  # ₦99,000 is more than Tier 1 may send in a day
    send(ada, bayo.account_number, "99,000")  # ₦1,000 left
    answer = authorise(issuer, card, 100_000)
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 110_000})
    db.session.expire_all()
    row = db.session.scalar(select(CardTransaction))
    assert (row.status, row.captured_amount, row.needs_attention) == ("captured", 100_000, True)
    assert balances_on_dashboard(ada) == ("₦0.00", "₦0.00")
    assert_ledger_ok()


def test_a_usd_card_spends_from_the_usd_wallet_only(ctx, register, issuer):  # type: ignore[no-untyped-def]
    from tests.security.test_attacks import csrf_token_of

    ada = register("Ada Obi")
    ada.browser.post(
        "/wallets", {"csrf_token": csrf_token_of(ada.browser, "/dashboard"), "currency": "USD"}
    )
    form = ada.get("/cards/new").forms["new-card-form"]
    form["label"] = "Dollar card"
    form["wallet_id"].select(text="USD wallet · $0.00 available")
    form["per_transaction_limit"] = "100"
    form["monthly_limit"] = "500"
    assert form.submit().status_int == 303
    card = card_of(ada.email)
    assert (card.currency, card.per_transaction_limit, card.status) == ("USD", 10_000, "active")
    assert authorise(issuer, card, 1_000, currency="NGN")["code"] == "currency_mismatch"
    assert authorise(issuer, card, 1_000, currency="USD")["code"] == "insufficient_funds"
    assert_ledger_ok()
