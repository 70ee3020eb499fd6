"""Public ids: what the API calls a wallet, bill, card, top-up, payout or quote.

Every such row has a random `public_id` (UUID); the services keep working with the sequential
keys and the references they always used, and this module translates at the edge. A path or
body that names a row by an id the caller doesn't own resolves to nothing, exactly like an id
that doesn't exist, so the API is no oracle of which ids exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from lumipay.accounts.service import wallet_by_public_id
from lumipay.extensions import db
from lumipay.ledger.models import Account


def parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def wallet_pk(user_id: int, public_id: uuid.UUID | None) -> int:
    """The key of the caller's wallet with this public id, or 0 (which no wallet has, so the
    service refuses it on its own field, as it refuses a wallet that isn't yours)."""
    wallet = wallet_by_public_id(user_id, public_id)
    return wallet.id if wallet is not None else 0


def wallet_public_ids(account_ids: set[int]) -> dict[int, uuid.UUID]:
    """Public ids of wallets by key, in one query (for responses naming several)."""
    if not account_ids:
        return {}
    rows = db.session.execute(
        select(Account.id, Account.public_id).where(Account.id.in_(account_ids))
    ).all()
    return {pk: public for pk, public in rows}


def reference_of(model: Any, user_id: int, given: str) -> str:
    """A path's `{bill_id}`, `{card_id}`, … as the reference the service looks rows up by.

    The public id (UUID) is the documented form; a reference (what these paths took before
    public ids) still works. Someone else's id becomes a reference nobody has: a 404.
    """
    public_id = parse(given)
    if public_id is None:
        return given
    found = db.session.scalar(
        select(model.reference).where(model.public_id == public_id, model.user_id == user_id)
    )
    return found or ""
