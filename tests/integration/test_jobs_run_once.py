"""Jobs that run once (issue 17, case 4): the outbox relay claims what it pushes, RQ refuses a
second job for one outbox message, a re-run that hears "not found" from the provider within its
retry window requeries instead of paying again, and a notification is emailed once.

The fake aggregator (a real HTTP server on loopback) accepts a duplicate request id, so every
second call would be a second charge.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask
from rq import Queue
from sqlalchemy import select

from lumipay.auth.models import User
from lumipay.bills import service as bills
from lumipay.bills.models import BillPayment
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.jobs import outbox
from lumipay.ledger.models import Hold
from lumipay.ledger.verify import verify_ledger
from lumipay.notifications import email as mailer
from lumipay.notifications import service as notifications
from lumipay.providers import resend
from tests.integration.helpers.bills import ROOT, FakeAggregator, wait_for, worker_env
from tests.integration.helpers.interleave import run_other_at
from tests.integration.test_bills import bill_of, buy_airtime
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_jobs_and_faults import CLOSED_PORT_REDIS, unpushed
from tests.integration.test_vtpass_bills import aggregator as aggregator
from tests.integration.test_vtpass_bills import captures

WINDOW = {"PROVIDER_RETRY_WINDOW": "300"}


def pays(fake: FakeAggregator) -> int:
    return fake.paths().count("/api/pay")


def release_when(fake: FakeAggregator, done: Any) -> threading.Thread:
    """Hold every charge at the aggregator until `done()` says nothing more can arrive."""
    fake.hold_pay = threading.Event()

    def watch() -> None:
        wait_for(done, timeout=60, what="the charges to settle down")
        fake.hold_pay.set()  # type: ignore[union-attr]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_two_relays_and_two_workers_over_the_same_unpushed_rows_charge_once(
    ctx, register, aggregator, app: Flask, redis_clean, monkeypatch
):  # type: ignore[no-untyped-def]
    fake: FakeAggregator = aggregator
    fake.requery_knows_paid = True  # "unknown" until a charge has gone through its books
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "REDIS_URL", CLOSED_PORT_REDIS)
    bill = bill_of(buy_airtime(ada, "08031234567", "1000"))
    assert unpushed() == 1
    monkeypatch.setitem(app.config, "REDIS_URL", worker_env()["REDIS_URL"])

    gate = threading.Barrier(2)

    def relay() -> int:
        with app.app_context():
            gate.wait(10)
            return outbox.relay(older_than_seconds=0)

    with ThreadPoolExecutor(2) as pool:
        pushed = sorted(pool.map(lambda _: relay(), range(2)))
    queued = Queue("bills", connection=redis_clean).job_ids

    env = worker_env(**fake.env, **WINDOW)  # type: ignore[attr-defined]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "lumipay.worker", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    watcher = release_when(
        fake, lambda: pays(fake) >= 2 or any(w.poll() is not None for w in workers)
    )
    try:
        for worker in workers:
            output, _ = worker.communicate(timeout=120)
            assert worker.returncode == 0, output
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
    watcher.join(5)

    db.session.expire_all()
    assert pays(fake) == 1
    assert pushed == [0, 1] and queued == ["outbox-1"] and unpushed() == 0
    assert bill_of_reference(bill.reference).status == "succeeded"
    assert captures() == 1
    assert verify_ledger().ok


def bill_of_reference(reference: str) -> BillPayment:
    return db.session.scalars(select(BillPayment).where(BillPayment.reference == reference)).one()


def test_a_re_run_that_hears_not_found_within_the_window_requeries_instead_of_paying(
    ctx, register, aggregator, app: Flask
):  # type: ignore[no-untyped-def]
    fake: FakeAggregator = aggregator
    fake.requery_script = ["unknown"]  # the charge in flight isn't on the provider's books yet
    ada = register("Ada Obi")
    reference = bill_of(buy_airtime(ada, "08031234567", "1000")).reference
    outcomes: dict[str, str] = {}

    def run(name: str) -> None:
        with app.app_context():
            outcomes[name] = bills.submit(reference)

    first = threading.Thread(target=run, args=("first",))
    watcher = release_when(fake, lambda: pays(fake) >= 2 or "re-run" in outcomes)
    first.start()
    assert fake.pay_arrived.wait(30), "the first run never called the aggregator"
    rerun = threading.Thread(target=run, args=("re-run",))
    rerun.start()
    rerun.join(60)
    first.join(60)
    watcher.join(5)

    assert outcomes == {"first": "succeeded", "re-run": "processing"}
    assert fake.paths() == ["/api/pay", "/api/requery"]
    db.session.expire_all()
    settled = bill_of_reference(reference)
    assert settled.status == "succeeded" and settled.requery_count == 1
    assert captures() == 1
    assert verify_ledger().ok


class CountingSMTP:
    """smtplib.SMTP's stand-in: counts messages; each waits until no second one can come."""

    sent: list[str]
    release: threading.Event

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> CountingSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        return None

    def login(self, *args: Any) -> None:
        return None

    def send_message(self, message: Any) -> None:
        type(self).sent.append(message["Subject"])
        if len(type(self).sent) >= 2:
            type(self).release.set()
        type(self).release.wait(30)


def test_a_notification_is_emailed_once_when_its_job_runs_twice_at_once(
    ctx, register, app: Flask, monkeypatch
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    user_id = db.session.scalars(select(User.id).where(User.email == ada.email)).one()
    monkeypatch.setitem(app.config, "REDIS_URL", CLOSED_PORT_REDIS)  # the job waits unpushed
    note_id = run_in_transaction(lambda: notifications.notify(user_id, "Bill paid").id)
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_CAPTURE", False)
    CountingSMTP.sent, CountingSMTP.release = [], threading.Event()
    monkeypatch.setattr(mailer.smtplib, "SMTP", CountingSMTP)

    gate = threading.Barrier(2)

    def job() -> None:
        with app.app_context():
            gate.wait(10)
            try:
                notifications.send_email(note_id)
            finally:
                CountingSMTP.release.set()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: job(), range(2)))
    assert CountingSMTP.sent == ["Bill paid"]


def test_a_resend_is_refused_once_a_person_settled_the_bill_while_the_provider_was_asked(
    ctx, register, aggregator, app: Flask, monkeypatch
):  # type: ignore[no-untyped-def]
    """A stuck bill's requery hears "not found" past the provider's retry window, so the bill
    may be sent again; but meanwhile a person settled it as failed (its hold released). The
    resend is claimed under the bill's row lock, so nothing is sent and nothing is charged."""
    fake: FakeAggregator = aggregator
    fake.requery_script = ["unknown"]
    monkeypatch.setitem(app.config, "PROVIDER_RETRY_WINDOW", 0)
    ada = register("Ada Obi")
    reference = bill_of(buy_airtime(ada, "08031234567", "1000")).reference

    def sent_long_ago() -> None:
        bill_of_reference(reference).submitted_at = utcnow() - timedelta(hours=1)

    run_in_transaction(sent_long_ago)

    def person_marks_it_failed() -> None:
        run_in_transaction(
            lambda: bills.settle_by_hand(
                reference, expected="processing", succeeded=False, ledger_reference="ADJ-TEST-1"
            )
        )

    # The person's settlement lands once the provider has said "not found".
    other = run_other_at(monkeypatch, resend, "may_send_again", person_marks_it_failed)
    assert bills.requery(reference) == "failed"
    other.join()

    assert fake.paths() == ["/api/requery"], "a bill a person had settled was sent again"
    db.session.expire_all()
    settled = bill_of_reference(reference)
    assert settled.status == "failed" and captures() == 0
    assert db.session.get(Hold, settled.hold_id).status == "released"
    assert verify_ledger().ok
