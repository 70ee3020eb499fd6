from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model


class Beneficiary(Model):
    """A recipient a customer saved. Only the account number is kept: the name shown is the
    recipient's current masked name, read when the list is shown."""

    __tablename__ = "beneficiaries"
    __table_args__ = (
        UniqueConstraint("owner_id", "account_number", name="uq_beneficiaries_owner_account"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The unique (owner_id, account_number) index serves lookups by owner too.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_number: Mapped[str] = mapped_column(String(10))
    nickname: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
