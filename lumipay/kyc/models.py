from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model
from lumipay.lifecycle import Lifecycle, one_step

IDENTITY = "identity"  # BVN or NIN and an ID document: lifts Tier 1 to Tier 2
ADDRESS = "address"  # proof of address: lifts Tier 2 to Tier 3


class KycStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


PENDING, APPROVED, REJECTED = KycStatus.PENDING, KycStatus.APPROVED, KycStatus.REJECTED
# An admin decides once.
TRANSITIONS = one_step(PENDING, APPROVED, REJECTED)


class KycSubmission(
    Lifecycle, Model, what="KYC submission", statuses=KycStatus, transitions=TRANSITIONS
):
    """Documents a customer sent to move up a tier, and an admin's decision on them.

    The BVN or NIN is kept masked (for people to recognise) and as a keyed hash (to spot one
    number behind two customers); the full number is never stored. The document itself lives in
    the storage backend under a random key; `document_type` is the type sniffed from its bytes.
    """

    __tablename__ = "kyc_submissions"
    __table_args__ = (
        CheckConstraint("kind IN ('identity', 'address')", name="kind_known"),
        CheckConstraint("target_tier BETWEEN 2 AND 3", name="target_tier_known"),
        CheckConstraint("id_type IS NULL OR id_type IN ('bvn', 'nin')", name="id_type_known"),
        # One submission of each kind waits for review at a time.
        Index(
            "uq_kyc_submissions_one_pending",
            "user_id",
            "kind",
            unique=True,
            postgresql_where=text(f"status = '{KycStatus.PENDING.value}'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    target_tier: Mapped[int] = mapped_column(Integer)
    id_type: Mapped[str | None] = mapped_column(String(3))
    id_number_masked: Mapped[str | None] = mapped_column(String(11))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    document_key: Mapped[str] = mapped_column(String(64), unique=True)
    document_type: Mapped[str] = mapped_column(String(32))
    document_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str | None] = mapped_column(String(300))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
