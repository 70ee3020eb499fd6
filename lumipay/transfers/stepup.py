"""When confirming a transfer needs the second factor.

Above the step-up threshold a customer with two-step verification on must enter a code; one
without it may go ahead but is offered enrolment (the issue's choice: offer, don't block, so
a new customer is never stranded). A resubmitted form that already went through needs no code:
its code was used up, and the idempotency replay must still reach its receipt.
"""

from __future__ import annotations

from sqlalchemy import select

from lumipay.auth.models import User
from lumipay.auth.twofactor import step_up_needed
from lumipay.extensions import db
from lumipay.idempotency.models import IdempotencyRecord


def already_sent(user_id: int, idempotency_key: str) -> bool:
    """True when this form's key already completed a request (a resubmit)."""
    return (
        db.session.scalar(
            select(IdempotencyRecord.id).where(
                IdempotencyRecord.owner_id == user_id,
                IdempotencyRecord.key == (idempotency_key or ""),
                IdempotencyRecord.outcome.is_not(None),
            )
        )
        is not None
    )


def code_required(user: User, currency: str, amount: int, idempotency_key: str) -> bool:
    if not user.has_totp or not step_up_needed(currency, amount):
        return False
    return not already_sent(user.id, idempotency_key)


def enrolment_offered(user: User, currency: str, amount: int) -> bool:
    return not user.has_totp and step_up_needed(currency, amount)
