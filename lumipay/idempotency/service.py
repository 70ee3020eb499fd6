"""Run a mutating request at most once per key.

The key is claimed in the same database transaction as the work it guards, so the claim and the
money movement commit together or not at all. The claim is an INSERT … ON CONFLICT DO NOTHING:
a concurrent twin waits on the unique index until the first commits, then inserts nothing and
returns the first outcome. A failed attempt (refused by a business rule) rolls back its claim,
so the same key may be tried again.

The JSON API keeps Stripe's contract on top (see `Replayable`): the first response's status and
body are stored with the claim, in the same transaction, and replayed for 24 hours
(`IDEMPOTENCY_TTL_SECONDS`); a twin still in flight is refused at once (409) instead of waiting.
Endpoints whose service takes no key use `begin_request` / `finish_request` / `abandon_request`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, true, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ColumnElement

from lumipay import clock, settings
from lumipay.database import as_utc, run_in_transaction
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


# The value of a payload's "step_up" when the request skipped its one-time factors because it
# repeats a completed one (lumipay.auth.debits): such a request may only replay, never claim,
# and it matches the first whatever step-up was decided for it then.
REPLAY_ONLY = "replay-only"


class ReplayExpired(IdempotencyError):
    """A repeat skipped its one-time code, but there is nothing left to replay (HTTP 422)."""

    status = 422


def _prints(payload: dict[str, Any], scoped: str | None) -> tuple[str, set[str]]:
    """(the fingerprint to store, every fingerprint a stored claim may have to replay)."""
    base = {"scope": scoped, **payload} if scoped is not None else dict(payload)
    if payload.get("step_up") != REPLAY_ONLY:
        print_ = fingerprint(base)
        return print_, {print_}
    variants = {fingerprint({**base, "step_up": decided}) for decided in (True, False)}
    return "", variants


def fingerprint(payload: dict[str, Any]) -> str:
    """A stable hash of what the request asked for."""
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def claim_if(condition: ColumnElement[bool]) -> ReturningInsert[Any]:
    """The claim: insert the key unless a committed row already holds it (returns its id),
    and only where `condition` holds: a statement that claims its key beside its work claims
    it only once its own checks pass, so a refused request leaves the key free."""
    table = cast(Table, IdempotencyRecord.__table__)
    columns = ("owner_id", "key", "scope", "fingerprint", "outcome", "created_at")
    return (
        postgresql.insert(table)
        .from_select(
            list(columns),
            select(
                *(bindparam(f"claim_{name}", type_=table.c[name].type) for name in columns)
            ).where(condition),
        )
        .on_conflict_do_nothing(index_elements=["owner_id", "key"])
        .returning(table.c.id)
    )


# Built once, for a claim that stands alone or is the work's only condition.
CLAIM = claim_if(true())


def _claim_params(
    owner_id: int, key: str, scope: str, print_: str, outcome: str | None
) -> dict[str, Any]:
    return {
        "claim_owner_id": owner_id,
        "claim_key": key,
        "claim_scope": scope,
        "claim_fingerprint": print_,
        "claim_outcome": outcome,
        "claim_created_at": clock.now(),
    }


def _claim(owner_id: int, key: str, scope: str, print_: str, outcome: str | None) -> bool:
    """Insert the key; False when a committed row already holds it."""
    params = _claim_params(owner_id, key, scope, print_, outcome)
    return db.session.execute(CLAIM, params).first() is not None


@dataclass(frozen=True)
class Claim:
    """A page form's key claimed inside the caller's own statement (`claim_if` as a CTE, with
    `params`), so the claim and the work travel in one round trip (a transfer: its read, the
    claim, the posting, the transfer row and the audit row). The statement runs its work only
    when the claim returned a row; otherwise `replay` gives the first outcome (or refuses),
    exactly as `run_once` does."""

    owner_id: int
    key: str
    scope: str
    fingerprint: str
    outcome: str

    def params(self) -> dict[str, Any]:
        return _claim_params(self.owner_id, self.key, self.scope, self.fingerprint, self.outcome)

    def replay(self) -> str:
        return _replay(self.owner_id, self.key, self.scope, {self.fingerprint})

    def replay_if_taken(self) -> str | None:
        """`replay` when a committed request already holds the key, else None. For a statement
        whose own checks refused it before it could claim: a repeat of a request that went
        through may fail checks the first passed (the money it moved has left), and a repeat
        must get the first outcome, not a refusal."""
        if _record(self.owner_id, self.key) is None:
            return None
        return self.replay()


def claim_in_statement(
    owner_id: int, key: str, scope: str, payload: dict[str, Any], outcome: str
) -> Claim | None:
    """A `Claim` for a page form's request, or None when it must go through `run_once` (a
    repeat that may only replay). Raises IdempotencyError for a malformed key."""
    if not KEY_PATTERN.match(key or ""):
        raise IdempotencyError("This form has expired. Please start again.")
    print_, _ = _prints(payload, None)
    if not print_:
        return None
    return Claim(owner_id, key, scope, print_, outcome)


def _record(owner_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )


def _replay(owner_id: int, key: str, scope: str, prints: set[str]) -> str:
    record = _record(owner_id, key)
    if record is None or record.outcome is None:
        raise RequestInFlight("This request is still being processed. Refresh in a moment.")
    if record.scope != scope or record.fingerprint not in prints:
        raise KeyReused(
            "This form was already submitted with different details. Start again from a fresh form."
        )
    return record.outcome


@dataclass(frozen=True)
class Replayable:
    """A JSON API request: `respond(outcome)` builds its (status, body), stored with the claim."""

    respond: Callable[[str], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def _forget_expired(owner_id: int, key: str) -> None:
    """A key older than the replay window may be used again, as on Stripe."""
    cutoff = clock.now() - timedelta(seconds=settings.api().idempotency_ttl_seconds)
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at < cutoff,
        )
    )


def _refuse_twin(owner_id: int, key: str) -> None:
    """A transaction-scoped advisory lock on the key, taken without waiting.

    The first request holds it until it commits; a twin arriving meanwhile gets 409 instead of
    queueing on the unique index.
    """
    got = db.session.scalar(
        select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{owner_id}:{key}", 0)))
    )
    if not got:
        raise RequestInFlight("A request with this Idempotency-Key is still being processed.")


def run_once(
    owner_id: int,
    key: str,
    scope: str,
    payload: dict[str, Any],
    outcome: str,
    work: Callable[[], None],
    *,
    replayable: Replayable | None = None,
) -> tuple[str, bool]:
    """Run `work` once for (`owner_id`, `key`) and commit; return (outcome, replayed).

    `outcome` is what a repeat of the request gets back instead of running again (e.g. the
    reference `work` will write); it is stored with the claim, before `work` runs. With
    `replayable` (the JSON API) the response is stored too, and a twin in flight is refused.
    """
    if not KEY_PATTERN.match(key or ""):
        raise IdempotencyError("This form has expired. Please start again.")
    print_, matching = _prints(payload, scope if replayable else None)

    def attempt() -> tuple[str, bool]:
        if replayable is not None:
            _refuse_twin(owner_id, key)
            _forget_expired(owner_id, key)
        if not print_:
            if _record(owner_id, key) is None:
                raise ReplayExpired("This payment needs confirming again: start from a fresh form.")
            return _replay(owner_id, key, scope, matching), True
        if not _claim(owner_id, key, scope, print_, outcome):
            return _replay(owner_id, key, scope, matching), True
        work()
        if replayable is not None:
            status, body = replayable.respond(outcome)
            db.session.execute(
                update(IdempotencyRecord)
                .where(IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key)
                .values(response_status=status, response_body=body)
            )
        return outcome, False

    return run_in_transaction(attempt)


def stored_response(owner_id: int, key: str) -> StoredResponse | None:
    """The first response kept for this key, if the JSON API stored one."""
    record = _record(owner_id, key)
    if record is None or record.response_status is None:
        return None
    return StoredResponse(record.response_status, record.response_body or {})


def begin_request(
    owner_id: int, key: str, scope: str, payload: dict[str, Any]
) -> StoredResponse | None:
    """Claim a key for an API request whose service takes none; commits the claim at once.

    Returns the stored response of a completed repeat (to replay), None when the caller should
    run the request and then call `finish_request` (or `abandon_request` if it was refused).
    A claim left without a response for `IDEMPOTENCY_STALE_SECONDS` (its process died) is taken
    over: these services are safe to run again (opening a wallet twice is refused, a quote is
    converted once).
    """
    if not KEY_PATTERN.match(key or ""):
        raise IdempotencyError("The Idempotency-Key must be 16 to 64 letters, digits, - or _.")
    print_ = fingerprint({"scope": scope, **payload})
    stale = timedelta(seconds=settings.api().idempotency_stale_seconds)

    def attempt() -> StoredResponse | None:
        _forget_expired(owner_id, key)
        if _claim(owner_id, key, scope, print_, None):
            return None
        record = _record(owner_id, key)
        if record is None:
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.")
        if record.scope != scope or record.fingerprint != print_:
            raise KeyReused("This Idempotency-Key was already used with a different request.")
        if record.response_status is not None:
            return StoredResponse(record.response_status, record.response_body or {})
        if clock.now() - as_utc(record.created_at) < stale:
            raise RequestInFlight("A request with this Idempotency-Key is still being processed.")
        record.created_at = clock.now()
        return None

    return run_in_transaction(attempt)


def finish_request(owner_id: int, key: str, status: int, body: dict[str, Any]) -> None:
    """Keep the response of a request claimed with `begin_request`, for its repeats."""
    run_in_transaction(
        lambda: db.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key)
            .values(outcome="api", response_status=status, response_body=body)
        )
    )


def abandon_request(owner_id: int, key: str) -> None:
    """A claimed request was refused: free the key, as a refused page form frees its key."""
    run_in_transaction(
        lambda: db.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.response_status.is_(None),
            )
        )
    )
