"""What every operation with money held for it shares: its columns and its lifecycle.

A held operation (a bill, a payout) is a business row pointing at one ledger hold. The hold is
placed with the row, in one transaction; the row's status says who has the money's fate: a
person (`awaiting_approval`), the provider (`processing`), or nobody any more (final). The
engine (lumipay.inflight.engine) is the only code that moves these rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.lifecycle import Lifecycle, is_final


class HeldStatus(StrEnum):
    """Where a held operation is. Each record type uses the statuses its transition table
    names (a bill is never awaiting approval)."""

    AWAITING_APPROVAL = "awaiting_approval"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REJECTED = "rejected"


AWAITING_APPROVAL = HeldStatus.AWAITING_APPROVAL
PROCESSING = HeldStatus.PROCESSING
SUCCEEDED = HeldStatus.SUCCEEDED
FAILED = HeldStatus.FAILED
REJECTED = HeldStatus.REJECTED


class HeldOperation(Lifecycle):
    """Columns of a held operation; a model mixes this in, declares its lifecycle in its class
    line (`Lifecycle`) and its own `status` column (lengths differ by table)."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # Ours; unique, and the same on every retry and requery.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3), default="NGN")
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    hold_id: Mapped[int] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(200), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requery_count: Mapped[int] = mapped_column(Integer, default=0)
    next_requery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def total(self) -> int:
        return self.amount + self.fee

    def move_to(self, target: str) -> None:
        """Change status through the transition table, or raise IllegalTransition."""
        super().move_to(target)
        if is_final(self.TRANSITIONS, target):
            self.settled_at = utcnow()
