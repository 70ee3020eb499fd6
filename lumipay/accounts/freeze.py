"""Freezing a customer: they can sign in and see everything, but no money leaves their wallets.

Admins freeze and unfreeze here (with a reason, audited). The refusal itself lives in the one
gate every outgoing movement passes, the ledger's limits enforcement, which reads the customer's
row under the customers' lock (`ledger.lock_customers`) that a freeze takes too: a freeze
committed first is always seen, a movement arriving during a freeze waits for it and sees it,
and a freeze arriving during a movement waits for it to finish.
"""

from __future__ import annotations

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import sessions
from lumipay.auth.models import User
from lumipay.database import locked, run_in_transaction, utcnow
from lumipay.ledger import service as ledger
from lumipay.refusals import Refused


class FreezeError(Refused):
    """A freeze or unfreeze was refused."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def _locked_customer(user_id: int) -> User:
    """The customer, read under their money's lock (before their row: the posting's order)."""
    ledger.lock_customers([user_id])
    user = locked(User, User.id == user_id, key_share=True)
    if not isinstance(user, User) or user.is_admin:
        raise FreezeError("No such customer.")
    return user


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if len(text) < 5:
        raise FreezeError("Give the reason (at least 5 characters); it goes in the audit log.")
    return text[:500]


def freeze(user_id: int, reason: str, *, admin_id: int, origin: Origin) -> None:
    """Freeze a customer's money, on the record."""
    why = _reason(reason)

    def work() -> None:
        user = _locked_customer(user_id)
        if user.frozen_at is not None:
            raise FreezeError("This customer is already frozen.")
        user.frozen_at = utcnow()
        # A freeze answers a suspicion: whoever holds a cookie or a token is signed out.
        sessions.end_all_now(user_id, "frozen")
        audit.record(
            "customer.freeze", origin, actor_id=admin_id, subject=f"user:{user_id}", reason=why
        )

    run_in_transaction(work)


def unfreeze(user_id: int, reason: str, *, admin_id: int, origin: Origin) -> None:
    """Lift a freeze, on the record."""
    why = _reason(reason)

    def work() -> None:
        user = _locked_customer(user_id)
        if user.frozen_at is None:
            raise FreezeError("This customer is not frozen.")
        user.frozen_at = None
        audit.record(
            "customer.unfreeze", origin, actor_id=admin_id, subject=f"user:{user_id}", reason=why
        )

    run_in_transaction(work)
