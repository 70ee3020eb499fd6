"""What a receipt says: which way the money went (in words, not only colour), who was on the
other side (named by bank and masked name, never "Lumipay" for a payout or a conversion), the
fee, and for a conversion its rate.

It sits above the products (transfers, bank, bills, cards, fx) and reads their records by the
ledger transaction they posted; the products know nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from lumipay.accounts.service import HistoryRow, TransactionDetail, transaction_for
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.bank.models import Payout, TopUp
from lumipay.bills.models import BillPayment
from lumipay.cards import mcc
from lumipay.cards.models import CardTransaction
from lumipay.extensions import db
from lumipay.fx.models import FxQuote
from lumipay.ledger.models import LedgerTransaction

DEBIT = "debit"
CREDIT = "credit"
CONVERSION = "conversion"
DIRECTION_WORDS = {DEBIT: "Money out", CREDIT: "Money in", CONVERSION: "Conversion"}


@dataclass(frozen=True)
class Party:
    name: str
    detail: str = ""
    """Account number, bank, phone or meter: whatever tells this party apart."""

    def __str__(self) -> str:
        return f"{self.name} · {self.detail}" if self.detail else self.name


@dataclass(frozen=True)
class Receipt:
    reference: str
    title: str
    status: str
    created_at: datetime
    direction: str
    """`debit`, `credit` or `conversion` (the customer's own wallets on both sides)."""
    amount: int
    currency: str
    sender: Party
    recipient: Party
    narration: str
    entries: list[HistoryRow]
    fee: int | None = None
    fee_currency: str = ""
    rate: str = ""
    total: int | None = None
    """What left the wallet when a fee came on top of `amount`."""
    received: tuple[int, str] | None = None
    """A conversion's other leg: what arrived, in which currency."""
    extra: list[tuple[str, str]] = field(default_factory=list)
    """Further labelled lines (a bill's token, a card's merchant category)."""
    transfer_reference: str | None = None

    @property
    def direction_word(self) -> str:
        return DIRECTION_WORDS[self.direction]


def _you(user: User, what: str = "") -> Party:
    return Party(f"{mask_name(user.full_name)} (you)", what or f"{user.account_number} · Lumipay")


def _wallet(row: HistoryRow) -> Party:
    return Party(f"Your {row.currency} wallet", "Lumipay")


def masked_account(number: str) -> str:
    """A bank account number with all but its last four digits hidden."""
    return "••••" + number[-4:] if len(number) > 4 else number


def rate_text(rate: Decimal, base: str, quote: str) -> str:
    """ "1 NGN = 0.000648 USD (1 USD = 1,543.21 NGN)": both ways, as a bank's board shows."""
    inverse = 1 / rate if rate else Decimal(0)
    return f"1 {base} = {rate:,.6f} {quote} (1 {quote} = {inverse:,.2f} {base})"


def receipt_for(user_id: int, reference: str) -> Receipt | None:
    """The receipt of a transaction that touched one of the customer's wallets, else None."""
    detail = transaction_for(user_id, reference)
    if detail is None:
        return None
    # Both exist: transaction_for found the customer's entries of this transaction.
    user = db.session.get_one(User, user_id)
    txn = db.session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.reference == reference)
    ).one()
    own = detail.own_entries
    outs = [e for e in own if e.amount < 0]
    ins = [e for e in own if e.amount > 0]
    if outs and ins and {e.currency for e in outs} != {e.currency for e in ins}:
        direction, lead = CONVERSION, outs[0]
    elif sum(e.amount for e in own) < 0:
        direction, lead = DEBIT, outs[0]
    else:
        direction, lead = CREDIT, (ins or own)[0]
    base = {
        "reference": detail.reference,
        "title": detail.kind,
        "status": detail.status,
        "created_at": detail.created_at,
        "direction": direction,
        "amount": abs(lead.amount),
        "currency": lead.currency,
        "narration": detail.narration,
        "entries": own,
    }
    parties = _parties(detail, txn, user, direction, lead)
    return Receipt(**{**base, **parties})


def _parties(
    detail: TransactionDetail,
    txn: LedgerTransaction,
    user: User,
    direction: str,
    lead: HistoryRow,
) -> dict[str, Any]:
    """Sender, recipient and the kind's own lines (fee, rate, token…)."""
    you = _you(user)
    if detail.transfer is not None:
        t = detail.transfer
        sender = db.session.get_one(User, t.sender_id)
        recipient = db.session.get_one(User, t.recipient_id)
        return {
            "sender": Party(mask_name(sender.full_name), f"{sender.account_number} · Lumipay"),
            "recipient": Party(
                mask_name(recipient.full_name), f"{recipient.account_number} · Lumipay"
            ),
            "fee": 0,
            "fee_currency": t.currency,
            "transfer_reference": t.reference,
        }
    quote = db.session.scalar(select(FxQuote).where(FxQuote.transaction_id == txn.id))
    if quote is not None:
        return {
            "sender": Party(f"Your {quote.from_currency} wallet", "Lumipay"),
            "recipient": Party(f"Your {quote.to_currency} wallet", "Lumipay"),
            "fee": quote.fee_amount,
            "fee_currency": quote.from_currency,
            "rate": rate_text(quote.rate, quote.from_currency, quote.to_currency),
            "received": (quote.credit_amount, quote.to_currency),
            "amount": quote.debit_amount,
            "currency": quote.from_currency,
        }
    payout = db.session.scalar(select(Payout).where(Payout.transaction_id == txn.id))
    if payout is not None:
        return {
            "sender": you,
            "recipient": Party(
                mask_name(payout.account_name),
                f"{masked_account(payout.account_number)} · {payout.bank_name}",
            ),
            "amount": payout.amount,
            "fee": payout.fee,
            "fee_currency": payout.currency,
            "total": payout.amount + payout.fee,
            "narration": payout.narration or detail.narration,
        }
    topup = db.session.scalar(select(TopUp).where(TopUp.transaction_id == txn.id))
    if topup is not None:
        how = "Bank transfer" if topup.method == "reserved_account" else "Card or bank checkout"
        return {
            "sender": Party(mask_name(topup.payer) if topup.payer else how, how),
            "recipient": you,
        }
    bill = db.session.scalar(select(BillPayment).where(BillPayment.transaction_id == txn.id))
    if bill is not None:
        extra = [("Token", bill.token)] if bill.token else []
        return {
            "sender": you,
            "recipient": Party(bill.description, bill.recipient),
            "amount": bill.amount,
            "fee": bill.fee,
            "fee_currency": bill.currency,
            "total": bill.amount + bill.fee,
            "extra": extra,
        }
    card_row = db.session.scalar(
        select(CardTransaction).where(CardTransaction.transaction_id == txn.id)
    )
    if card_row is not None:
        merchant = Party(card_row.merchant_name, mcc.name_of(card_row.merchant_mcc))
        return (
            {"sender": you, "recipient": merchant}
            if direction == DEBIT
            else {"sender": merchant, "recipient": you}
        )
    lumipay = Party("Lumipay", detail.kind)
    if direction == CONVERSION:
        return {"sender": _wallet(lead), "recipient": _wallet(detail.own_entries[-1])}
    return (
        {"sender": lumipay, "recipient": you}
        if direction == CREDIT
        else {
            "sender": you,
            "recipient": lumipay,
        }
    )
