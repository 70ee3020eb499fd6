"""The asynchronous backbone under faults: a worker killed mid-job, Redis down while a customer
pays, a rolled-back transaction's jobs, the rq cron schedule, and /metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from lumipay.bills.models import BillPayment
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.fx.models import FxRate
from lumipay.jobs import outbox
from lumipay.jobs.models import OutboxMessage
from lumipay.ledger.models import Hold, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from tests.integration.helpers.bills import (
    ROOT,
    FakeAggregator,
    kill_worker,
    start_worker,
    wait_for,
    worker_env,
)
from tests.integration.helpers.bills import run_worker as run_worker
from tests.integration.test_bills import balances_on_dashboard, bill_of, buy_airtime
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_vtpass_bills import aggregator as aggregator
from tests.integration.test_vtpass_bills import captures

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/11"


def unpushed() -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.pushed_at.is_(None))
    )


def test_worker_killed_mid_job_re_runs_and_money_moves_once(
    ctx, register, aggregator, app, redis_clean, monkeypatch
):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "JOB_RETRY_BACKOFF", [0, 0, 0])
    fake: FakeAggregator = aggregator
    fake.hold_pay = threading.Event()
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    bill = bill_of(response)
    worker = start_worker(**fake.env)  # type: ignore[attr-defined]
    try:
        assert fake.pay_arrived.wait(30), "the worker never called the aggregator"
    finally:
        kill_worker(worker)
        fake.hold_pay.set()
    db.session.expire_all()
    killed = db.session.get(BillPayment, bill.id)
    assert killed.status == "processing" and killed.submitted_at is not None
    assert db.session.get(Hold, bill.hold_id).status == "active"
    assert captures() == 0 and verify_ledger().ok

    # RQ's maintenance pass finds the abandoned job (here with the clock moved past its
    # timeout) and, the job having retries left, puts it back on its queue.
    StartedJobRegistry("bills", connection=redis_clean).cleanup(timestamp=9_999_999_999)
    assert Queue("bills", connection=redis_clean).count == 1
    run_worker(**fake.env)  # type: ignore[attr-defined]

    db.session.expire_all()
    assert db.session.get(BillPayment, bill.id).status == "succeeded"
    # The re-run asked what became of the request instead of paying again.
    assert fake.paths() == ["/api/pay", "/api/requery"]
    assert captures() == 1
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert verify_ledger().ok


def test_redis_down_while_paying_accepts_then_the_relay_delivers(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "REDIS_URL", CLOSED_PORT_REDIS)
    response = buy_airtime(ada, "08031234567", "1000")
    assert response.status_int == 303
    assert "Processing" in response.follow().text
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦99,000.00")
    assert unpushed() == 1
    assert verify_ledger().ok

    monkeypatch.setitem(app.config, "REDIS_URL", worker_env()["REDIS_URL"])
    assert outbox.relay(older_than_seconds=0) == 1
    assert unpushed() == 0
    run_worker()
    db.session.expire_all()
    assert bill_of(response).status == "succeeded"
    assert balances_on_dashboard(ada) == ("₦99,000.00", "₦99,000.00")
    assert verify_ledger().ok


def test_flask_jobs_relay_command_pushes_what_was_left(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "REDIS_URL", CLOSED_PORT_REDIS)
    buy_airtime(ada, "08031234567", "1000")
    assert unpushed() == 1
    env = worker_env()
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "relay", "--older-than", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "relayed 1 message(s)" in result.stdout
    assert unpushed() == 0


def test_a_rolled_back_transaction_sends_no_job(ctx, redis_clean):  # type: ignore[no-untyped-def]
    def work() -> None:
        outbox.add("lumipay.jobs.outbox.relay_outbox")
        raise RuntimeError("refused after the job was written")

    with pytest.raises(RuntimeError):
        run_in_transaction(work)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert all(Queue(name, connection=redis_clean).count == 0 for name in ("default", "bills"))


def test_rq_cron_schedule_enqueues_the_periodic_jobs(ctx, redis_clean):  # type: ignore[no-untyped-def]
    procfile = (ROOT / "Procfile").read_text()
    line = re.search(r"^scheduler: (.+)$", procfile, re.M)
    assert line and line.group(1).startswith("rq cron lumipay.schedule")
    env = worker_env()
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    scheduler = subprocess.Popen(
        [rq, "cron", "lumipay.schedule", "--url", env["REDIS_URL"]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                Queue("bills", connection=redis_clean).count
                and Queue("default", connection=redis_clean).count >= 6
            ),
            what="the cron scheduler to enqueue the periodic jobs",
        )
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=30)
    names = sorted(
        job.func_name
        for name in ("bills", "default")
        for job in Queue(name, connection=redis_clean).get_jobs()
    )
    assert names == [
        "lumipay.bills.jobs.sweep_bills",
        "lumipay.cards.jobs.expire_card_authorisations",
        "lumipay.fx.jobs.fx_update",
        "lumipay.jobs.outbox.relay_outbox",
        "lumipay.ledger.jobs.expire_holds",
        "lumipay.ledger.jobs.seal_ledger",
        "lumipay.ledger.jobs.verify_ledger",
    ]
    run_worker()  # and they run on a worker
    assert db.session.scalar(select(func.count(LedgerTransaction.id))) == 0
    assert db.session.scalar(select(func.count(FxRate.id))) == 4  # fx_update fetched rates


def test_metrics_count_requests_jobs_webhooks_and_queue_depth(ctx, register, web):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    buy_airtime(ada, "08031234567", "1000")
    web.post("/api/lumipay/v1/webhooks/bills", b"{}", expect_errors=True)
    before = web.get("/metrics")
    assert before.content_type.startswith("text/plain")
    assert 'lumipay_queue_depth{queue="bills"} 1.0' in before.text
    assert 'lumipay_webhooks_total{channel="bills",outcome="unsigned"}' in before.text
    assert re.search(
        r'lumipay_http_requests_total\{endpoint="bills.airtime_confirm",method="POST",status="303"\}',
        before.text,
    )
    run_worker()
    after = web.get("/metrics").text
    assert 'lumipay_jobs_total{job="submit_bill",outcome="processed"} 1.0' in after
    assert 'lumipay_queue_depth{queue="bills"} 0.0' in after
    assert "lumipay_outbox_unpushed 0.0" in after


def test_stuck_bill_is_flagged_and_still_requeried(ctx, register, app, monkeypatch):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    from lumipay.bills import service

    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031239999", "1000")
    bill = bill_of(response)
    db.session.execute(
        update(BillPayment)
        .where(BillPayment.id == bill.id)
        .values(created_at=BillPayment.created_at - timedelta(hours=1))
    )
    db.session.commit()
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # run the requery right here
    assert service.sweep() == {"flagged": 1, "requeried": 1}
    db.session.expire_all()
    swept = db.session.get(BillPayment, bill.id)
    assert swept.needs_attention is True and swept.status == "succeeded"
    assert verify_ledger().ok
    listed = app.test_cli_runner().invoke(args=["bills", "attention"])
    assert bill.reference in listed.output and "1 bill(s) need attention" in listed.output


def test_metrics_can_require_a_bearer_token(ctx, web, app, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret")
    assert web.get("/metrics", expect_errors=True).status_int == 401
    wrong = {"Authorization": "Bearer nope"}
    assert web.get("/metrics", headers=wrong, expect_errors=True).status_int == 401
    right = {"Authorization": "Bearer scrape-secret"}
    assert "lumipay_http_requests_total" in web.get("/metrics", headers=right).text


def test_hold_expiry_job_keeps_a_bill_at_the_provider_and_a_late_success_captures(
    ctx, register, app, monkeypatch
):  # type: ignore[no-untyped-def]
    """Issue 16: a bill at the provider never ends by time; its money stays held, so a success
    arriving after the hold's expiry is captured, not already back in the customer's hands."""
    from datetime import timedelta

    from sqlalchemy import update

    from lumipay.bills import service
    from lumipay.ledger.jobs import expire_holds
    from lumipay.providers.bills import BillResult, Outcome

    ada = register("Ada Obi")
    bill = bill_of(buy_airtime(ada, "08031239999", "1000"))
    db.session.execute(
        update(Hold)
        .where(Hold.id == bill.hold_id)
        .values(expires_at=Hold.created_at - timedelta(seconds=1))
    )
    db.session.commit()
    assert expire_holds() == 0
    db.session.expire_all()
    assert db.session.get(Hold, bill.hold_id).status == "active"
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦99,000.00")
    assert service.apply_result(bill.reference, BillResult(Outcome.SUCCEEDED)) == "succeeded"
    db.session.expire_all()
    late = db.session.get(BillPayment, bill.id)
    assert late.needs_attention is False and late.transaction_id is not None
    assert captures() == 1 and verify_ledger().ok
