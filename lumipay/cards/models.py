"""Virtual cards and what happened on them (authorisations, their clearing, refunds).

A card row keeps the provider's token, the brand, the last four digits and the expiry: never
the full number or the CVV.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import Model
from lumipay.ledger.models import Hold, HoldStatus
from lumipay.lifecycle import Lifecycle


class CardStatus(StrEnum):
    ISSUING = "issuing"
    ACTIVE = "active"
    FROZEN = "frozen"
    TERMINATED = "terminated"
    FAILED = "failed"


ISSUING, ACTIVE, FROZEN = CardStatus.ISSUING, CardStatus.ACTIVE, CardStatus.FROZEN
TERMINATED, FAILED = CardStatus.TERMINATED, CardStatus.FAILED
CARD_TRANSITIONS: dict[str, frozenset[str]] = {
    ISSUING: frozenset({ACTIVE, FAILED, TERMINATED}),
    ACTIVE: frozenset({FROZEN, TERMINATED}),
    FROZEN: frozenset({ACTIVE, TERMINATED}),
    TERMINATED: frozenset(),
    FAILED: frozenset(),
}
CARD_CURRENCIES = ("NGN", "USD")

# A card transaction: an authorisation (approved or declined), one clearing of an
# authorisation (a split shipment clears it several times), or a refund.
AUTHORISATION, CLEARING, REFUND = "authorisation", "clearing", "refund"


class CardTransactionStatus(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    CAPTURED = "captured"
    REVERSED = "reversed"
    REFUNDED = "refunded"
    EXPIRED = "expired"


APPROVED, DECLINED = CardTransactionStatus.APPROVED, CardTransactionStatus.DECLINED
CAPTURED, REVERSED = CardTransactionStatus.CAPTURED, CardTransactionStatus.REVERSED
REFUNDED, EXPIRED = CardTransactionStatus.REFUNDED, CardTransactionStatus.EXPIRED
# An expired authorisation may still be captured: a late clearing is a forced capture (the
# network has paid the merchant).
TXN_TRANSITIONS: dict[str, frozenset[str]] = {
    APPROVED: frozenset({CAPTURED, REVERSED, EXPIRED}),
    EXPIRED: frozenset({CAPTURED}),
    DECLINED: frozenset(),
    CAPTURED: frozenset(),
    REVERSED: frozenset(),
    REFUNDED: frozenset(),
}


class Card(Lifecycle, Model, what="card", statuses=CardStatus, transitions=CARD_TRANSITIONS):
    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("currency IN ('NGN', 'USD')", name="currency_known"),
        CheckConstraint("per_transaction_limit > 0", name="per_transaction_limit_positive"),
        CheckConstraint("monthly_limit > 0", name="monthly_limit_positive"),
        Index("ix_cards_user_id_id", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    # What URLs and the provider see; never the row id.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    label: Mapped[str] = mapped_column(String(40))
    single_use: Mapped[bool] = mapped_column(Boolean, default=False)
    per_transaction_limit: Mapped[int] = mapped_column(BigInteger)
    monthly_limit: Mapped[int] = mapped_column(BigInteger)
    # Comma-separated MCC group keys (lumipay.cards.mcc) the card may be used in.
    allowed_groups: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ISSUING)
    provider: Mapped[str] = mapped_column(String(16))
    provider_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    brand: Mapped[str | None] = mapped_column(String(16))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def groups(self) -> list[str]:
        return [key for key in self.allowed_groups.split(",") if key]

    @property
    def expiry(self) -> str:
        if self.exp_month is None or self.exp_year is None:
            return ""
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"

    def move_to(self, target: str) -> None:
        super().move_to(target)
        if target == TERMINATED:
            self.terminated_at = utcnow()


class CardTransaction(
    Lifecycle,
    Model,
    what="card transaction",
    statuses=CardTransactionStatus,
    transitions=TXN_TRANSITIONS,
):
    """One authorisation (its decision, hold and settlement) or one refund on a card.

    An approved authorisation holds the money until it is captured (clearing), reversed, or
    expired by the card code (lumipay.cards.expiry) past the network's window. Each clearing
    is a child row (`parent_id`) keyed by the network's clearing id; the authorisation's
    `captured_amount` is what its clearings captured in all.
    """

    __tablename__ = "card_transactions"
    __table_args__ = (
        CheckConstraint("kind IN ('authorisation', 'clearing', 'refund')", name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_card_transactions_card_id_created_at", "card_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    # The issuer's id for this authorisation or refund; clearing and reversal refer to it.
    provider_reference: Mapped[str] = mapped_column(String(64), unique=True)
    # The webhook delivery that created it: a repeat of that delivery gets this row's answer.
    event_id: Mapped[str] = mapped_column(String(100), unique=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # A clearing or refund the network sent in another currency: what it sent, and the rate
    # (card currency per unit) it stated, that `amount` was converted at.
    original_amount: Mapped[int | None] = mapped_column(BigInteger)
    original_currency: Mapped[str | None] = mapped_column(String(3))
    conversion_rate: Mapped[Decimal | None] = mapped_column(Numeric(24, 10))
    merchant_name: Mapped[str] = mapped_column(String(80))
    merchant_mcc: Mapped[str] = mapped_column(String(4))
    decline_code: Mapped[str | None] = mapped_column(String(40))
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_holds.id"), unique=True)
    captured_amount: Mapped[int | None] = mapped_column(BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("card_transactions.id"))
    # Set when the issuer's clearing could not be taken as sent: a person must look.
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    hold: Mapped[Hold | None] = relationship()

    @property
    def shown_status(self) -> str:
        """What the customer sees: an approval whose hold ran out shows as expired."""
        if (
            self.status == APPROVED
            and self.hold is not None
            and self.hold.status == HoldStatus.EXPIRED
        ):
            return EXPIRED
        return self.status

    def move_to(self, target: str) -> None:
        super().move_to(target)
        self.settled_at = utcnow()
