"""Money in and out through banks: reserved accounts, top-ups and payouts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import Model
from lumipay.inflight.models import (
    AWAITING_APPROVAL,
    FAILED,
    PROCESSING,
    REJECTED,
    SUCCEEDED,
    HeldOperation,
    HeldStatus,
)
from lumipay.lifecycle import Lifecycle

__all__ = [
    "AWAITING_APPROVAL",
    "FAILED",
    "PROCESSING",
    "REJECTED",
    "SUCCEEDED",
    "Payout",
    "ReservedAccount",
    "TopUp",
]


class ReservedAccount(Model):
    """A dedicated account number at a provider in the customer's name, one per provider."""

    __tablename__ = "bank_reserved_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", name="uq_bank_reserved_accounts_user_provider"),
        UniqueConstraint(
            "provider", "account_number", name="uq_bank_reserved_accounts_provider_number"
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    provider: Mapped[str] = mapped_column(String(16))
    # Ours, given to the provider; its payments name the account by it.
    account_reference: Mapped[str] = mapped_column(String(40), unique=True)
    account_number: Mapped[str] = mapped_column(String(10))
    account_name: Mapped[str] = mapped_column(String(120))
    bank_name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TopUpStatus(StrEnum):
    PENDING = "pending"
    CREDITED = "credited"
    UNCREDITED = "uncredited"
    REVERSED = "reversed"  # the provider took all of it back (lumipay.bank.reversals)
    # Money that arrived but could not be credited, sent back to the payer by a person.
    RETURNED = "returned"


TOPUP_PENDING, TOPUP_CREDITED = TopUpStatus.PENDING, TopUpStatus.CREDITED
TOPUP_UNCREDITED, TOPUP_REVERSED = TopUpStatus.UNCREDITED, TopUpStatus.REVERSED
TOPUP_RETURNED = TopUpStatus.RETURNED
TOPUP_TRANSITIONS: dict[str, frozenset[str]] = {
    TOPUP_PENDING: frozenset({TOPUP_CREDITED, TOPUP_UNCREDITED}),
    # Worked by hand (maker-checker, lumipay.settlements): credited once the customer can
    # hold it, or returned to the payer.
    TOPUP_UNCREDITED: frozenset({TOPUP_CREDITED, TOPUP_RETURNED}),
    TOPUP_CREDITED: frozenset({TOPUP_REVERSED}),
    TOPUP_REVERSED: frozenset(),
    TOPUP_RETURNED: frozenset(),
}


class TopUp(Lifecycle, Model, what="top-up", statuses=TopUpStatus, transitions=TOPUP_TRANSITIONS):
    """Money coming in. `pending` until the provider reports a payment, then `credited` with
    what was actually paid. A payment nobody asked for (into a reserved account) gets a row of
    its own, created credited. `uncredited`: money received that could not be credited (a
    currency the customer can't hold), left for a person, who credits or returns it."""

    __tablename__ = "bank_topups"
    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("amount_paid IS NULL OR amount_paid > 0", name="amount_paid_positive"),
        CheckConstraint("method IN ('reserved_account', 'checkout')", name="method_known"),
        # Exactly once per provider transaction: the database refuses a second credit.
        UniqueConstraint(
            "provider", "provider_reference", name="uq_bank_topups_provider_reference"
        ),
        Index("ix_bank_topups_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    provider: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3), default="NGN")
    amount: Mapped[int | None] = mapped_column(BigInteger)  # asked for; None when unsolicited
    status: Mapped[str] = mapped_column(String(16), default=TOPUP_PENDING)
    reserved_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_reserved_accounts.id"))
    checkout_url: Mapped[str | None] = mapped_column(String(300))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    amount_paid: Mapped[int | None] = mapped_column(BigInteger)
    currency_paid: Mapped[str | None] = mapped_column(String(3))
    payer: Mapped[str | None] = mapped_column(String(120))
    # Set when what arrived differs from what was asked: credited as paid, for reconciliation.
    flagged_reason: Mapped[str | None] = mapped_column(String(200))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def move_to(self, target: str) -> None:
        super().move_to(target)
        if target == TOPUP_CREDITED:
            self.credited_at = utcnow()


class PayoutStatus(StrEnum):
    """A payout goes through every held-operation status."""

    AWAITING_APPROVAL = HeldStatus.AWAITING_APPROVAL.value
    PROCESSING = HeldStatus.PROCESSING.value
    SUCCEEDED = HeldStatus.SUCCEEDED.value
    FAILED = HeldStatus.FAILED.value
    REJECTED = HeldStatus.REJECTED.value


PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    AWAITING_APPROVAL: frozenset({PROCESSING, REJECTED}),
    PROCESSING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    REJECTED: frozenset(),
}


class Payout(
    HeldOperation, Model, what="payout", statuses=PayoutStatus, transitions=PAYOUT_TRANSITIONS
):
    """Money going out to a bank account. Held from the request; captured on `succeeded`,
    released on `failed` or `rejected` (by an admin, or by time while awaiting approval).
    `processing` means approved and with the provider: its hold never ends by time."""

    __tablename__ = "bank_payouts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        Index("ix_bank_payouts_user_id_id", "user_id", "id"),
        Index("ix_bank_payouts_status_next_requery_at", "status", "next_requery_at"),
    )

    public_id: Mapped[uuid.UUID] = public_id_column()
    provider: Mapped[str] = mapped_column(String(16))
    bank_code: Mapped[str] = mapped_column(String(8))
    bank_name: Mapped[str] = mapped_column(String(60))
    account_number: Mapped[str] = mapped_column(String(10))
    account_name: Mapped[str] = mapped_column(String(120))
    narration: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(200))
