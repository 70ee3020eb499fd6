"""What the layers below learn about transfers: the other party of a customer-to-customer
movement, for the wallet history (lumipay.accounts) and the saved recipients
(lumipay.beneficiaries). They sit below transfers, so transfers registers these with them."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, or_, select

from lumipay.accounts import service as accounts
from lumipay.auth.models import User
from lumipay.beneficiaries import service as beneficiaries
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
