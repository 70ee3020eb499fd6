"""Top-ups the provider takes back after crediting them: reversals, chargebacks, refunds.

`reverse_credit` is the one place such news moves money: once per (provider, the reversal's
own reference), it debits the wallet the top-up credited in a reversing ledger transaction
linked to the credit (`parent_id`), back into the provider's clearing account. What the
customer has already spent can't come out of the wallet: it is owed by the customer
(lumipay.ledger.receivables), never a negative available balance. The customer is told, and
every reversal waits for the back office (`needs_attention`), whatever happened to the money.

News the adapters can't read (an unknown event type or payment status) is never dropped:
`unhandled` logs it and the inbox keeps the event with the outcome "unhandled", which the back
office's attention list counts.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from lumipay.bank.clearing import clearing_account
from lumipay.bank.models import TOPUP_CREDITED, TOPUP_REVERSED, TopUp
from lumipay.database import BigIntPK, UTCDateTime, locked, newest, utcnow
from lumipay.extensions import Model, db
from lumipay.ledger import receivables
from lumipay.ledger.references import new_reference
from lumipay.money import format_amount
from lumipay.notifications.service import notify
from lumipay.providers import bank_provider_named
from lumipay.providers.bank import CHARGEBACK, REFUND, REVERSAL, CreditReversal

log = logging.getLogger(__name__)

UNHANDLED = "unhandled"  # the inbox outcome of an event no adapter could read
PROCESSED = "processed"
REVERSAL_KIND = "bank_topup_reversal"
KIND_WORDS = {REVERSAL: "reversed", CHARGEBACK: "charged back", REFUND: "refunded to the payer"}


class TopUpReversal(Model):
    """One piece of news that a provider took money back, applied at most once."""

    __tablename__ = "bank_topup_reversals"
    __table_args__ = (
        UniqueConstraint(
            "provider", "reversal_reference", name="uq_bank_topup_reversals_provider_reference"
        ),
        CheckConstraint("kind IN ('reversal', 'chargeback', 'refund')", name="kind_known"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    reversal_reference: Mapped[str] = mapped_column(String(64))
    # The payment it takes back (the top-up's provider_reference).
    provider_reference: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("bank_topups.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Of `amount`: what the wallet gave, and what the customer now owes.
    covered: Mapped[int] = mapped_column(BigInteger, default=0)
    owed: Mapped[int] = mapped_column(BigInteger, default=0)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def unhandled(event_type: str, why: str) -> str:
    """A bank event nobody can act on: logged, and kept by the inbox as "unhandled"."""
    log.error("bank event not understood", extra={"event_type": event_type, "why": why})
    return UNHANDLED


def _locked_topup(provider: str, provider_reference: str) -> TopUp | None:
    return locked(
        TopUp, TopUp.provider == provider, TopUp.provider_reference == provider_reference[:64]
    )


def _seen(provider: str, reversal_reference: str) -> bool:
    found = db.session.scalar(
        select(TopUpReversal.id).where(
            TopUpReversal.provider == provider,
            TopUpReversal.reversal_reference == reversal_reference,
        )
    )
    return found is not None


def _already_reversed(topup_id: int) -> int:
    total = db.session.scalar(
        select(func.coalesce(func.sum(TopUpReversal.amount), 0)).where(
            TopUpReversal.topup_id == topup_id, TopUpReversal.transaction_id.is_not(None)
        )
    )
    return int(total or 0)


def reverse_credit(provider: str, news: CreditReversal) -> str:
    """Take back a credited top-up (all or part); runs inside the webhook inbox's transaction.

    Locks the top-up first (two deliveries of the same news queue there), then the wallet
    (in the ledger posting). Returns the inbox outcome.
    """
    topup = _locked_topup(provider, news.provider_reference)
    if _seen(provider, news.reversal_reference):
        log.info("reversal already applied", extra={"ref": news.reversal_reference})
        return PROCESSED
    record = TopUpReversal(
        reference=new_reference("TR"),
        provider=provider,
        reversal_reference=news.reversal_reference[:64],
        provider_reference=news.provider_reference[:64],
        kind=news.kind,
        topup_id=topup.id if topup else None,
        user_id=topup.user_id if topup else None,
        amount=news.amount,
        currency=news.currency,
        created_at=utcnow(),
    )
    db.session.add(record)
    problem = _refusal(topup, news)
    if problem is not None or topup is None:
        record.note = (problem or "")[:200]
        log.error("top-up reversal needs a person", extra={"ref": news.reversal_reference})
        db.session.flush()
        return PROCESSED
    amount = news.amount or (topup.amount_paid or 0) - _already_reversed(topup.id)
    currency = topup.currency_paid or topup.currency
    label = bank_provider_named(provider).label
    debit = receivables.debit_or_owe(
        topup.account_id,
        amount,
        clearing_account(provider, currency).id,
        kind=REVERSAL_KIND,
        narration=f"Top-up {KIND_WORDS[news.kind]} by {label}",
        parent_id=topup.transaction_id,
    )
    record.amount, record.currency = amount, currency
    record.covered, record.owed = debit.covered, debit.owed
    record.transaction_id = debit.transaction.id
    record.note = (
        f"{format_amount(amount, currency)} {KIND_WORDS[news.kind]}; "
        f"{format_amount(debit.owed, currency)} owed by the customer."
    )[:200]
    db.session.flush()
    if _already_reversed(topup.id) >= (topup.amount_paid or 0):
        topup.move_to(TOPUP_REVERSED)
    told = (
        f"{label} {KIND_WORDS[news.kind]} {format_amount(amount, currency)} of your top-up "
        f"{topup.reference}, so it has been taken back from your wallet."
    )
    if debit.owed:
        told += (
            f" You had already spent {format_amount(debit.owed, currency)} of it: that amount "
            "is owed to Lumipay and our team will be in touch."
        )
    notify(topup.user_id, "Top-up reversed", told, link=f"/bank/topups/{topup.reference}")
    log.warning("top-up reversed", extra={"reference": topup.reference, "owed": debit.owed})
    return PROCESSED


def _refusal(topup: TopUp | None, news: CreditReversal) -> str | None:
    """Why the news can't move money by itself (a person settles it), or None."""
    if topup is None:
        return f"Names payment {news.provider_reference[:60]}, which we never credited."
    if topup.status not in (TOPUP_CREDITED, TOPUP_REVERSED) or topup.transaction_id is None:
        return f"Top-up {topup.reference} is {topup.status}: nothing was credited to take back."
    currency = topup.currency_paid or topup.currency
    if news.currency and news.currency != currency:
        return f"In {news.currency}, but the top-up was credited in {currency}."
    left = (topup.amount_paid or 0) - _already_reversed(topup.id)
    if left <= 0 or (news.amount is not None and news.amount > left):
        return f"More than is left of top-up {topup.reference} ({format_amount(left, currency)})."
    return None


def repay_owed(topup: TopUp) -> int:
    """A credited top-up first repays what its owner owes in that currency (they are told)."""
    repaid = receivables.repay(topup.account_id, narration=f"Repaid from top-up {topup.reference}")
    if repaid:
        notify(
            topup.user_id,
            "Money owed repaid",
            f"{format_amount(repaid, topup.currency_paid or topup.currency)} of your top-up "
            f"{topup.reference} repaid what you owed Lumipay.",
            link=f"/bank/topups/{topup.reference}",
        )
    return repaid


def reversals_for(user_id: int, limit: int = 20) -> list[TopUpReversal]:
    return newest(TopUpReversal, TopUpReversal.user_id == user_id, limit=limit)


def attention_count() -> int:
    return int(
        db.session.scalar(
            select(func.count(TopUpReversal.id)).where(TopUpReversal.needs_attention.is_(True))
        )
        or 0
    )
