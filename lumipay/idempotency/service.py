"""Run a mutating request at most once per key.

The key is claimed in the same database transaction as the work it guards, so the claim and the
money movement commit together or not at all. A concurrent twin blocks on the unique index until
the first commits, then finds the first outcome and returns it. A failed attempt (refused by a
business rule) writes nothing, so the same key may be tried again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.idempotency.models import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class IdempotencyError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeyReused(IdempotencyError):
    """The key was already used for a different request (HTTP 422)."""

    status = 422


class RequestInFlight(IdempotencyError):
    """A twin with the same key is still being processed (HTTP 409)."""

    status = 409


class _TwinCommittedFirst(Exception):
    pass


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of what the request asked for."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _replay(owner_id: int, key: str, scope: str, print_: str) -> str | None:
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.scope != scope or record.fingerprint != print_:
        raise KeyReused(
            "This form was already submitted with different details. Start again from a fresh form."
        )
    if record.outcome is None:
        raise RequestInFlight("This request is still being processed. Refresh in a moment.")
    return record.outcome


def run_once(
    owner_id: int, key: str, scope: str, payload: dict[str, Any], work: Callable[[], str]
) -> tuple[str, bool]:
    """Run `work` once for (`owner_id`, `key`) and commit; return (outcome, replayed).

    `work` runs inside the transaction and returns a short outcome (e.g. a reference) that a
    repeat of the request gets back instead of running again.
    """
    if not KEY_PATTERN.match(key or ""):
        raise IdempotencyError("This form has expired. Please start again.")
    print_ = fingerprint(payload)

    def attempt() -> tuple[str, bool]:
        prior = _replay(owner_id, key, scope, print_)
        if prior is not None:
            return prior, True
        record = IdempotencyRecord(owner_id=owner_id, key=key, scope=scope, fingerprint=print_)
        db.session.add(record)
        try:
            db.session.flush()
        except IntegrityError as exc:
            raise _TwinCommittedFirst from exc
        record.outcome = work()
        return record.outcome, False

    try:
        return run_in_transaction(attempt)
    except _TwinCommittedFirst:
        prior = _replay(owner_id, key, scope, print_)
        db.session.rollback()
        if prior is None:
            raise RequestInFlight(
                "This request is still being processed. Refresh in a moment."
            ) from None
        return prior, True
