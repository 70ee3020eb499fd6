"""What the layers below learn about transfers: the other party of a customer-to-customer
movement, for the wallet history (lumipay.accounts) and the saved recipients
(lumipay.beneficiaries). They sit below transfers, so transfers registers these with them.
The home page's "send again" list comes from here too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from lumipay.accounts import service as accounts
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.beneficiaries import service as beneficiaries
from lumipay.beneficiaries.models import Beneficiary
from lumipay.database import as_utc
from lumipay.extensions import db
from lumipay.ledger.models import LedgerTransaction
from lumipay.transfers.models import Transfer


def parties(transaction_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Transaction id -> (sender id, recipient id), for the transfers among them."""
    rows = db.session.execute(
        select(Transfer.transaction_id, Transfer.sender_id, Transfer.recipient_id).where(
            Transfer.transaction_id.in_(transaction_ids)
        )
    )
    return {txn_id: (sender_id, recipient_id) for txn_id, sender_id, recipient_id in rows}


def matching(user_id: int, text: str) -> ColumnElement[bool]:
    """A transfer whose other party has an account number containing `text` or, for a single
    word, a first name starting with it (others' surnames stay private, as names are masked)."""
    other = and_(
        User.id != user_id,
        or_(User.id == Transfer.sender_id, User.id == Transfer.recipient_id),
    )
    by_party = User.account_number.contains(text, autoescape=True)
    if " " not in text:
        by_party = or_(by_party, User.full_name.istartswith(text, autoescape=True))
    return exists(
        select(Transfer.id)
        .join(User, other)
        .where(Transfer.transaction_id == LedgerTransaction.id, by_party)
    )


def record(transaction_id: int) -> Transfer | None:
    return db.session.scalar(select(Transfer).where(Transfer.transaction_id == transaction_id))


def recipient_of_sent(owner_id: int, reference: str) -> int | None:
    """The recipient of the transfer `reference`, if `owner_id` sent it."""
    return db.session.scalar(
        select(Transfer.recipient_id).where(
            Transfer.reference == reference, Transfer.sender_id == owner_id
        )
    )


accounts.use_counterparties(accounts.Counterparties(parties, matching, record))
beneficiaries.use_transfer_recipients(recipient_of_sent)


@dataclass(frozen=True)
class RecentRecipient:
    account_number: str
    masked_name: str
    nickname: str
    last_paid_at: datetime


def recent_recipients(owner_id: int, limit: int = 5) -> list[RecentRecipient]:
    """The customers `owner_id` sent money to most recently, newest first, one row each: the
    home page's "pay again" list, derived from past transfers (nothing to save by hand). A
    saved recipient's nickname comes along."""
    last_paid = func.max(Transfer.created_at).label("last_paid_at")
    rows = db.session.execute(
        select(User.account_number, User.full_name, Beneficiary.nickname, last_paid)
        .join(Transfer, Transfer.recipient_id == User.id)
        .outerjoin(
            Beneficiary,
            (Beneficiary.owner_id == owner_id)
            & (Beneficiary.account_number == User.account_number),
        )
        .where(Transfer.sender_id == owner_id, Transfer.recipient_id != owner_id)
        .group_by(User.id, Beneficiary.nickname)
        .order_by(last_paid.desc())
        .limit(limit)
    ).all()
    return [
        RecentRecipient(number, mask_name(name or ""), nickname or "", as_utc(when))
        for number, name, nickname, when in rows
        if number is not None  # customers always have an account number
    ]


def has_paid(owner_id: int, account_number: str) -> bool:
    """Whether the customer has sent money to `account_number` before."""
    return (
        db.session.scalar(
            select(Transfer.id)
            .join(User, User.id == Transfer.recipient_id)
            .where(Transfer.sender_id == owner_id, User.account_number == account_number)
            .limit(1)
        )
        is not None
    )
