"""The webhook inbox: verified, stored raw, answered fast, processed by a job, exactly once."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from lumipay.bills.models import BILL_KINDS, BillPayment
from lumipay.extensions import db
from lumipay.jobs.models import OutboxMessage
from lumipay.ledger.models import Hold, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.providers import signing
from lumipay.webhooks.models import WebhookEvent
from lumipay.webhooks.service import process_event
from tests.integration.helpers.bills import SECRET, ServerThread, bill_event, run_worker, signed
from tests.integration.test_bills import bill_of, buy_airtime
from tests.integration.test_bills import bills_config as bills_config

URL = "/api/lumipay/v1/webhooks/bills"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.reasons.append(getattr(record, "reason", record.getMessage()))


@pytest.fixture()
def rejections():  # type: ignore[no-untyped-def]
    handler = Records()
    logger = logging.getLogger("lumipay.webhooks.service")
    logger.addHandler(handler)
    yield handler.reasons
    logger.removeHandler(handler)


def pending_bill(register):  # type: ignore[no-untyped-def]
    """A bill on hold whose provider call has not run (no worker yet)."""
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031239999", "1000")
    assert response.status_int == 303
    return ada, bill_of(response)


def state() -> tuple[object, ...]:
    db.session.expire_all()
    return (
        db.session.scalar(select(func.count(WebhookEvent.id))),
        db.session.scalar(select(func.count(OutboxMessage.id))),
        db.session.scalar(select(func.count(LedgerTransaction.id))),
        list(db.session.execute(select(BillPayment.status, BillPayment.hold_id)).all()),
        list(db.session.scalars(select(Hold.status))),
    )


def post(web, raw: bytes, headers: dict[str, str], channel: str = "bills"):  # type: ignore[no-untyped-def]
    return web.post(f"/api/lumipay/v1/webhooks/{channel}", raw, headers=headers, expect_errors=True)


def test_a_signed_delivery_is_stored_raw_and_settles_the_bill_once(ctx, register, web):  # type: ignore[no-untyped-def]
    _, bill = pending_bill(register)
    raw, headers = signed(bill_event(bill.request_id, "failed"))
    response = post(web, raw, headers)
    assert response.status_int == 200 and response.json["status"] == "accepted"
    stored = db.session.scalar(select(WebhookEvent))
    assert stored.raw_body == raw.decode() and stored.processed_at is None
    run_worker()
    db.session.expire_all()
    assert db.session.get(BillPayment, bill.id).status == "failed"
    assert db.session.get(Hold, bill.hold_id).status == "released"
    assert process_event(stored.id) == "processed"  # a second run changes nothing
    assert db.session.get(Hold, bill.hold_id).status == "released"
    assert verify_ledger().ok


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("forged", 401, "forged"),
        ("other-secret", 401, "forged"),
        ("stale", 401, "stale"),
        ("future", 401, "stale"),
        ("unsigned", 401, "unsigned"),
        ("not-json", 400, "malformed"),
        ("no-id", 400, "malformed"),
        ("bad-timestamp", 400, "malformed"),
    ],
)
def test_bad_deliveries_are_refused_change_nothing_and_are_logged(
    ctx, register, web, rejections, case, status, reason
):  # type: ignore[no-untyped-def]
    _, bill = pending_bill(register)
    body = bill_event(bill.request_id, "delivered")
    raw, headers = signed(body)
    if case == "forged":
        raw = raw.replace(b"delivered", b"failed")
    elif case == "other-secret":
        raw, headers = signed(body, secret="not-" + SECRET)
    elif case == "stale":
        raw, headers = signed(body, at=int(time.time()) - 301)
    elif case == "future":
        raw, headers = signed(body, at=int(time.time()) + 301)
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "not-json":
        raw = b"{not json"
        headers = signing.signed_headers(SECRET, int(time.time()), raw)
    elif case == "no-id":
        raw, headers = signed({"type": "bill.completed", "data": body["data"]})
    elif case == "bad-timestamp":
        headers = {**headers, "X-Lumipay-Timestamp": "yesterday"}
    before = state()
    response = post(web, raw, headers)
    assert response.status_int == status
    assert response.json["reason"] == reason
    assert state() == before
    assert db.session.scalar(select(func.count(WebhookEvent.id))) == 0
    assert rejections[-1] == reason


def test_a_replayed_delivery_is_refused_and_changes_nothing(ctx, register, web, rejections):  # type: ignore[no-untyped-def]
    _, bill = pending_bill(register)
    raw, headers = signed(bill_event(bill.request_id, "failed"))
    assert post(web, raw, headers).status_int == 200
    before = state()
    again = post(web, raw, headers)
    assert again.status_int == 400 and again.json["reason"] == "replayed"
    assert state() == before
    assert rejections[-1] == "replayed"


def test_unknown_channel_is_404_and_a_channel_without_a_secret_is_closed(
    ctx, web, app, monkeypatch
):  # type: ignore[no-untyped-def]
    raw, headers = signed({"id": "evt_1", "type": "x", "data": {}})
    assert post(web, raw, headers, channel="nope").status_int == 404
    monkeypatch.setitem(app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": SECRET})
    assert post(web, raw, headers, channel="cards").status_int == 404  # no secret configured
    monkeypatch.setitem(
        app.config, "WEBHOOK_SECRETS", {"bills": SECRET, "bank": SECRET, "cards": SECRET}
    )
    for channel in ("cards", "bank"):
        assert post(web, raw, headers, channel=channel).status_int == 200
        event = db.session.scalar(select(WebhookEvent).where(WebhookEvent.channel == channel))
        # A type the product doesn't act on is kept and flagged, never dropped (issue 17).
        assert process_event(event.id) == "unhandled"


def test_the_same_delivery_ten_times_at_once_over_http_captures_once(ctx, register, app):  # type: ignore[no-untyped-def]
    _, bill = pending_bill(register)
    raw, headers = signed(bill_event(bill.request_id, "delivered"))

    def deliver(url: str) -> int:
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    with ServerThread(app) as server, ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(deliver, [server.url + URL] * 10))
    assert statuses == [200] + [400] * 9
    run_worker()
    db.session.expire_all()
    settled = db.session.get(BillPayment, bill.id)
    assert settled.status == "succeeded"
    captures = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind.in_(BILL_KINDS))
    )
    assert captures == 1
    assert verify_ledger().ok


def test_ten_different_events_for_one_bill_processed_concurrently_capture_once(ctx, register, app):  # type: ignore[no-untyped-def]
    _, bill = pending_bill(register)
    from lumipay.webhooks.service import receive

    for _ in range(10):
        raw, headers = signed(bill_event(bill.request_id, "delivered"))
        receive("bills", raw, headers["X-Lumipay-Timestamp"], headers["X-Lumipay-Signature"])
    ids = list(db.session.scalars(select(WebhookEvent.id)))
    db.session.commit()

    def process(event_pk: int) -> str:
        with app.app_context():
            return process_event(event_pk)

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(process, ids))
    assert outcomes == ["processed"] * 10
    db.session.expire_all()
    assert db.session.get(BillPayment, bill.id).status == "succeeded"
    captures = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind.in_(BILL_KINDS))
    )
    assert captures == 1
    assert verify_ledger().ok
    assert json.loads(db.session.scalar(select(WebhookEvent.raw_body).limit(1)))["type"]
