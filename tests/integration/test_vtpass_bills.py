"""The VTpass-shaped adapter against a fake aggregator served over real HTTP on loopback, with a
real RQ worker process: success, failure, processing + requery, timeout + requery, a webhook that
arrives before the provider call returns, meter verification and data plans."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from lumipay.bills.models import BILL_KINDS, BillPayment
from lumipay.extensions import db
from lumipay.ledger.models import Hold, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from tests.conftest import through_confirm
from tests.integration.helpers.bills import (
    ROOT,
    FakeAggregator,
    ServerThread,
    run_worker,
    signed,
    worker_env,
)
from tests.integration.test_bills import balances_on_dashboard, bill_of, buy_airtime
from tests.integration.test_bills import bills_config as bills_config


@pytest.fixture()
def aggregator(app, monkeypatch):  # type: ignore[no-untyped-def]
    """The fake aggregator, serving; the app and its workers pointed at it for every bill type."""
    fake = FakeAggregator()
    with ServerThread(fake) as server:
        monkeypatch.setitem(
            app.config,
            "BILLS_PROVIDERS",
            {"airtime": "vtpass", "data": "vtpass", "electricity": "vtpass"},
        )
        monkeypatch.setitem(app.config, "VTPASS_BASE_URL", server.url)
        monkeypatch.setitem(app.config, "VTPASS_API_KEY", "test-api-key")
        monkeypatch.setitem(app.config, "VTPASS_TIMEOUT", 1)
        fake.env = {  # type: ignore[attr-defined]
            "BILLS_PROVIDER_AIRTIME": "vtpass",
            "BILLS_PROVIDER_DATA": "vtpass",
            "BILLS_PROVIDER_ELECTRICITY": "vtpass",
            "VTPASS_BASE_URL": server.url,
            "VTPASS_API_KEY": "test-api-key",
            "VTPASS_TIMEOUT": "1",
        }
        yield fake


def captures() -> int:
    return db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind.in_(BILL_KINDS))
    )


def settle(fake: FakeAggregator) -> None:
    run_worker(**fake.env)  # type: ignore[attr-defined]
    db.session.expire_all()


def test_code_000_delivered_captures(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    settle(aggregator)
    bill = bill_of(response)
    assert bill.status == "succeeded" and bill.provider_reference == "17000001"
    assert aggregator.paths() == ["/api/pay"]
    sent = aggregator.requests[0][1]
    assert sent["request_id"] == bill.request_id and sent["serviceID"] == "mtn"
    assert sent["billersCode"] == "08031234567" and sent["amount"] == "1000.00"
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert captures() == 1 and verify_ledger().ok


def test_code_016_failed_releases(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    aggregator.pay_answer = "failed"
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    settle(aggregator)
    bill = bill_of(response)
    assert bill.status == "failed"
    assert db.session.get(Hold, bill.hold_id).status == "released"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert captures() == 0 and verify_ledger().ok


def test_code_099_is_pending_and_requeried_until_final(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    aggregator.pay_answer = "processing"
    aggregator.requery_script = ["processing", "processing"]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    settle(aggregator)
    bill = bill_of(response)
    assert bill.status == "succeeded" and bill.requery_count == 3
    assert aggregator.paths() == ["/api/pay"] + ["/api/requery"] * 3
    assert captures() == 1 and verify_ledger().ok


def test_timeout_is_never_a_refund_requery_finds_it_delivered(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    aggregator.pay_answer = "timeout"
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    settle(aggregator)
    bill = bill_of(response)
    assert bill.status == "succeeded"
    assert aggregator.paths() == ["/api/pay", "/api/requery"]
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert captures() == 1 and verify_ledger().ok


def test_timeout_then_requery_failed_refunds(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    aggregator.pay_answer = "timeout"
    aggregator.requery_answer = "failed"
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    settle(aggregator)
    assert bill_of(response).status == "failed"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    assert captures() == 0 and verify_ledger().ok


def test_webhook_before_the_provider_call_returns(ctx, register, aggregator, web):  # type: ignore[no-untyped-def]
    aggregator.hold_pay = threading.Event()
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    bill = bill_of(response)
    paying = subprocess.Popen(
        [sys.executable, "-m", "lumipay.worker", "bills", "--burst"],
        cwd=ROOT,
        env=worker_env(**aggregator.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert aggregator.pay_arrived.wait(30), "the worker never called the aggregator"
        raw, headers = signed(
            {
                "id": "vtpass-evt-1",
                "type": "transaction-update",
                "data": {
                    "code": "000",
                    "requestId": bill.request_id,
                    "content": {"transactions": {"status": "delivered", "transactionId": "9"}},
                },
            }
        )
        assert web.post("/api/lumipay/v1/webhooks/bills", raw, headers=headers).status_int == 200
        run_worker(**aggregator.env)  # a second worker takes the webhook while the call hangs
        db.session.expire_all()
        assert db.session.get(BillPayment, bill.id).status == "succeeded"
        assert captures() == 1
    finally:
        aggregator.hold_pay.set()
    output, _ = paying.communicate(timeout=60)
    assert paying.returncode == 0, output
    db.session.expire_all()
    assert db.session.get(BillPayment, bill.id).status == "succeeded"
    assert db.session.get(BillPayment, bill.id).needs_attention is False
    assert captures() == 1
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert verify_ledger().ok


def test_meter_verified_by_merchant_verify_and_token_on_the_receipt(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/bills/electricity").forms["electricity-form"]
    form["meter_number"] = "45012340000"
    form["amount"] = "5000"
    form["phone"] = "08031234567"
    refused = form.submit(expect_errors=True)
    assert refused.status_int == 422 and "meter number is not valid" in refused.text
    form = ada.get("/bills/electricity").forms["electricity-form"]
    form["meter_number"] = "45012345678"
    form["amount"] = "5000"
    form["phone"] = "08031234567"
    confirm = form.submit()
    assert "TEST METER OWNER" in confirm.text
    response = confirm.forms["electricity-confirm-form"].submit()
    settle(aggregator)
    bill = bill_of(response)
    assert bill.status == "succeeded" and bill.token == "1234-5678-9012-3456-7890"
    assert "1234-5678-9012-3456-7890" in response.follow().text
    pay = next(body for path, body in aggregator.requests if path == "/api/pay")
    assert (pay["serviceID"], pay["variation_code"]) == ("ikeja-electric", "prepaid")
    assert verify_ledger().ok


def test_data_plans_and_prices_from_service_variations(ctx, register, aggregator):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = ada.get("/bills/data")
    assert "N1000 1.5GB - 30 days · ₦1,000.00" in page.text
    form = page.forms["data-form"]
    form["plan"] = "mtn-data:mtn-1gb-1000"
    form["phone"] = "08031234567"
    response = through_confirm(form.submit())
    settle(aggregator)
    bill = bill_of(response)
    assert (bill.status, bill.amount) == ("succeeded", 100_000)
    pay = next(body for path, body in aggregator.requests if path == "/api/pay")
    assert pay["variation_code"] == "mtn-1gb-1000"
    assert verify_ledger().ok
