"""Payouts through the forms: name enquiry, hold, an admin's approval or rejection on
/admin/payouts, the sandbox provider (success, refusal, failure by webhook, timeout then
requery) settled by a real RQ worker. The ledger proves itself after each."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from lumipay.audit.service import SYSTEM
from lumipay.bank import service
from lumipay.bank.models import Payout
from lumipay.clock import lagos_day
from lumipay.extensions import db
from lumipay.jobs.models import OutboxMessage
from lumipay.ledger.models import Hold, LedgerTransaction
from tests.conftest import set_tier, submit_debit
from tests.integration.helpers.bank import (
    payout,
    payout_step_one,
    reference_in,
    request_payout,
    settle,
    system_balance,
    tier_two_register,  # noqa: F401 (the `register` here)
    use_sandbox_bank,
)
from tests.integration.helpers.ledger import assert_ledger_ok, receipt_linked
from tests.integration.test_transfers import balances_on_dashboard, wallet

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def bank_config(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    use_sandbox_bank(app, monkeypatch, requery_backoff=[0])


def review(admin, reference: str, action: str, reason: str = ""):  # type: ignore[no-untyped-def]
    page = admin.get("/admin/payouts")
    form = page.forms[f"{action}-{reference}"]
    if action == "reject":
        form["reason"] = reason
    return form.submit(expect_errors=True)


def payouts_posted() -> int:
    return db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "bank_payout")
    )


def test_name_enquiry_then_approval_then_paid(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    lookup = ada.get(
        "/bank/payout/name-enquiry",
        params={"bank_code": "058", "account_number": "0123456789"},
        headers=HX,
    )
    assert re.search(r'id="account-name">[A-Z ]+<', lookup.text)
    confirm = payout_step_one(ada, "0123456789", "10,000", "Rent")
    name = re.search(r'id="account-name">([A-Z ]+)<', confirm.text).group(1)
    assert "Guaranty Trust Bank" in confirm.text and "₦50.00" in confirm.text
    assert "₦10,050.00" in confirm.text
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    response = confirm.forms["payout-confirm-form"].submit()
    assert response.status_int == 303
    reference = reference_in(response)
    waiting = payout(reference)
    assert waiting.status == "awaiting_approval" and waiting.account_name == name
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦89,950.00")
    assert "held on your wallet until we approve" in response.follow().text
    settle()  # nothing goes out before approval
    assert payout(reference).status == "awaiting_approval"

    tola = admin()
    queue = tola.get("/admin/payouts")
    assert reference in queue.text and "Ada Obi" in queue.text and "Rent" in queue.text
    assert review(tola, reference, "approve").status_int == 303
    assert payout(reference).status == "processing"
    settle()

    paid = payout(reference)
    assert paid.status == "succeeded" and paid.reviewed_by is not None
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert system_balance("fees:NGN") == 5_000
    assert system_balance("moniepoint_clearing:NGN") == 1_000_000
    notes = ada.get("/notifications").text
    for title in ("Payout awaiting approval", "Payout approved", "Payout paid"):
        assert title in notes, title
    assert "Bank payout" in ada.get("/dashboard").text
    assert payouts_posted() == 1
    assert_ledger_ok()


def test_rejection_needs_a_reason_and_releases_the_hold(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    tola = admin()
    refused = review(tola, reference, "reject", "   ")
    assert refused.status_int == 422 and "Give the customer a reason" in refused.text
    assert payout(reference).status == "awaiting_approval"
    done = review(tola, reference, "reject", "Unusual destination; call us.")
    assert done.status_int == 303
    rejected = payout(reference)
    assert rejected.status == "rejected"
    assert db.session.get(Hold, rejected.hold_id).status == "released"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    page = ada.get(f"/bank/payouts/{reference}").text
    assert "Unusual destination; call us." in page and "back in your available" in page
    assert "Payout rejected" in ada.get("/notifications").text
    page = tola.get("/admin/payouts")
    assert f"approve-{reference}" not in page.text
    token = page.html.find("input", {"name": "csrf_token"})["value"]
    again = tola.browser.post(f"/admin/payouts/{reference}/approve", {"csrf_token": token})
    assert "already rejected" in again.follow().text
    assert again.status_int == 303 and payout(reference).status == "rejected"
    settle()
    assert payouts_posted() == 0
    assert_ledger_ok()


def test_below_the_threshold_a_payout_goes_out_without_approval(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 2_000_000)
    ada = register("Ada Obi")
    small = reference_in(request_payout(ada, "0123456789", "20,000"))
    large = reference_in(request_payout(ada, "0123456789", "20,000.01"))
    assert payout(small).status == "processing"
    assert payout(large).status == "awaiting_approval"
    settle(PAYOUT_APPROVAL_THRESHOLD="2000000")
    assert payout(small).status == "succeeded"
    receipt_linked(ada.get(f"/bank/payouts/{small}"), "₦20,000.00")
    assert payout(large).status == "awaiting_approval"
    assert_ledger_ok()


@pytest.mark.parametrize(
    ("account_number", "why"),
    [("0123451111", "refused at once"), ("0123452222", "failed by webhook")],
)
def test_provider_failure_releases_the_hold(ctx, register, admin, account_number, why):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, account_number, "10,000"))
    review(admin(), reference, "approve")
    settle()
    failed = payout(reference)
    assert failed.status == "failed", why
    assert db.session.get(Hold, failed.hold_id).status == "released"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert "Payout failed" in ada.get("/notifications").text
    assert payouts_posted() == 0 and system_balance("fees:NGN") == 0
    assert_ledger_ok()


def test_timeout_is_pending_then_the_requery_settles_it(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123459999", "10,000"))
    review(admin(), reference, "approve")
    settle()
    paid = payout(reference)
    assert paid.status == "succeeded" and paid.requery_count == 1
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert payouts_posted() == 1
    assert_ledger_ok()


def test_the_job_run_twice_and_a_late_webhook_pay_once(ctx, register, admin):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "10,000"))
    review(admin(), reference, "approve")
    assert service.submit(reference) == "processing"
    # A second run asks the provider about our reference instead of sending it again.
    assert service.submit(reference) == "succeeded"
    assert service.requery(reference) == "succeeded"
    assert service.submit(reference) == "succeeded"
    settle()  # the queued job, the sandbox's webhook and requeries all find it final
    assert payout(reference).needs_attention is False
    assert payouts_posted() == 1 and system_balance("fees:NGN") == 5_000
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert_ledger_ok()


def test_insufficient_funds_is_refused_with_nothing_held(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = request_payout(ada, "0123456789", "99,960")
    assert page.status_int == 422
    assert "Insufficient available balance" in page.text and "₦100,010.00" in page.text
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    assert wallet(ada).held == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"account_number": "12345"}, "10-digit account number"),
        ({"account_number": "0123450000"}, "No account with that number"),
        ({"bank": "999"}, "Choose the bank"),
        ({"amount": "50"}, "from ₦100.00"),
        ({"amount": "-5"}, ""),
    ],
)
def test_payout_refusals_hold_nothing(ctx, register, fields, message):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bank/payout").forms["payout-form"]
    values = {"bank_code": "058", "account_number": "0123456789", "amount": "1,000", **fields}
    form["bank_code"].force_value(values.pop("bank", values["bank_code"]))
    form["account_number"] = values["account_number"]
    form["amount"] = values["amount"]
    page = form.submit(expect_errors=True)
    assert page.status_int == 422 and message in page.text
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    assert db.session.scalar(select(func.count(Hold.id))) == 0


def test_a_resubmitted_confirm_form_requests_one_payout(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = payout_step_one(ada, "0123456789", "1,000").forms["payout-confirm-form"]
    first, second = form.submit(), form.submit()
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Payout.id))) == 1
    assert wallet(ada).held == 105_000


def test_a_hold_that_expired_while_waiting_is_not_paid_from(ctx, register, admin, clock):  # type: ignore[no-untyped-def]
    from lumipay.ledger import service as ledger

    ada = register("Ada Obi")
    reference = reference_in(request_payout(ada, "0123456789", "1,000"))
    db.session.execute(update(Hold).values(expires_at=Hold.created_at))
    db.session.commit()
    assert ledger.expire_holds() == 1  # its owner, the payout, ends it and says why
    db.session.commit()
    rejected = payout(reference)
    assert rejected.status == "rejected" and "expired" in rejected.rejection_reason
    assert db.session.get(Hold, rejected.hold_id).status == "expired"
    assert f"approve-{reference}" not in admin().get("/admin/payouts").forms
    with pytest.raises(service.BankError, match="already rejected"):
        service.approve_payout(1, reference, origin=SYSTEM)
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.func.like("%submit_payout"))
        )
        == 0
    )
    assert_ledger_ok()


def test_sandbox_settlement_report_comes_from_our_records(ctx, register, admin, web):  # type: ignore[no-untyped-def]
    from lumipay.database import utcnow
    from lumipay.providers import bank_provider_named
    from lumipay.providers.settlement_report import SettlementLine
    from tests.integration.helpers.bank import pay_on_sandbox_page, start_topup, topup

    ada = register("Ada Obi")
    paid_out = reference_in(request_payout(ada, "0123456789", "1,000"))
    review(admin(), paid_out, "approve")
    topped = reference_in(start_topup(ada, "2,000", "moniepoint:checkout"))
    pay_on_sandbox_page(ada, ada.get(f"/bank/topups/{topped}"))
    settle()
    today = lagos_day(utcnow())
    lines = bank_provider_named("moniepoint").settlement_report(today, today)
    credited = topup(topped)
    assert lines == [
        SettlementLine(
            credited.provider_reference, topped, 200_000, "NGN", "succeeded", "topup", today
        ),
        SettlementLine(
            payout(paid_out).provider_reference, paid_out, 100_000, "NGN", "succeeded", "payout",
            today,
        ),
    ]  # fmt: skip
    yesterday = today.fromordinal(today.toordinal() - 1)
    assert bank_provider_named("moniepoint").settlement_report(yesterday, yesterday) == []


def test_tier_1_may_not_pay_out_and_is_told_how_to_lift_it(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    set_tier(ada.email, 1)
    page = ada.get("/bank/payout")
    notice = page.html.find(id="payout-tier-notice").text
    assert "start at Tier 2" in notice and "BVN or NIN" in notice
    before = balances_on_dashboard(ada)
    refused = payout_step_one(ada, "0123456789", "1,000")
    assert refused.status_int == 422 and "start at Tier 2" in refused.text
    assert balances_on_dashboard(ada) == before
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    assert_ledger_ok()


def test_a_payout_counts_against_the_daily_limit_with_its_fee(ctx, register, admin):  # type: ignore[no-untyped-def]
    from tests.integration.test_transfers import send

    ada = register("Ada Obi")  # Tier 2: ₦200,000 a day
    for name in ("Bayo Adeyemi", "Cy Okafor"):
        friend = register(name)
        set_tier(friend.email, 3)
        send(friend, ada.account_number, "90,000")  # Ada holds ₦280,000
    send(ada, friend.account_number, "120,000")  # ₦80,000 of her day is left
    # ₦79,950 + ₦50 fee is exactly what is left; one kobo more is refused.
    over = payout_step_one(ada, "0123456789", "79,950.01")
    confirm = over.forms["payout-confirm-form"] if over.status_int == 200 else None
    refused = submit_debit(ada.browser.app, confirm) if confirm is not None else over
    assert refused.status_int == 422 and "Tier 2 daily limit" in refused.text
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    fits = payout_step_one(ada, "0123456789", "79,950")
    assert submit_debit(ada.browser.app, fits.forms["payout-confirm-form"]).status_int == 303
    assert_ledger_ok()
