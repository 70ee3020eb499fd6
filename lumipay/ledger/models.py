"""Double-entry ledger tables: accounts, transactions, entries and holds."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lumipay.database import BigIntPK, UTCDateTime, public_id_column, utcnow
from lumipay.extensions import Model
from lumipay.lifecycle import Lifecycle, one_step

WALLET = "wallet"
SYSTEM = "system"


class Account(Model):
    """A ledger account: a customer's wallet or one of the bank's own system accounts.

    Only wallets keep a running `balance` and `held`; system accounts (bonus funding, fees,
    clearing) are hot, so their balance is the sum of their entries and their row is never
    locked or updated by a posting.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("user_id", "currency", name="uq_ledger_accounts_user_currency"),
        CheckConstraint("kind IN ('wallet', 'system')", name="kind_known"),
        CheckConstraint("kind <> 'wallet' OR user_id IS NOT NULL", name="wallet_has_owner"),
        CheckConstraint("kind <> 'system' OR code IS NOT NULL", name="system_has_code"),
        CheckConstraint(
            "kind <> 'wallet' OR (held >= 0 AND balance - held >= 0)",
            name="wallet_available_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[uuid.UUID] = public_id_column()
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(120))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def is_wallet(self) -> bool:
        return self.kind == WALLET


class TransactionStatus(StrEnum):
    """What a ledger transaction's status may say; every posting is `posted` today."""

    POSTED = "posted"
    PENDING = "pending"
    FAILED = "failed"
    REVERSED = "reversed"


class LedgerTransaction(Model):
    """One movement of money: two or more entries that balance per currency."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TransactionStatus.POSTED)
    narration: Mapped[str] = mapped_column(String(140), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    entries: Mapped[list[Entry]] = relationship(
        back_populates="transaction", order_by="Entry.id", lazy="selectin"
    )


class Entry(Model):
    """One side of a transaction. Positive credits the account, negative debits it.

    Append-only: on PostgreSQL a trigger refuses UPDATE and DELETE.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_ledger_entries_account_id_id", "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    # Wallets only: the posted balance right after this entry, for statements.
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[Account] = relationship()


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


HOLD_TRANSITIONS = one_step(
    HoldStatus.ACTIVE, HoldStatus.CAPTURED, HoldStatus.RELEASED, HoldStatus.EXPIRED
)


class Hold(Lifecycle, Model, what="hold", statuses=HoldStatus, transitions=HOLD_TRANSITIONS):
    """Money reserved on a wallet: counts against `available` until captured or released.

    `owner` names the kind of operation the hold is for ("bill", "payout", "card"...): only
    that owner's engine moves it, and only that owner decides what its expiry means
    (lumipay.ledger.service.HOLD_OWNERS)."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_ledger_holds_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.ACTIVE)
    owner: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(140), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    captured_amount: Mapped[int | None] = mapped_column(BigInteger)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))


class DailyFlow(Model):
    """Money in and out of a wallet per Lagos day and transaction kind, kept by the ledger.

    Written by `ledger.apply` under the wallet's own row lock, so the dashboard's 30-day picture
    reads at most a few hundred rows however many entries a wallet has. `flask ledger verify`
    checks it against the entries.
    """

    __tablename__ = "ledger_daily_flows"

    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    money_in: Mapped[int] = mapped_column(BigInteger, default=0)
    money_out: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)


GENESIS_HASH = "0" * 64


class SealBlock(Model):
    """A hash-chained block of ledger entries: proof that no sealed entry changed since.

    `hash` is SHA-256 over the previous block's hash and each entry's canonical fields, in id
    order. `previous_hash` is unique, so two sealers racing can never fork the chain.
    """

    __tablename__ = "ledger_seal_blocks"
    __table_args__ = (
        CheckConstraint("entry_count > 0", name="entry_count_positive"),
        CheckConstraint("last_entry_id >= first_entry_id", name="entry_range_ordered"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    first_entry_id: Mapped[int] = mapped_column(BigInteger)
    last_entry_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    entry_count: Mapped[int] = mapped_column(Integer)
    previous_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VerificationRun(Model):
    """One run of `flask ledger verify` (by hand or by the scheduler), for the back office."""

    __tablename__ = "ledger_verification_runs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    transactions: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    sealed_blocks: Mapped[int] = mapped_column(BigInteger, default=0)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
