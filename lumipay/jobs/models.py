"""The outbox: jobs to run after a state change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, utcnow
from lumipay.extensions import Model


class OutboxMessage(Model):
    """One job to hand to the queue once the transaction that wrote it has committed.

    `pushed_at` stays empty until Redis has accepted the job; the relay re-sends every row
    still empty, so a crash or a Redis outage between commit and push loses nothing.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_unpushed", "pushed_at", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    queue: Mapped[str] = mapped_column(String(32))
    func: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The request (or job) that wrote the message: the job runs as part of the same chain.
    request_id: Mapped[str | None] = mapped_column(String(64))
