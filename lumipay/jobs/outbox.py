"""Side effects leave only after commit: write the job in the transaction, push it after.

`add` writes an outbox row in the caller's transaction and notes its id on the session.
`run_in_transaction` calls `deliver_committed` once the commit has succeeded (and drops the
notes on rollback). A push that fails (Redis down) leaves the row unpushed for `relay`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import func, select, update

from lumipay import requestid
from lumipay.database import as_utc, utcnow
from lumipay.extensions import db
from lumipay.jobs import queue as jobs
from lumipay.jobs.models import OutboxMessage

log = logging.getLogger(__name__)

PENDING_KEY = "lumipay_outbox_pending"


def add(func: str, *args: Any, queue: str = "default", delay: int = 0) -> OutboxMessage:
    """Write a job for after commit; `func` is its dotted path, `args` plain JSON values."""
    jobs.resolve(func)  # a typo fails now, inside the transaction, not later in a worker
    message = OutboxMessage(
        queue=queue,
        func=func,
        args=list(args),
        delay_seconds=delay,
        created_at=utcnow(),
        request_id=requestid.current(),
    )
    db.session.add(message)
    db.session.flush()
    db.session.info.setdefault(PENDING_KEY, []).append(message.id)
    return message


def forget_pending() -> None:
    """The transaction rolled back: its outbox rows never existed."""
    db.session.info.pop(PENDING_KEY, None)


def deliver_committed() -> None:
    """Push (or, without Redis, run) the messages the just-committed transaction wrote."""
    ids = db.session.info.pop(PENDING_KEY, None)
    if ids:
        deliver(ids)


def deliver(ids: list[int]) -> int:
    """Push the given unpushed messages; returns how many Redis (or the process) accepted."""
    rows = db.session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.queue,
            OutboxMessage.func,
            OutboxMessage.args,
            OutboxMessage.delay_seconds,
            OutboxMessage.created_at,
            OutboxMessage.request_id,
        )
        .where(OutboxMessage.id.in_(ids), OutboxMessage.pushed_at.is_(None))
        .order_by(OutboxMessage.id)
    ).all()
    db.session.commit()
    in_process = not current_app.config.get("REDIS_URL")
    delivered = 0
    for message_id, queue_name, path, args, delay, created_at, request_id in rows:
        # A relayed message keeps its original due time rather than waiting its delay again.
        remaining = delay - int((utcnow() - as_utc(created_at)).total_seconds())
        if in_process:
            _mark_pushed(message_id)
            try:
                jobs.run_in_process(path, args, max(remaining, 0), request_id)
            except Exception:
                log.exception("in-process job failed", extra={"job": path})
            delivered += 1
            continue
        try:
            jobs.push(message_id, queue_name, path, args, max(remaining, 0), request_id)
        except RedisError as exc:
            log.warning(
                "outbox push failed; the relay will retry",
                extra={"outbox_id": message_id, "error": str(exc)},
            )
            _count_attempt(message_id)
            continue
        _mark_pushed(message_id)
        delivered += 1
    return delivered


def _mark_pushed(message_id: int) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(pushed_at=utcnow(), attempts=OutboxMessage.attempts + 1)
    )
    db.session.commit()


def _count_attempt(message_id: int) -> None:
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(attempts=OutboxMessage.attempts + 1)
    )
    db.session.commit()


def relay(older_than_seconds: int = 10, limit: int = 500) -> int:
    """Re-send messages that were committed but never pushed; returns how many went out.

    Only messages older than `older_than_seconds` are taken, so the relay does not race the
    request that is pushing its own message right after commit.
    """
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    ids = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.pushed_at.is_(None), OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    db.session.commit()
    if not ids:
        return 0
    delivered = deliver(ids)
    log.info("outbox relay", extra={"found": len(ids), "delivered": delivered})
    return delivered


def unpushed_count() -> int:
    return int(
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.pushed_at.is_(None))
        )
        or 0
    )


def unpushed_oldest_age() -> float:
    """Seconds since the oldest unpushed message was written (0 when none): the relay is
    stuck, or Redis unreachable, when this keeps growing. Read by id through the unpushed index.
    """
    oldest = db.session.scalar(
        select(OutboxMessage.created_at)
        .where(OutboxMessage.pushed_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(1)
    )
    if oldest is None:
        return 0.0
    return max((utcnow() - as_utc(oldest)).total_seconds(), 0.0)


@jobs.job
def relay_outbox() -> int:
    """Periodic (rq cron): push whatever a crash or a Redis outage left behind."""
    return relay()
