"""Reconciliation runs and the items each run found."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model
from lumipay.lifecycle import Lifecycle, one_step

MATCHED = "matched"
MISSING_AT_PROVIDER = "missing_at_provider"
MISSING_AT_LUMIPAY = "missing_at_lumipay"
AMOUNT_MISMATCH = "amount_mismatch"
STATUS_MISMATCH = "status_mismatch"
OUTCOMES = (MATCHED, MISSING_AT_PROVIDER, MISSING_AT_LUMIPAY, AMOUNT_MISMATCH, STATUS_MISMATCH)
EXCEPTIONS = OUTCOMES[1:]
OUTCOME_LABELS = {
    MATCHED: "Matched",
    MISSING_AT_PROVIDER: "Missing at provider",
    MISSING_AT_LUMIPAY: "Missing at Lumipay",
    AMOUNT_MISMATCH: "Amount mismatch",
    STATUS_MISMATCH: "Status mismatch",
}


class RunStatus(StrEnum):
    QUEUED = "queued"
    COMPLETED = "completed"
    FAILED = "failed"


QUEUED, COMPLETED, FAILED = RunStatus.QUEUED, RunStatus.COMPLETED, RunStatus.FAILED
# A run is queued, then done by its job once.
TRANSITIONS = one_step(QUEUED, COMPLETED, FAILED)


class ReconciliationRun(
    Lifecycle, Model, what="reconciliation run", statuses=RunStatus, transitions=TRANSITIONS
):
    """One reconciliation of a provider over a date range, queued then completed by a job."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (CheckConstraint("end_on >= start_on", name="range_ordered"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), index=True)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # outcome -> {"count", "ours", "theirs"} (amounts in minor units, NGN unless noted)
    totals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def count(self, outcome: str) -> int:
        return int((self.totals or {}).get(outcome, {}).get("count", 0))

    @property
    def exceptions(self) -> int:
        return sum(self.count(outcome) for outcome in EXCEPTIONS)


class ReconciliationItem(Model):
    """One of our records or one report line, and how it matched."""

    __tablename__ = "reconciliation_items"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('matched', 'missing_at_provider', 'missing_at_lumipay', "
            "'amount_mismatch', 'status_mismatch')",
            name="outcome_known",
        ),
        Index("ix_reconciliation_items_run_id_outcome", "run_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    outcome: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    our_amount: Mapped[int | None] = mapped_column(BigInteger)
    provider_amount: Mapped[int | None] = mapped_column(BigInteger)
    our_status: Mapped[str | None] = mapped_column(String(16))
    provider_status: Mapped[str | None] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)

    @property
    def is_exception(self) -> bool:
        return self.outcome != MATCHED
