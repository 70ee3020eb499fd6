"""Use cases for saved recipients; every lookup is scoped to the owner."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.beneficiaries.models import Beneficiary
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db
from lumipay.transfers.models import Transfer

NICKNAME_MAX = 40
MAX_SAVED = 200


class BeneficiaryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SavedRecipient:
    id: int
    account_number: str
    masked_name: str
    nickname: str


def beneficiaries_for(owner_id: int) -> list[SavedRecipient]:
    """The customer's saved recipients, by nickname or name."""
    rows = db.session.execute(
        select(Beneficiary, User.full_name)
        .outerjoin(User, User.account_number == Beneficiary.account_number)
        .where(Beneficiary.owner_id == owner_id)
    ).all()
    saved = [
        SavedRecipient(b.id, b.account_number, mask_name(name or ""), b.nickname)
        for b, name in rows
    ]
    return sorted(saved, key=lambda s: (s.nickname or s.masked_name).casefold())


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


def is_saved(owner_id: int, account_number: str) -> bool:
    return (
        db.session.scalar(
            select(Beneficiary.id).where(
                Beneficiary.owner_id == owner_id, Beneficiary.account_number == account_number
            )
        )
        is not None
    )


def save_from_transfer(
    owner_id: int, transfer_reference: str, nickname: str, *, origin: Origin
) -> SavedRecipient:
    """Save the recipient of a transfer the customer sent; saving one twice keeps the first.

    Taking the account number from the customer's own transfer (not from the form) means only
    someone they have really paid can be saved.
    """
    clean = re.sub(r"\s+", " ", nickname or "").strip()
    if len(clean) > NICKNAME_MAX:
        raise BeneficiaryError(f"Keep the nickname to {NICKNAME_MAX} characters.")

    def work() -> int:
        transfer = db.session.scalar(
            select(Transfer).where(
                Transfer.reference == transfer_reference, Transfer.sender_id == owner_id
            )
        )
        if transfer is None:
            raise BeneficiaryError("Only the recipient of a transfer you sent can be saved.")
        recipient = db.session.get(User, transfer.recipient_id)
        number = recipient.account_number if recipient else None
        if not number:
            raise BeneficiaryError("That recipient can't be saved.")
        existing = db.session.scalar(
            select(Beneficiary.id).where(
                Beneficiary.owner_id == owner_id, Beneficiary.account_number == number
            )
        )
        if existing is not None:
            return existing
        count = db.session.scalar(select(func.count()).where(Beneficiary.owner_id == owner_id))
        if (count or 0) >= MAX_SAVED:
            raise BeneficiaryError(f"You can save up to {MAX_SAVED} recipients. Remove one first.")
        beneficiary = Beneficiary(owner_id=owner_id, account_number=number, nickname=clean)
        db.session.add(beneficiary)
        db.session.flush()
        audit.record("beneficiary_saved", origin, actor_id=owner_id, subject=number)
        return beneficiary.id

    try:
        saved_id = run_in_transaction(work)
    except IntegrityError:
        # A twin request saved the same recipient a moment earlier: this run finds theirs.
        saved_id = run_in_transaction(work)
    return next(s for s in beneficiaries_for(owner_id) if s.id == saved_id)


def remove(owner_id: int, beneficiary_id: int, *, origin: Origin) -> bool:
    """Forget a saved recipient; False when it is not the customer's."""

    def work() -> bool:
        beneficiary = db.session.scalar(
            select(Beneficiary).where(
                Beneficiary.id == beneficiary_id, Beneficiary.owner_id == owner_id
            )
        )
        if beneficiary is None:
            return False
        audit.record(
            "beneficiary_removed", origin, actor_id=owner_id, subject=beneficiary.account_number
        )
        db.session.delete(beneficiary)
        return True

    return run_in_transaction(work)
