"""Run a mutating request at most once per key.

The key is claimed in the same database transaction as the work it guards, so the claim and the
money movement commit together or not at all. The claim is an INSERT … ON CONFLICT DO NOTHING:
a concurrent twin waits on the unique index until the first commits, then inserts nothing and
returns the first outcome. A failed attempt (refused by a business rule) rolls back its claim,
so the same key may be tried again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from lumipay.database import run_in_transaction, utcnow
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


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of what the request asked for."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _claim(owner_id: int, key: str, scope: str, print_: str, outcome: str) -> bool:
    """Insert the key; False when a committed row already holds it."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = db.session.execute(
        dialect.insert(IdempotencyRecord)
        .values(
            owner_id=owner_id,
            key=key,
            scope=scope,
            fingerprint=print_,
            outcome=outcome,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["owner_id", "key"])
        .returning(IdempotencyRecord.id)
    ).first()
    return inserted is not None


def _replay(owner_id: int, key: str, scope: str, print_: str) -> str:
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
        )
    )
    if record is None or record.outcome is None:
        raise RequestInFlight("This request is still being processed. Refresh in a moment.")
    if record.scope != scope or record.fingerprint != print_:
        raise KeyReused(
            "This form was already submitted with different details. Start again from a fresh form."
        )
    return record.outcome


def run_once(
    owner_id: int,
    key: str,
    scope: str,
    payload: dict[str, Any],
    outcome: str,
    work: Callable[[], None],
) -> tuple[str, bool]:
    """Run `work` once for (`owner_id`, `key`) and commit; return (outcome, replayed).

    `outcome` is what a repeat of the request gets back instead of running again (e.g. the
    reference `work` will write); it is stored with the claim, before `work` runs.
    """
    if not KEY_PATTERN.match(key or ""):
        raise IdempotencyError("This form has expired. Please start again.")
    print_ = fingerprint(payload)

    def attempt() -> tuple[str, bool]:
        if not _claim(owner_id, key, scope, print_, outcome):
            return _replay(owner_id, key, scope, print_), True
        work()
        return outcome, False

    return run_in_transaction(attempt)
