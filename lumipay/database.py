"""Column types, clocks and the unit of work shared by every domain."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import BigInteger, ColumnElement, DateTime, Select, Uuid, event, select, text
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import mapped_column
from sqlalchemy.pool import Pool

from lumipay.extensions import db

T = TypeVar("T")


class _Keyed(Protocol):
    id: Any


K = TypeVar("K", bound=_Keyed)

# Every surrogate key is a BIGINT identity; every time a timestamptz.
BigIntPK = BigInteger()
UTCDateTime = DateTime(timezone=True)


def newest(model: type[K], *criteria: ColumnElement[bool], limit: int) -> list[K]:
    """The rows of `model` that match `criteria`, newest (highest id) first, at most `limit`."""
    query = select(model).where(*criteria).order_by(model.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def _for_update(
    model: type[T], criteria: tuple[Any, ...], *, key_share: bool, skip_locked: bool
) -> Select[T]:
    return (
        select(model)
        .where(*criteria)
        .with_for_update(key_share=key_share, skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )


def locked(
    model: type[T], *criteria: Any, key_share: bool = False, skip_locked: bool = False
) -> T | None:
    """The first row of `model` that matches `criteria`, locked and re-read under the lock, or
    None.

    Every matching row is locked (FOR UPDATE; FOR NO KEY UPDATE with `key_share`, which lets a
    row with a foreign key to it be inserted meanwhile). `populate_existing` makes the session
    take the row as read under the lock, not the copy it may already hold from before it.
    """
    query = _for_update(model, criteria, key_share=key_share, skip_locked=skip_locked)
    return db.session.scalars(query).first()


def locked_one(model: type[T], *criteria: Any, key_share: bool = False) -> T:
    """`locked` for a row that must be there: raises NoResultFound (or MultipleResultsFound)
    otherwise."""
    query = _for_update(model, criteria, key_share=key_share, skip_locked=False)
    return db.session.scalars(query).one()


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


# No pool_pre_ping (a round trip before every request's first statement): the pool recycles
# connections (SQLALCHEMY_ENGINE_OPTIONS' pool_recycle), and a unit of work whose very first
# statement finds its pooled connection dead (the server restarted, a proxy dropped it) is run
# again on a new one: nothing of it reached the database. A connection that dies later in the
# work is not retried here (what ran may be unknown): the customer is asked to try again.
_FRESH = "lumipay_fresh_checkout"


@event.listens_for(Pool, "checkout")
def _checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    record.info[_FRESH] = True


@event.listens_for(Engine, "after_cursor_execute")
def _used(conn: Any, *_args: Any) -> None:
    conn.info.pop(_FRESH, None)


@event.listens_for(Engine, "handle_error")
def _mark_stale(context: ExceptionContext) -> None:
    conn = context.connection
    if context.is_disconnect and conn is not None and conn.info.get(_FRESH):
        context.sqlalchemy_exception.stale_connection = True  # type: ignore[union-attr]


@event.listens_for(Pool, "checkin")
def _no_autocommit_left(dbapi_connection: Any, _record: Any) -> None:
    # A connection goes back to the pool transactional, however `run_alone` ended.
    if dbapi_connection is not None and getattr(dbapi_connection, "autocommit", False):
        dbapi_connection.autocommit = False


class PreparedStatement:
    """A hot statement planned once per connection: PREPAREd on the connection the first time
    it runs there, then EXECUTEd by name (psycopg2 sends each statement as text, which the
    server would parse and plan again every time).

    Built from a SQLAlchemy statement with named bind parameters, once at import; the call
    binds the same names with the same types, so values go through the same conversions. The
    prepared name lives in the pooled connection's `info`: a connection the pool replaces
    starts without it. (Behind a transaction-pooling proxy, which moves sessions between
    server connections, prepared statements don't hold: Lumipay connects to PostgreSQL
    directly.)"""

    def __init__(self, name: str, statement: Any) -> None:
        from sqlalchemy.dialects.postgresql import psycopg2 as pg

        compiled = statement.compile(dialect=pg.dialect())
        order: list[str] = []

        def positional(match: re.Match[str]) -> str:
            if match.group(1) not in order:
                order.append(match.group(1))
            return f"${order.index(match.group(1)) + 1}"

        # `%%` stays as compiled: the driver formats the PREPARE as it does every statement
        # SQLAlchemy sends, parameters or not, and turns it back into `%`.
        body = re.sub(r"%\((\w+)\)s", positional, compiled.string)
        binds = {key: bind for bind, key in compiled.bind_names.items()}
        # Each parameter's type said, as the statement binds it (a bare `SELECT $1` in an
        # INSERT's select list would be taken for text), without lengths: the columns check
        # those, as they did.
        types = ", ".join(
            re.sub(r"\(\d+\)", "", binds[key].type.compile(dialect=pg.dialect())) for key in order
        )
        if PREPARED_BODIES.setdefault(name, body) != body:
            raise ValueError(f"two statements would be prepared as {name}")
        self.name = name
        self.body = f"({types}) AS {body}"
        self._call = f"EXECUTE {name}(" + ", ".join(f"%({key})s" for key in order) + ")"
        self._types = [(key, binds[key].type) for key in order]
        # The statement's own constants (a kind, a status) keep their values.
        self._constants = {key: binds[key].value for key in order if binds[key].value is not None}
        self._processors: list[tuple[str, Any]] | None = None
        self._generation = 0

    def execute(self, params: dict[str, Any], *, on: Connection | None = None) -> Any:
        """Run it on the session's connection (or `on`, one of `run_alone`'s) with `params`
        (the statement's bind names), converted by the same column types as SQLAlchemy's own
        execution would."""
        connection = db.session.connection() if on is None else on
        if self._processors is None:
            dialect = connection.dialect
            self._processors = [(key, kind.bind_processor(dialect)) for key, kind in self._types]
        # Per name, the generation of the statement this connection prepared (see below).
        prepared = connection.info.setdefault(_PREPARED, {})
        generation = prepared.get(self.name)
        if generation != self._generation:
            if generation is not None:
                connection.exec_driver_sql(f"DEALLOCATE {self.name}")
            connection.exec_driver_sql(f"PREPARE {self.name} {self.body}")
            prepared[self.name] = self._generation
        values = {**self._constants, **params}
        try:
            return connection.exec_driver_sql(
                self._call,
                {
                    key: values[key] if convert is None else convert(values[key])
                    for key, convert in self._processors
                },
            )
        except DBAPIError as exc:
            # A migration changed what the statement returns (a column's type, a table's
            # columns): PostgreSQL refuses the prepared statement from then on, on every
            # connection that prepared it, and never plans it again itself. A new generation:
            # each connection prepares it again before its next use, and this transaction
            # runs again.
            if getattr(exc.orig, "pgcode", None) == _FEATURE_NOT_SUPPORTED and (
                "cached plan must not change result type" in str(exc.orig)
            ):
                if prepared.get(self.name) == self._generation:
                    self._generation += 1
                exc.stale_connection = True  # type: ignore[attr-defined]
            raise


_PREPARED = "lumipay_prepared"
# What each prepared statement runs, by name: one name is one statement, and an
# `EXECUTE name(...)` seen on the wire says nothing of its own (the fault tests read it here).
PREPARED_BODIES: dict[str, str] = {}


_FEATURE_NOT_SUPPORTED = "0A000"


def is_stale_connection(exc: BaseException) -> bool:
    """True when a pooled connection was found dead by the first statement sent on it, or a
    statement prepared on it went stale under a migration: both go through when run again."""
    return bool(getattr(exc, "stale_connection", False))


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


def run_alone(work: Callable[[Connection], T], *, attempts: int = 5) -> T:
    """Run `work`, one statement, as its own transaction on a pooled connection of its own.

    A unit of work that is one statement needs no BEGIN and no COMMIT: in psycopg2's
    autocommit the statement is the transaction, all of it or none. Without the session's
    machinery (its transaction, its identity map, neither of which one statement uses) the
    unit of work costs half the Python (about 55 µs of CPU instead of 110 for one statement,
    measured here). Whatever the session holds is untouched: a caller
    whose work belongs in the session's transaction uses `run_in_transaction`. A deadlock, a
    serialization failure or a pooled connection found dead runs `work` again, as there.
    """
    for attempt in range(1, attempts + 1):
        try:
            with db.engine.connect() as connection:
                dbapi_connection = connection.connection.dbapi_connection
                assert dbapi_connection is not None  # a checked-out connection has its driver's
                # Back to transactional when the pool takes it back (`_no_autocommit_left`).
                dbapi_connection.autocommit = True
                return work(connection)
        except BaseException as exc:
            if _again(exc, attempt, attempts):
                continue
            raise
    raise AssertionError("unreachable")


def _again(exc: BaseException, attempt: int, attempts: int) -> bool:
    """Whether a unit of work that failed with `exc` runs again: a deadlock, a serialization
    failure or a dead pooled connection, while attempts remain, after a short random wait."""
    if attempt < attempts and (is_retryable(exc) or is_stale_connection(exc)):
        time.sleep(random.uniform(0, 0.01 * 2**attempt))
        return True
    return False


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
            if _again(exc, attempt, attempts):
                continue
            raise
        for deliver in AFTER_COMMIT:
            deliver()
        return result
    raise AssertionError("unreachable")
