"""Column types, clocks and the unit of work shared by every domain."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime, Uuid, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import mapped_column

from lumipay.extensions import db

T = TypeVar("T")

# Every surrogate key is a BIGINT identity; every time a timestamptz.
BigIntPK = BigInteger()
UTCDateTime = DateTime(timezone=True)


def public_id_column() -> Any:
    """The id the outside world sees (API, page URLs): a random UUID, so it tells nobody how
    many customers or payments exist and can't be enumerated. The sequential primary key stays
    inside the database. New rows get one in Python (known before the flush); the server
    default fills rows written by SQL alone and back-filled the existing ones."""
    return mapped_column(
        Uuid,
        unique=True,
        nullable=False,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
    )


# deadlock_detected, serialization_failure, lock_not_available
RETRYABLE_PGCODES = {"40P01", "40001", "55P03"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """The same instant in UTC.

    PostgreSQL hands a timestamptz back in the session's TimeZone; days, seal hashes and the
    API's times are UTC whatever the server's setting. A naive time names no instant: refused.
    """
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time in Lumipay is timezone-aware")
    return value.astimezone(UTC)


def is_retryable(exc: BaseException) -> bool:
    """True for the transient failures that a second attempt can fix."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "pgcode", None) in RETRYABLE_PGCODES


# Hooks run after `run_in_transaction` commits (or rolls back): the outbox's delivery of the
# jobs the work wrote. Registered by the infrastructure that needs them, in import order.
AFTER_COMMIT: list[Callable[[], None]] = []
AFTER_ROLLBACK: list[Callable[[], None]] = []


def run_in_transaction(work: Callable[[], T], *, attempts: int = 5) -> T:
    """Run `work` and commit it as one database transaction.

    Everything `work` writes commits together or not at all. A deadlock or serialization failure
    rolls back and runs `work` again from the start, so `work` must read what it needs itself.
    Jobs `work` wrote to the outbox are pushed (or run, without Redis) only after the commit:
    the outbox registers itself in `AFTER_COMMIT` / `AFTER_ROLLBACK`, so this kernel module
    imports nothing above it.
    """
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
        except BaseException as exc:
            db.session.rollback()
            for forget in AFTER_ROLLBACK:
                forget()
            if attempt < attempts and is_retryable(exc):
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
                continue
            raise
        for deliver in AFTER_COMMIT:
            deliver()
        return result
    raise AssertionError("unreachable")
