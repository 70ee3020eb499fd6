"""Lookups every back-office page shares (the console and the domains' own admin pages)."""

from __future__ import annotations

from sqlalchemy import select

from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.ledger.models import Account


def accounts_by_id(ids: set[int]) -> dict[int, tuple[Account, User | None]]:
    """Account id -> (the account, its owner; None for a system account)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Account, User).outerjoin(User, User.id == Account.user_id).where(Account.id.in_(ids))
    )
    return {account.id: (account, user) for account, user in rows}
