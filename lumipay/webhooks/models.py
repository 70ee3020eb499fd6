"""The webhook inbox: every verified delivery, stored raw before it is processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model


class WebhookEvent(Model):
    """A delivery that passed verification. The (channel, event id) pair is never seen twice."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id", name="uq_webhook_events_channel_event_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(100))
    event_type: Mapped[str] = mapped_column(String(64))
    raw_body: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # processed | ignored (no handler for the channel yet) | unhandled (not understood: flagged)
    # | failed (its data could not be applied: `failure` says why, and the back office lists it
    # until a person looks)
    outcome: Mapped[str | None] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(String(300))
