"""What the back office shows of a customer beyond the ledger: KYC, cards, top-ups, payouts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from lumipay.bank import reversals
from lumipay.bank.models import Payout, TopUp
from lumipay.cards.models import Card
from lumipay.extensions import db
from lumipay.kyc.models import KycSubmission
from lumipay.ledger import receivables


@dataclass(frozen=True)
class CustomerMoney:
    latest_submission: KycSubmission | None
    cards: list[Card]
    topups: list[TopUp]
    payouts: list[Payout]
    reversals: list[reversals.TopUpReversal]
    owed: dict[str, int]  # what the customer owes the bank, per currency


def customer_money(user_id: int, limit: int = 10) -> CustomerMoney:
    """The latest KYC submission, every card, the most recent top-ups (and what providers took
    back of them) and payouts, and what the customer owes the bank."""
    return CustomerMoney(
        latest_submission=db.session.scalar(
            select(KycSubmission)
            .where(KycSubmission.user_id == user_id)
            .order_by(KycSubmission.id.desc())
            .limit(1)
        ),
        cards=list(
            db.session.scalars(select(Card).where(Card.user_id == user_id).order_by(Card.id))
        ),
        topups=list(
            db.session.scalars(
                select(TopUp).where(TopUp.user_id == user_id).order_by(TopUp.id.desc()).limit(limit)
            )
        ),
        payouts=list(
            db.session.scalars(
                select(Payout)
                .where(Payout.user_id == user_id)
                .order_by(Payout.id.desc())
                .limit(limit)
            )
        ),
        reversals=reversals.reversals_for(user_id, limit),
        owed=receivables.owed_by(user_id),
    )
