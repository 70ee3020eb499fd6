"""Use cases: request a reconciliation run, carry it out (the job), and read the results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from lumipay import clock
from lumipay.audit import service as audit
from lumipay.audit.service import SYSTEM, Origin
from lumipay.database import locked_one, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.jobs import outbox
from lumipay.providers.settlement_report import SUCCEEDED
from lumipay.reconciliation import matching, sources
from lumipay.reconciliation.models import (
    COMPLETED,
    EXCEPTIONS,
    FAILED,
    MATCHED,
    OUTCOMES,
    QUEUED,
    ReconciliationItem,
    ReconciliationRun,
)
from lumipay.refusals import Refused

log = logging.getLogger(__name__)

JOB = "lumipay.reconciliation.jobs.run_reconciliation"
MAX_DAYS = 93


class ReconciliationError(Refused):
    """A reconciliation run was refused; `field` names the form field it belongs to."""


def request_run(
    provider: str, start: date, end: date, *, requested_by: int | None, origin: Origin
) -> int:
    """Queue a run (the job goes through the outbox); returns its id."""
    if sources.source_named(provider) is None:
        raise ReconciliationError("provider", "Choose a provider.")
    if end < start:
        raise ReconciliationError("end", "The end date must be on or after the start date.")
    if (end - start).days >= MAX_DAYS:
        raise ReconciliationError("end", f"Reconcile at most {MAX_DAYS} days at a time.")
    if start > clock.today():
        raise ReconciliationError("start", "The range starts in the future.")

    def work() -> int:
        run = ReconciliationRun(
            provider=provider,
            start_on=start,
            end_on=end,
            status=QUEUED,
            requested_by=requested_by,
            totals={},
            created_at=utcnow(),
        )
        db.session.add(run)
        db.session.flush()
        audit.record(
            "reconciliation.request",
            origin,
            actor_id=requested_by,
            subject=f"reconciliation:{run.id}",
            provider=provider,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        outbox.add(JOB, run.id, queue="default")
        return run.id

    return run_in_transaction(work)


def _totals(found: list[matching.Match]) -> dict[str, Any]:
    totals: dict[str, Any] = {o: {"count": 0, "ours": 0, "theirs": 0} for o in OUTCOMES}
    for m in found:
        row = totals[m.outcome]
        row["count"] += 1
        row["ours"] += m.record.amount if m.record else 0
        row["theirs"] += m.line.amount if m.line else 0
    return totals


def carry_out(run_id: int) -> str:
    """Fetch the provider's report, match it against our records, store the items; once.

    The report is fetched outside any transaction; the items, the totals and the status commit
    together, so a run is either queued or complete, never half-stored. A run already final is
    left alone (the job may run twice).
    """
    run = db.session.get(ReconciliationRun, run_id)
    if run is None or run.status != QUEUED:
        return run.status if run else "missing"
    source = sources.source_named(run.provider)
    start, end = run.start_on, run.end_on
    db.session.commit()
    try:
        if source is None:
            raise LookupError(f"No reconciliation source called {run.provider!r}.")
        lines = source.reporter().settlement_report(start, end)
        records = source.ours(start, end)
    except Exception as exc:
        log.warning("reconciliation failed", extra={"run_id": run_id, "error": str(exc)})
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return _finish(run_id, [], error=str(message)[:300])
    return _finish(run_id, matching.match(records, lines, start, end))


def _finish(run_id: int, found: list[matching.Match], *, error: str = "") -> str:
    def work() -> str:
        run = locked_one(ReconciliationRun, ReconciliationRun.id == run_id)
        if run.status != QUEUED:
            return run.status
        for m in found:
            record, line = m.record, m.line
            db.session.add(
                ReconciliationItem(
                    run_id=run.id,
                    outcome=m.outcome,
                    reference=record.reference if record else line.reference if line else None,
                    provider_ref=line.provider_ref
                    if line
                    else record.provider_ref
                    if record
                    else None,
                    kind=m.kind,
                    currency=m.currency,
                    our_amount=record.amount if record else None,
                    provider_amount=line.amount if line else None,
                    our_status=record.status if record else None,
                    provider_status=line.status if line else None,
                    day=m.day,
                )
            )
        run.totals = _totals(found)
        run.move_to(FAILED if error else COMPLETED)
        run.error = error
        run.finished_at = utcnow()
        return run.status

    return run_in_transaction(work)


def request_nightly(today: date) -> list[int]:
    """The scheduler's nightly runs: every configured provider, for yesterday."""
    day = today - timedelta(days=1)
    return [
        request_run(name, day, day, requested_by=None, origin=SYSTEM)
        for name in sources.nightly_sources()
    ]


# --- reading ------------------------------------------------------------------------------


def runs(before: int | None = None, limit: int = 25) -> tuple[list[ReconciliationRun], int | None]:
    query = select(ReconciliationRun)
    if before:
        query = query.where(ReconciliationRun.id < before)
    rows = list(db.session.scalars(query.order_by(ReconciliationRun.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None


def items(run_id: int, *, exceptions_only: bool = False) -> list[ReconciliationItem]:
    query = select(ReconciliationItem).where(ReconciliationItem.run_id == run_id)
    if exceptions_only:
        query = query.where(ReconciliationItem.outcome.in_(EXCEPTIONS))
    order = {outcome: i for i, outcome in enumerate((*EXCEPTIONS, MATCHED))}
    return sorted(db.session.scalars(query), key=lambda i: (order[i.outcome], i.day, i.id))


# Exceptions are resolved by settlements, a layer above, which registers how to read that:
# item ids -> {item id: (the latest settlement proposal's id, its status)}.
_resolutions: list[Callable[[list[int]], dict[int, tuple[int, str]]]] = []


def use_resolutions(source: Callable[[list[int]], dict[int, tuple[int, str]]]) -> None:
    """Register where the run page reads how each exception was settled."""
    _resolutions[:] = [source]


def resolutions(item_ids: list[int]) -> dict[int, tuple[int, str]]:
    """item id -> (settlement id, its status), the latest proposal for each item."""
    return _resolutions[0](item_ids) if _resolutions and item_ids else {}


@dataclass
class DaySettlement:
    provider: str
    day: date
    expected: int = 0
    settled: int = 0
    run_id: int = 0

    @property
    def outstanding(self) -> int:
        return self.expected - self.settled


def provider_report(start: date, end: date) -> list[DaySettlement]:
    """Per provider per day, from the latest completed run covering that day: what we expected
    the provider to settle (our succeeded records), what it settled, and what is outstanding."""
    found = db.session.scalars(
        select(ReconciliationRun)
        .where(
            ReconciliationRun.status == COMPLETED,
            ReconciliationRun.start_on <= end,
            ReconciliationRun.end_on >= start,
        )
        .order_by(ReconciliationRun.id.desc())
    ).all()
    latest: dict[tuple[str, date], int] = {}
    for run in found:
        day = max(run.start_on, start)
        while day <= min(run.end_on, end):
            latest.setdefault((run.provider, day), run.id)
            day += timedelta(days=1)
    if not latest:
        return []
    rows: dict[tuple[str, date], DaySettlement] = {
        key: DaySettlement(key[0], key[1], run_id=run_id) for key, run_id in latest.items()
    }
    by_run: dict[int, str] = {run.id: run.provider for run in found}
    for item in db.session.scalars(
        select(ReconciliationItem).where(
            ReconciliationItem.run_id.in_(set(latest.values())),
            ReconciliationItem.day >= start,
            ReconciliationItem.day <= end,
        )
    ):
        key = (by_run[item.run_id], item.day)
        row = rows.get(key)
        if row is None or row.run_id != item.run_id:
            continue
        if item.our_status == SUCCEEDED and item.our_amount:
            row.expected += item.our_amount
        if item.provider_status == SUCCEEDED and item.provider_amount:
            row.settled += item.provider_amount
    return sorted(rows.values(), key=lambda r: (r.provider, r.day), reverse=False)


def summary_rows(run: ReconciliationRun) -> list[tuple[str, int, int, int]]:
    """(outcome, count, our amount, provider amount) per outcome, for the page and the CLI."""
    totals = run.totals or {}
    return [
        (
            outcome,
            int(totals.get(outcome, {}).get("count", 0)),
            int(totals.get(outcome, {}).get("ours", 0)),
            int(totals.get(outcome, {}).get("theirs", 0)),
        )
        for outcome in OUTCOMES
    ]
