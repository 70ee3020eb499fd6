"""Side effects leave only after commit: write the job in the transaction, push it after.

`add` writes an outbox row in the caller's transaction and notes its id on the session.
`run_in_transaction` calls `deliver_committed` once the commit has succeeded (and drops the
notes on rollback). A push that fails (Redis down) leaves the row unpushed for `relay`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import ColumnElement, func, select

from lumipay import database, metrics, requestid, settings
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


# Only code that imported this module can have written to the outbox, so registering here
# (rather than the database importing us) never misses a message.
database.AFTER_COMMIT.append(deliver_committed)
database.AFTER_ROLLBACK.append(forget_pending)


def deliver(ids: list[int]) -> int:
    """Push the given unpushed messages; returns how many Redis (or the process) accepted."""
    return _deliver_claimed(OutboxMessage.id.in_(ids))


def _deliver_claimed(*where: ColumnElement[bool], limit: int | None = None) -> int:
    """Claim unpushed messages, push them and mark them pushed, in one transaction.

    The rows are claimed `FOR UPDATE SKIP LOCKED`: a relay racing another relay (or the request
    that wrote them) skips what the other holds, so each message is pushed by one of them only.
    RQ refuses a second job with the message's id besides (`push`), should a crash between the
    push and the commit leave a pushed message unmarked.
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.pushed_at.is_(None), *where)
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    messages = list(db.session.scalars(query.limit(limit) if limit else query))
    if not messages:
        db.session.commit()
        return 0
    if not settings.core().redis_url:
        # In-process jobs commit work of their own: mark every claimed message first.
        due = [(m.func, list(m.args), _remaining(m), m.request_id) for m in messages]
        for message in messages:
            _mark(message, pushed=True)
        db.session.commit()
        for path, args, delay, request_id in due:
            try:
                jobs.run_in_process(path, args, delay, request_id)
            except Exception:
                log.exception("in-process job failed", extra={"job": path})
        return len(due)
    delivered = 0
    for message in messages:
        try:
            jobs.push(
                message.id,
                message.queue,
                message.func,
                list(message.args),
                _remaining(message),
                message.request_id,
            )
        except RedisError as exc:
            log.warning(
                "outbox push failed; the relay will retry",
                extra={"outbox_id": message.id, "error": str(exc)},
            )
            _mark(message, pushed=False)
            continue
        _mark(message, pushed=True)
        delivered += 1
    db.session.commit()
    return delivered


def _remaining(message: OutboxMessage) -> int:
    """A relayed message keeps its original due time rather than waiting its delay again."""
    waited = int((utcnow() - as_utc(message.created_at)).total_seconds())
    return max(message.delay_seconds - waited, 0)


def _mark(message: OutboxMessage, *, pushed: bool) -> None:
    message.attempts += 1
    if pushed:
        message.pushed_at = utcnow()


def relay(older_than_seconds: int = 10, limit: int = 500) -> int:
    """Re-send messages that were committed but never pushed; returns how many went out.

    Only messages older than `older_than_seconds` are taken, so the relay does not race the
    request that is pushing its own message right after commit (and should it, the claim
    decides which of them pushes).
    """
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    delivered = _deliver_claimed(OutboxMessage.created_at <= cutoff, limit=limit)
    if delivered:
        log.info("outbox relay", extra={"delivered": delivered})
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


def backlog() -> tuple[int, float]:
    """The outbox backlog for the metrics endpoint: unpushed count and oldest age."""
    return unpushed_count(), unpushed_oldest_age()


metrics.set_backlog_source(backlog)
