"""What a provider's settlement report says, line by line, and what we expected of it.

Every provider adapter that settles money with us offers
`settlement_report(start: date, end: date) -> list[SettlementLine]`: bills aggregators and the
bank adapters (top-ups and payouts). Amounts are minor units; `status` is
normalised by the adapter to one of STATUSES.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol


class LineStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    PENDING = "pending"


SUCCEEDED, FAILED, PENDING = LineStatus.SUCCEEDED, LineStatus.FAILED, LineStatus.PENDING
STATUSES = tuple(LineStatus)


@dataclass(frozen=True)
class SettlementLine:
    """One line of a provider's settlement report."""

    provider_ref: str
    reference: str | None  # ours, as the provider knows it (e.g. a bill's request id)
    amount: int  # minor units
    currency: str
    status: str  # succeeded | failed | pending
    kind: str  # e.g. airtime, data, electricity, topup, payout
    settled_on: date


@dataclass(frozen=True)
class OurRecord:
    """One of our records that a provider should settle (a bill, a payout, a top-up)."""

    reference: str  # our business reference, shown to admins
    external_id: str | None  # what the provider knows as ours (a bill's request id)
    provider_ref: str | None
    amount: int
    currency: str
    status: str  # succeeded | failed | pending (our own states mapped onto these)
    kind: str
    day: date


class SettlementReporter(Protocol):
    def settlement_report(self, start: date, end: date) -> list[SettlementLine]:
        """Every line the provider settled (or refused) with us between start and end."""
