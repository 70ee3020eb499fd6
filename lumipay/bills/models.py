"""A bill payment: one purchase of airtime, data or electricity through a provider."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import db

PROCESSING, SUCCEEDED, FAILED = "processing", "succeeded", "failed"
# The only way a bill's status changes: forward, once.
TRANSITIONS: dict[str, frozenset[str]] = {
    PROCESSING: frozenset({SUCCEEDED, FAILED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
}


# A bill posts under its category as the ledger kind, so history and charts can tell them apart.
BILL_KINDS = ("airtime", "data", "electricity")


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"A bill can't go from {current} to {target}.")
        self.current = current
        self.target = target


class BillPayment(db.Model):
    """The money is held while `processing`, captured on `succeeded`, released on `failed`."""

    __tablename__ = "bill_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("status IN ('processing', 'succeeded', 'failed')", name="status_known"),
        CheckConstraint("category IN ('airtime', 'data', 'electricity')", name="category_known"),
        Index("ix_bill_payments_user_id_id", "user_id", "id"),
        Index("ix_bill_payments_status_next_requery_at", "status", "next_requery_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    # Sent to the provider as its request id: unique, and the same on every retry and requery.
    request_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    category: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(20))
    variation_code: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(120))
    customer_name: Mapped[str | None] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default="NGN")
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PROCESSING)
    hold_id: Mapped[int] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    token: Mapped[str | None] = mapped_column(String(64))
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(String(200), default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requery_count: Mapped[int] = mapped_column(Integer, default=0)
    next_requery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_final(self) -> bool:
        return not TRANSITIONS[self.status]

    @property
    def total(self) -> int:
        return self.amount + self.fee

    def move_to(self, target: str) -> None:
        """Change status through the transition table, or raise IllegalTransition."""
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransition(self.status, target)
        self.status = target
        self.settled_at = utcnow()
