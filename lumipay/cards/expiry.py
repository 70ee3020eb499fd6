"""Card authorisations that ran past the card network's window: the card code expires them.

An authorisation's hold belongs to the card (DESIGN rule 8): the ledger's hold expiry hands card
holds to `expire_held`, and the cards' own job (`expire_authorisations`) also picks up
authorisations whose hold an older expiry ended. Each is expired under the card's locks (card,
authorisation, hold, wallet: the one lock order), and the authorisation records why it ended.
A clearing that arrives afterwards is still taken (a forced capture, lumipay.cards.service.clear).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from lumipay import settings
from lumipay.cards.models import APPROVED, AUTHORISATION, EXPIRED, CardTransaction
from lumipay.cards.service import lock_authorisation
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Hold, HoldStatus

log = logging.getLogger(__name__)


def expire_authorisations(now: datetime | None = None) -> int:
    """Expire every approved authorisation past the network's window; returns how many.

    One transaction per authorisation, so one stuck row never holds the others back; an
    authorisation cleared or reversed meanwhile is left as it is.
    """
    cutoff = now or utcnow()
    due = db.session.scalars(
        select(CardTransaction.provider_reference)
        .join(Hold, Hold.id == CardTransaction.hold_id)
        .where(
            CardTransaction.kind == AUTHORISATION,
            CardTransaction.status == APPROVED,
            ((Hold.status == HoldStatus.ACTIVE) & (Hold.expires_at <= cutoff))
            | (Hold.status == HoldStatus.EXPIRED),
        )
        .order_by(CardTransaction.id)
    ).all()
    return sum(
        1 for authorization_id in due if run_in_transaction(_expire_one(authorization_id, cutoff))
    )


def _expire_one(authorization_id: str, cutoff: datetime) -> Callable[[], bool]:
    def work() -> bool:
        found = lock_authorisation(authorization_id)
        if found is None:
            return False
        card, row = found
        if row.status != APPROVED:
            return False
        hold = ledger.lock_hold(row.hold_id) if row.hold_id is not None else None
        ledger.lock_wallets([card.account_id])
        if hold is None or hold.status not in (HoldStatus.ACTIVE, HoldStatus.EXPIRED):
            return False
        if hold.status == HoldStatus.ACTIVE:
            if hold.expires_at > cutoff:
                return False
            ledger.release_hold(hold.id, status=HoldStatus.EXPIRED)
        days = settings.cards().hold_days
        row.move_to(EXPIRED)
        row.note = (
            f"Expired: not cleared within the card network's {days}-day window; "
            "the held money is back in the wallet."
        )[:200]
        log.info("card authorisation expired", extra={"id": authorization_id})
        return True

    return work


def expire_held(hold_ids: list[int], now: datetime) -> int:
    """The "card" hold owner (lumipay.ledger.service.HOLD_OWNERS): the ledger's hold expiry
    hands over the card holds whose time is up, and each is expired as above, in the caller's
    transaction."""
    due = db.session.scalars(
        select(CardTransaction.provider_reference)
        .where(CardTransaction.hold_id.in_(hold_ids), CardTransaction.kind == AUTHORISATION)
        .order_by(CardTransaction.id)
    ).all()
    return sum(1 for authorization_id in due if _expire_one(authorization_id, now)())
