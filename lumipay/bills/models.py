"""A bill payment: one purchase of airtime, data or electricity through a provider."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import public_id_column
from lumipay.extensions import Model
from lumipay.inflight.models import HeldOperation, HeldStatus
from lumipay.lifecycle import one_step

__all__ = ["FAILED", "PROCESSING", "SUCCEEDED", "BillPayment", "BillStatus"]


class BillStatus(StrEnum):
    """The held-operation statuses a bill uses: it never waits for approval."""

    PROCESSING = HeldStatus.PROCESSING.value
    SUCCEEDED = HeldStatus.SUCCEEDED.value
    FAILED = HeldStatus.FAILED.value


PROCESSING, SUCCEEDED, FAILED = BillStatus.PROCESSING, BillStatus.SUCCEEDED, BillStatus.FAILED

# The only way a bill's status changes: forward, once.
TRANSITIONS = one_step(PROCESSING, SUCCEEDED, FAILED)


# A bill posts under its category as the ledger kind, so history and charts can tell them apart.
BILL_KINDS = ("airtime", "data", "electricity")


class BillPayment(HeldOperation, Model, what="bill", statuses=BillStatus, transitions=TRANSITIONS):
    """The money is held while `processing`, captured on `succeeded`, released on `failed`."""

    __tablename__ = "bill_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("category IN ('airtime', 'data', 'electricity')", name="category_known"),
        Index("ix_bill_payments_user_id_id", "user_id", "id"),
        Index("ix_bill_payments_status_next_requery_at", "status", "next_requery_at"),
    )

    public_id: Mapped[uuid.UUID] = public_id_column()
    # Sent to the provider as its request id: unique, and the same on every retry and requery.
    request_id: Mapped[str] = mapped_column(String(40), unique=True)
    category: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(20))
    variation_code: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(120))
    customer_name: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=PROCESSING)
    token: Mapped[str | None] = mapped_column(String(64))
