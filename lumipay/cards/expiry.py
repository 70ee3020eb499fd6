"""Card authorisation holds ending by time: the cards engine's own expiry handler.

Registered as the "card" hold owner (lumipay.create_app, lumipay.ledger.service.HOLD_OWNERS):
the ledger's hold expiry hands it the card holds whose time is up, and it alone decides. Today
an approved authorisation past CARDS_HOLD_DAYS gives the money back to available (the row
stays `approved`; it shows as expired). A clearing arriving later is still posted
(lumipay.cards.service.clear). The cards engine may replace this handler with its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from lumipay.cards.models import APPROVED, CardTransaction
from lumipay.cards.service import _locked_authorisation
from lumipay.extensions import db
from lumipay.ledger import service as ledger


def expire_authorisations(hold_ids: list[int], now: datetime) -> int:
    """End the holds of approved authorisations whose time is up; returns how many ended.

    Lock order: card, authorisation, hold, wallet; each re-read under its lock.
    """
    ended = 0
    references = db.session.scalars(
        select(CardTransaction.provider_reference)
        .where(CardTransaction.hold_id.in_(hold_ids))
        .order_by(CardTransaction.id)
    ).all()
    for reference in references:
        found = _locked_authorisation(reference)
        if found is None:
            continue
        _, row = found
        if row.status != APPROVED or row.hold_id is None:
            continue
        hold = ledger.lock_hold(row.hold_id)
        if hold is None or hold.status != "active" or hold.expires_at > now:
            continue
        ledger.release_hold(hold.id, status="expired")
        ended += 1
    return ended
