"""FX tables: published mid-rates (history) and customers' 30-second quotes."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import Model
from lumipay.lifecycle import Lifecycle, one_step


class FxRate(Model):
    """One fetch of one currency's mid-rate, as units of the currency per 1 USD (exact Decimal).

    Rows are never updated: the newest row per currency is the current rate, the rest is
    history for the chart.
    """

    __tablename__ = "fx_rates"
    __table_args__ = (
        CheckConstraint("per_usd > 0", name="per_usd_positive"),
        Index("ix_fx_rates_currency_fetched_at", "currency", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    per_usd: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuoteStatus(StrEnum):
    OPEN = "open"
    CONVERTED = "converted"


# A quote is converted once; one past its time stays open and is refused by its expiry.
QUOTE_TRANSITIONS = one_step(QuoteStatus.OPEN, QuoteStatus.CONVERTED)


class FxQuote(Lifecycle, Model, what="quote", statuses=QuoteStatus, transitions=QUOTE_TRANSITIONS):
    """A price offered to a customer for converting between two of their wallets.

    The amounts are fixed when the quote is made; confirming posts exactly these amounts, once.
    """

    __tablename__ = "fx_quotes"
    __table_args__ = (
        CheckConstraint("debit_amount > 0", name="debit_positive"),
        CheckConstraint("credit_amount > 0", name="credit_positive"),
        CheckConstraint("fee_amount >= 0", name="fee_not_negative"),
        CheckConstraint("from_currency <> to_currency", name="currencies_differ"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    from_currency: Mapped[str] = mapped_column(String(3))
    to_currency: Mapped[str] = mapped_column(String(3))
    mid_rate: Mapped[Decimal] = mapped_column(Numeric(30, 12))
    rate: Mapped[Decimal] = mapped_column(Numeric(30, 12))
    debit_amount: Mapped[int] = mapped_column(BigInteger)
    credit_amount: Mapped[int] = mapped_column(BigInteger)
    fee_amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=QuoteStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
