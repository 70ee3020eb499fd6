"""Top-ups through the form, the sandbox provider's checkout page and the signed bank webhook,
settled by a real RQ worker (and in-process, as in `make dev`). The ledger proves itself after
each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lumipay.bank.models import ReservedAccount, TopUp
from lumipay.extensions import db
from lumipay.notifications.models import Notification
from lumipay.providers import moniepoint
from tests.integration.helpers.bank import (
    WEBHOOK,
    bank_delivery,
    pay_on_sandbox_page,
    reference_in,
    settle,
    start_topup,
    system_balance,
    topup,
    use_sandbox_bank,
)
from tests.integration.helpers.bills import wait_for
from tests.integration.helpers.ledger import assert_ledger_ok, receipt_linked
from tests.integration.test_transfers import balances_on_dashboard

CHECKOUT, RESERVED = "moniepoint:checkout", "moniepoint:reserved_account"


@pytest.fixture(autouse=True)
def bank_config(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    use_sandbox_bank(app, monkeypatch)


def payment_event(
    reference=None, account_reference=None, amount=500_000, currency="NGN", ref="MNFY|1"
):  # type: ignore[no-untyped-def]
    return moniepoint.collection_event(
        ref,
        amount=amount,
        currency=currency,
        payment_reference=reference,
        account_reference=account_reference,
    )


def test_checkout_top_up_credits_the_wallet_once_paid(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = start_topup(ada, "5,000", CHECKOUT)
    assert response.status_int == 303, response.text
    reference = reference_in(response)
    detail = response.follow()
    assert "Continue to the payment page" in detail.text and "Pending" in detail.text
    paid = pay_on_sandbox_page(ada, detail)
    assert paid.status_int == 303, paid.text
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")

    settle()

    credited = topup(reference)
    assert credited.status == "credited" and credited.amount_paid == 500_000
    assert credited.flagged_reason is None
    assert balances_on_dashboard(ada) == ("₦105,000.00", "₦105,000.00")
    assert system_balance("moniepoint_clearing:NGN") == -500_000
    page = ada.get(f"/bank/topups/{reference}/status")
    assert "Credited" in page.text and "hx-trigger" not in page.text
    receipt_linked(ada.get(f"/bank/topups/{reference}"), "₦5,000.00")
    assert "Money in" in ada.get("/notifications").text
    assert "Top-up" in ada.get("/dashboard").text
    assert_ledger_ok()


def test_reserved_account_is_made_once_per_customer_and_provider(ctx, register):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Ade")
    first = start_topup(ada, "2,000", RESERVED).follow()
    second = start_topup(ada, "3,000", RESERVED).follow()
    other = start_topup(bayo, "3,000", RESERVED).follow()
    number = first.html.find(attrs={"data-testid": "reserved-account-number"}).text
    assert len(number) == 10 and number.isdigit()
    assert second.html.find(attrs={"data-testid": "reserved-account-number"}).text == number
    assert other.html.find(attrs={"data-testid": "reserved-account-number"}).text != number
    assert "LUMIPAY/ADA OBI" in first.text
    assert db.session.scalar(select(func.count(ReservedAccount.id))) == 2


def test_transfer_into_the_reserved_account_settles_the_pending_top_up(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = start_topup(ada, "2,000", RESERVED)
    paid = pay_on_sandbox_page(ada, response.follow())
    assert paid.status_int == 303
    settle()
    credited = topup(reference_in(response))
    assert (credited.status, credited.amount_paid) == ("credited", 200_000)
    assert balances_on_dashboard(ada) == ("₦102,000.00", "₦102,000.00")
    assert_ledger_ok()


def test_payment_into_reserved_account_with_no_pending_top_up_is_credited(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = start_topup(ada, "2,000", RESERVED)
    pay_on_sandbox_page(ada, response.follow())
    settle()
    reserved = db.session.scalar(select(ReservedAccount))
    raw, headers = bank_delivery(
        *payment_event(account_reference=reserved.account_reference, amount=750_050, ref="T-9")
    )
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()
    unsolicited = db.session.scalar(select(TopUp).where(TopUp.provider_reference == "T-9"))
    assert unsolicited.status == "credited" and unsolicited.amount is None
    assert unsolicited.amount_paid == 750_050 and unsolicited.flagged_reason is None
    assert balances_on_dashboard(ada) == ("₦109,500.50", "₦109,500.50")
    assert unsolicited.reference in ada.get("/bank").text
    assert_ledger_ok()


def test_duplicate_deliveries_credit_once(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", CHECKOUT))
    event = payment_event(reference=reference, ref="MNFY|DUP")
    raw, headers = bank_delivery(*event)
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    replay = web.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert replay.status_int == 400 and replay.json["reason"] == "replayed"
    for _ in range(2):  # the provider sending the same payment again, as a new event
        raw, headers = bank_delivery(*event)
        assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()
    assert db.session.scalar(select(func.count(TopUp.id))) == 1
    assert topup(reference).status == "credited"
    assert balances_on_dashboard(ada) == ("₦105,000.00", "₦105,000.00")
    assert db.session.scalar(select(func.count(Notification.id))) == 1
    assert_ledger_ok()


def test_forged_or_tampered_deliveries_change_nothing(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", CHECKOUT))
    raw, headers = bank_delivery(*payment_event(reference=reference), secret="not-the-secret")
    assert web.post(WEBHOOK, raw, headers=headers, expect_errors=True).status_int == 401
    raw, headers = bank_delivery(*payment_event(reference=reference))
    tampered = raw.replace(b"5000.00", b"50000.00")
    assert web.post(WEBHOOK, tampered, headers=headers, expect_errors=True).status_int == 401
    unsigned = web.post(
        WEBHOOK, raw, headers={"Content-Type": "application/json"}, expect_errors=True
    )
    assert unsigned.status_int == 401
    # Moniepoint's own signature scheme is only listened to in HTTP mode.
    monnify = web.post(
        WEBHOOK, raw, headers={moniepoint.SIGNATURE_HEADER: "ab" * 64}, expect_errors=True
    )
    assert monnify.status_int == 404
    settle()
    assert topup(reference).status == "pending"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert_ledger_ok()


def test_partial_payment_is_credited_as_paid_and_flagged(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = start_topup(ada, "5,000", CHECKOUT)
    pay_on_sandbox_page(ada, response.follow(), amount="3,000")
    settle()
    credited = topup(reference_in(response))
    assert credited.status == "credited" and credited.amount_paid == 300_000
    assert credited.flagged_reason == "Paid ₦3,000.00, asked ₦5,000.00."
    assert balances_on_dashboard(ada) == ("₦103,000.00", "₦103,000.00")
    assert "Paid ₦3,000.00, asked ₦5,000.00." in response.follow().text
    assert "Continue to the payment page" not in response.follow().text
    form = ada.get(f"/bank/sandbox/checkout/{credited.reference}").forms["sandbox-pay-form"]
    again = form.submit(expect_errors=True)
    assert again.status_int == 422 and "already been paid" in again.text
    assert_ledger_ok()


def test_currency_mismatch_is_credited_as_paid_and_flagged(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", CHECKOUT))
    raw, headers = bank_delivery(*payment_event(reference=reference, amount=2_500, currency="USD"))
    web.post(WEBHOOK, raw, headers=headers)
    settle()
    held = topup(reference)
    assert held.status == "uncredited"  # no USD wallet to credit: left for a person
    assert held.flagged_reason == "Paid in USD, asked in NGN. No USD wallet to credit."
    form = ada.get("/dashboard").forms["wallet-form"]
    form["currency"] = "USD"
    form.submit()
    from lumipay.fx import service as fx

    fx.update_rates()  # the maximum-balance check values dollars in naira
    second = reference_in(start_topup(ada, "5,000", CHECKOUT))
    raw, headers = bank_delivery(
        *payment_event(reference=second, amount=2_500, currency="USD", ref="MNFY|USD")
    )
    web.post(WEBHOOK, raw, headers=headers)
    settle()
    credited = topup(second)
    assert (credited.status, credited.currency_paid) == ("credited", "USD")
    assert credited.flagged_reason == "Paid in USD, asked in NGN."
    assert balances_on_dashboard(ada, "USD") == ("$25.00", "$25.00")
    assert_ledger_ok()


def test_payment_naming_nothing_of_ours_credits_nobody(ctx, register, web):  # type: ignore[no-untyped-def]
    register("Ada Obi")
    for event in (payment_event(reference="TU-UNKNOWN"), payment_event(account_reference="X1")):
        raw, headers = bank_delivery(*event)
        assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()
    assert db.session.scalar(select(func.count(TopUp.id))) == 0
    assert_ledger_ok()


@pytest.mark.parametrize(("amount", "message"), [("50", "from ₦100.00"), ("1.001", "decimal")])
def test_top_up_refusals_record_nothing(ctx, register, amount, message):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = start_topup(ada, amount, CHECKOUT)
    assert page.status_int == 422 and message in page.text
    assert db.session.scalar(select(func.count(TopUp.id))) == 0


def test_a_resubmitted_top_up_form_records_one(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bank/topup").forms["topup-form"]
    form["amount"] = "1,000"
    first, second = form.submit(), form.submit()
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(TopUp.id))) == 1


def test_sandbox_checkout_does_not_exist_with_real_providers(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(start_topup(ada, "5,000", CHECKOUT))
    monkeypatch.setitem(app.config, "BANK_PROVIDER_MODE", "http")
    assert ada.get(f"/bank/sandbox/checkout/{reference}", expect_errors=True).status_int == 404


def test_embedded_mode_tops_up_in_process_like_make_dev(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 1)
    ada = register("Ada Obi")
    response = start_topup(ada, "5,000", CHECKOUT)
    pay_on_sandbox_page(ada, response.follow())
    wait_for(lambda: topup(reference_in(response)).status == "credited", what="the webhook")
    assert balances_on_dashboard(ada) == ("₦105,000.00", "₦105,000.00")
    assert_ledger_ok()


def test_a_top_up_past_the_maximum_balance_is_refused_or_waits_uncredited(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")  # Tier 1: at most ₦300,000 held
    refused = start_topup(ada, "200,000.01", CHECKOUT)
    assert refused.status_int == 422 and "Tier 1 maximum of ₦300,000.00" in refused.text
    assert db.session.scalar(select(func.count(TopUp.id))) == 0
    fits = start_topup(ada, "200,000", CHECKOUT)
    assert fits.status_int == 303, fits.text
    # Money paid into the reserved account beyond the maximum can't be turned away: it waits.
    response = start_topup(ada, "1,000", RESERVED)
    reserved = db.session.scalar(select(ReservedAccount))
    raw, headers = bank_delivery(
        *payment_event(account_reference=reserved.account_reference, amount=20_000_001, ref="T-X")
    )
    assert response.status_int == 303
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()
    waiting = db.session.scalar(select(TopUp).where(TopUp.provider_reference == "T-X"))
    assert waiting.status == "uncredited" and "maximum balance" in waiting.flagged_reason
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert "Top-up waiting" in ada.get("/notifications").text
    assert_ledger_ok()
