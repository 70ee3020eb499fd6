from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model


class AuditEvent(Model):
    """Who did what, from where. Rows are only ever added."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # "Has money gone to this account before?" (step-up's first payment to a payee,
        # lumipay.auth.debits) is found by the payee, not by reading every row the customer
        # has: a customer's history only grows.
        Index(
            "ix_audit_events_transfer_payee",
            "actor_id",
            text("(details ->> 'to_account_number')"),
            postgresql_where=text("action = 'transfer'"),
        ),
        Index(
            "ix_audit_events_payout_payee",
            "actor_id",
            text("(details ->> 'bank_code')"),
            text("(details ->> 'account_number')"),
            postgresql_where=text("action = 'payout.request'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
