"""When confirming a transfer needs the second factor.

Above the step-up threshold a customer with two-step verification on must enter a code; one
without it may go ahead but is offered enrolment (the issue's choice: offer, don't block, so
a new customer is never stranded). A resubmitted form that already went through needs no code:
its code was used up, and the idempotency replay must still reach its receipt.

Only a record that will really be replayed counts as "already sent": one inside the replay
window (an older one is deleted and the key claimed afresh, so trusting it would let a new,
larger transfer skip the code). The decision itself (`decision`) is part of the request's
idempotency fingerprint, so a key first used without step-up can never replay into, or
stand in for, a request that needs it.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from lumipay import clock
from lumipay.auth.models import User
from lumipay.auth.twofactor import step_up_needed
from lumipay.extensions import db
from lumipay.idempotency.models import IdempotencyRecord


def already_sent(user_id: int, idempotency_key: str) -> bool:
    """True when this key completed a request that a repeat would replay (a resubmit)."""
    window = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"])
    return (
        db.session.scalar(
            select(IdempotencyRecord.id).where(
                IdempotencyRecord.owner_id == user_id,
                IdempotencyRecord.key == (idempotency_key or ""),
                IdempotencyRecord.outcome.is_not(None),
                IdempotencyRecord.created_at >= clock.now() - window,
            )
        )
        is not None
    )


def decision(user: User, currency: str, amount: int) -> bool:
    """Whether this transfer is one that needs the second factor (stored in its fingerprint)."""
    return user.has_totp and step_up_needed(currency, amount)


def code_required(user: User, currency: str, amount: int, idempotency_key: str) -> bool:
    if not decision(user, currency, amount):
        return False
    return not already_sent(user.id, idempotency_key)


def enrolment_offered(user: User, currency: str, amount: int) -> bool:
    return not user.has_totp and step_up_needed(currency, amount)
