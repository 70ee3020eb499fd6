"""Use cases for saved recipients; every lookup is scoped to the owner."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.beneficiaries.models import Beneficiary
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.refusals import Refused

NICKNAME_MAX = 40
MAX_SAVED = 200


class BeneficiaryError(Refused):
    """Saving or removing a recipient was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


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


def is_saved(owner_id: int, account_number: str) -> bool:
    return (
        db.session.scalar(
            select(Beneficiary.id).where(
                Beneficiary.owner_id == owner_id, Beneficiary.account_number == account_number
            )
        )
        is not None
    )


# Whom a transfer the customer sent paid: (owner id, transfer reference) -> the recipient's
# user id, or None. Registered by lumipay.transfers, a layer above (its pages show these).
_recipients: list[Callable[[int, str], int | None]] = []


def use_transfer_recipients(recipient_of: Callable[[int, str], int | None]) -> None:
    _recipients[:] = [recipient_of]


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
        recipient_id = _recipients[0](owner_id, transfer_reference) if _recipients else None
        if recipient_id is None:
            raise BeneficiaryError("Only the recipient of a transfer you sent can be saved.")
        recipient = db.session.get(User, recipient_id)
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
