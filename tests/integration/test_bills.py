"""Paying airtime, data and electricity through the real forms, settled by a real RQ worker
against the sandbox provider (and, embedded, with jobs in-process). The ledger proves itself
after each."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.jobs.models import OutboxMessage
from lumipay.ledger.models import Account, Entry, Hold
from lumipay.notifications.models import Notification
from tests.conftest import set_tier, through_confirm
from tests.integration.helpers.bills import SECRET, run_worker, wait_for
from tests.integration.helpers.ledger import assert_ledger_ok, receipt_linked
from tests.integration.test_transfers import balances_on_dashboard, wallet

BONUS = 10_000_000


@pytest.fixture(autouse=True)
def bills_config(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": "", "cards": ""})
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 0)
    monkeypatch.setitem(app.config, "BILLS_REQUERY_BACKOFF", [0])
    monkeypatch.setitem(app.config, "BILLS_FEES", {"airtime": 0, "data": 0, "electricity": 10_000})
    monkeypatch.setitem(
        app.config,
        "BILLS_PROVIDERS",
        {"airtime": "sandbox", "data": "sandbox", "electricity": "sandbox"},
    )


def buy_airtime(customer, phone: str, amount: str, network: str = "mtn") -> Any:  # type: ignore[no-untyped-def]
    form = customer.get("/bills/airtime").forms["airtime-form"]
    form["network"] = network
    form["phone"] = phone
    form["amount"] = amount
    return through_confirm(form.submit(expect_errors=True))


def bill_of(response) -> BillPayment:  # type: ignore[no-untyped-def]
    reference = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    db.session.expire_all()
    return db.session.scalar(select(BillPayment).where(BillPayment.reference == reference))


def test_airtime_held_at_once_then_captured_by_the_worker(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "0803 123 4567", "1,500")
    assert response.status_int == 303, response.text
    bill = bill_of(response)
    assert bill.status == "processing"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦98,500.00")
    page = response.follow()
    assert 'hx-trigger="every 2s"' in page.text and "Processing" in page.text

    run_worker()

    db.session.expire_all()
    assert bill_of(response).status == "succeeded"
    assert balances_on_dashboard(ada) == ("₦98,500.00", "₦98,500.00")
    status = ada.get(f"/bills/{bill.reference}/status")
    assert "Succeeded" in status.text and "hx-trigger" not in status.text
    receipt_linked(ada.get(f"/bills/{bill.reference}"), "₦1,500.00")
    header = ada.get("/dashboard")
    assert "Bill paid" in header.text and 'data-testid="unread-count">1<' in header.text
    assert "Airtime" in header.text and "MTN airtime for 08031234567" in header.text
    read = ada.get("/notifications").forms["read-form"].submit().follow()
    assert "unread-count" not in read.text and "Bill paid" in read.text
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.pushed_at.is_(None))
        )
        == 0
    )
    assert_ledger_ok()


def test_failed_airtime_releases_the_hold_and_says_so(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031230000", "2000")
    assert response.status_int == 303
    run_worker()
    bill = bill_of(response)
    assert bill.status == "failed"
    assert db.session.get(Hold, bill.hold_id).status == "released"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    detail = response.follow()
    assert "back in your available balance" in detail.text
    assert "Bill failed" in ada.get("/notifications").text
    assert_ledger_ok()


def test_failure_reported_later_by_webhook_refunds(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031231111", "500")
    run_worker()
    assert bill_of(response).status == "failed"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert_ledger_ok()


def test_timeout_is_pending_then_requery_settles_it(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031239999", "1000")
    run_worker()
    bill = bill_of(response)
    assert bill.status == "succeeded"
    assert bill.requery_count == 1
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert_ledger_ok()


def test_data_plan_price_comes_from_the_provider(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bills/data").forms["data-form"]
    assert (
        "2GB, 30 days · ₦1,500.00" in form.html.decode() if hasattr(form.html, "decode") else True
    )
    form["plan"] = "mtn-data:mtn-2gb-30d"
    form["phone"] = "08031234567"
    response = through_confirm(form.submit())
    assert response.status_int == 303
    bill = bill_of(response)
    assert (bill.amount, bill.variation_code) == (150_000, "mtn-2gb-30d")
    run_worker()
    assert bill_of(response).status == "succeeded"
    assert balances_on_dashboard(ada)[0] == "₦98,500.00"
    assert_ledger_ok()


def test_prepaid_electricity_verifies_the_meter_and_shows_the_token(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bills/electricity").forms["electricity-form"]
    form["disco"] = "ikeja-electric"
    form["meter_type"] = "prepaid"
    form["meter_number"] = "45012345678"
    form["amount"] = "5000"
    form["phone"] = "08031234567"
    confirm = form.submit()
    assert confirm.status_int == 200
    assert re.search(r'id="customer-name">[A-Z ]+<', confirm.text)
    assert "₦5,100.00" in confirm.text  # ₦100 fee
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    response = confirm.forms["electricity-confirm-form"].submit()
    assert response.status_int == 303
    run_worker()
    bill = bill_of(response)
    assert bill.status == "succeeded" and re.fullmatch(r"(\d{4}-){4}\d{4}", bill.token)
    receipt = response.follow()
    assert bill.token in receipt.text
    assert balances_on_dashboard(ada) == ("₦94,900.00", "₦94,900.00")
    fees = db.session.scalar(select(Account).where(Account.code == "fees:NGN"))
    assert (
        db.session.scalar(select(func.sum(Entry.amount)).where(Entry.account_id == fees.id))
        == 10_000
    )
    assert_ledger_ok()


def test_invalid_meter_is_refused_before_anything_is_held(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bills/electricity").forms["electricity-form"]
    form["meter_number"] = "45012340000"
    form["amount"] = "5000"
    form["phone"] = "08031234567"
    page = form.submit(expect_errors=True)
    assert page.status_int == 422
    assert "meter number is not valid" in page.text


@pytest.mark.parametrize(
    ("phone", "amount", "message"),
    [
        ("12345", "1000", "Enter a valid phone number"),
        ("08031234567", "10", "₦50.00 to ₦50,000.00"),
        ("08031234567", "60000", "₦50.00 to ₦50,000.00"),
        ("08031234567", "1.234", "decimal"),
    ],
)
def test_refusals_hold_nothing(ctx, register, phone, amount, message):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = buy_airtime(ada, phone, amount)
    assert page.status_int == 422
    assert message in page.text
    assert db.session.scalar(select(func.count(Hold.id))) == 0
    assert db.session.scalar(select(func.count(BillPayment.id))) == 0


def test_insufficient_funds_is_refused_with_nothing_held(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    set_tier(ada.email, 3)  # ₦100,000 in a day is past Tier 1's limit
    for _ in range(2):
        assert buy_airtime(ada, "08031234567", "50000").status_int == 303
    page = buy_airtime(ada, "08031234567", "50")
    assert page.status_int == 422
    assert "Insufficient available balance" in page.text and "₦0.00 available" in page.text
    assert db.session.scalar(select(func.count(BillPayment.id))) == 2
    assert wallet(ada).held == BONUS


def test_a_resubmitted_form_pays_once(ctx, register):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bills/airtime").forms["airtime-form"]
    form["phone"] = "08031234567"
    form["amount"] = "1000"
    first = through_confirm(form.submit())
    second = through_confirm(form.submit())
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(BillPayment.id))) == 1
    assert wallet(ada).held == 100_000


def test_another_customers_bill_is_not_found(ctx, register):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Ade")
    response = buy_airtime(ada, "08031234567", "1000")
    reference = bill_of(response).reference
    assert bayo.get(f"/bills/{reference}", expect_errors=True).status_int == 404
    assert bayo.get(f"/bills/{reference}/status", expect_errors=True).status_int == 404


def test_embedded_mode_runs_the_same_jobs_in_process(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    assert response.status_int == 303
    assert bill_of(response).status == "succeeded"
    failed = buy_airtime(ada, "08031230000", "1000")
    assert bill_of(failed).status == "failed"
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert db.session.scalar(select(func.count(Notification.id))) == 2
    assert_ledger_ok()


def test_embedded_mode_sandbox_calls_back_after_its_delay(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    """As in `make dev`: no Redis, the sandbox answers pending and its webhook lands later."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "SANDBOX_DELAY", 1)
    monkeypatch.setitem(app.config, "BILLS_REQUERY_BACKOFF", [600])  # the webhook comes first
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    assert bill_of(response).status == "processing"
    wait_for(lambda: bill_of(response).status == "succeeded", what="the sandbox webhook")
    assert "Succeeded" in response.follow().text
    assert_ledger_ok()
