"""Real-time card authorisation: the issuer asks, we answer approve or decline in the same
HTTP request (POST /api/lumipay/v1/webhooks/cards, type `authorization.request`).

`decide` is the ONE place an authorisation is judged; every further rule (customer limits, a
frozen account) belongs there. `answer` runs inside the webhook inbox's transaction: it locks
the card row (so one card's requests are judged one at a time, and its monthly spend can't be
raced), locks the wallet, decides, and on approval places the hold under that same wallet lock.
Declines are recorded too, so the customer sees them and a repeated delivery gets the same
answer without a second hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from lumipay import clock, settings
from lumipay.cards import mcc as mcc_groups
from lumipay.cards.models import (
    ACTIVE,
    APPROVED,
    AUTHORISATION,
    DECLINED,
    FROZEN,
    TERMINATED,
    Card,
    CardTransaction,
)
from lumipay.clock import day_start, lagos_day
from lumipay.database import locked
from lumipay.extensions import db
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account, Hold, HoldStatus
from lumipay.webhooks import service as webhooks

log = logging.getLogger(__name__)

# Stable decline codes (what the issuer and our tests rely on) and the words a customer reads.
DECLINE_REASONS: dict[str, str] = {
    "invalid_request": "The authorisation request was incomplete or malformed.",
    "card_not_found": "This card is not known to Lumipay.",
    "card_not_active": "This card is not active yet.",
    "card_frozen": "This card is frozen. Unfreeze it to pay with it.",
    "card_terminated": "This card has been terminated.",
    "currency_mismatch": "This card only pays in its wallet's currency.",
    "over_transaction_limit": "The amount is above this card's limit per purchase.",
    "over_monthly_limit": "This purchase would take the card over its monthly limit.",
    "merchant_category_blocked": "This card is not allowed at this kind of merchant.",
    "insufficient_funds": "The wallet's available balance does not cover this purchase.",
    "over_kyc_limit": "This purchase is over the customer's verification-tier limits.",
    "account_frozen": "The customer's account is frozen: no money can leave it.",
    "single_use_in_use": (
        "This single-use card already has a purchase waiting to be settled: it pays for one "
        "purchase at a time."
    ),
}
APPROVED_CODE = "approved"


@dataclass(frozen=True)
class AuthorisationRequest:
    authorization_id: str
    card_token: str
    amount: int
    currency: str
    merchant_name: str
    mcc: str


@dataclass(frozen=True)
class Decision:
    approved: bool
    code: str
    reason: str

    def as_json(self, authorization_id: str | None) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "decision": "approved" if self.approved else "declined",
            "code": self.code,
            "reason": self.reason,
            "authorization_id": authorization_id,
        }


def approve() -> Decision:
    return Decision(True, APPROVED_CODE, "Approved.")


def decline(code: str) -> Decision:
    return Decision(False, code, DECLINE_REASONS[code])


def parse(data: dict[str, Any]) -> AuthorisationRequest | None:
    """The request the issuer sent, or None when a field is missing or malformed."""
    sent = data.get("merchant")
    merchant: dict[str, Any] = sent if isinstance(sent, dict) else {}
    fields = (
        data.get("authorization_id"),
        data.get("card_token"),
        data.get("currency"),
        merchant.get("name"),
        merchant.get("mcc"),
    )
    amount = data.get("amount")
    if not all(isinstance(value, str) and value for value in fields):
        return None
    if type(amount) is not int or amount <= 0 or amount > 10**15:
        return None
    authorization_id, card_token, currency, name, code = (str(value) for value in fields)
    if len(authorization_id) > 64 or len(card_token) > 64:
        return None
    return AuthorisationRequest(
        authorization_id, card_token, amount, currency.upper()[:3], name.strip()[:80], code[:4]
    )


def month_spent(card_id: int, now: datetime) -> int:
    """What the card has spent this Lagos calendar month: what its authorisations captured
    (forced captures after expiry included), and what their holds still reserve."""
    start = day_start(lagos_day(now).replace(day=1))
    spent = db.session.scalar(
        select(
            func.coalesce(
                func.sum(
                    func.coalesce(CardTransaction.captured_amount, 0)
                    + case((Hold.status == HoldStatus.ACTIVE, Hold.amount), else_=0)
                ),
                0,
            )
        )
        .select_from(CardTransaction)
        .outerjoin(Hold, Hold.id == CardTransaction.hold_id)
        .where(
            CardTransaction.card_id == card_id,
            CardTransaction.kind == AUTHORISATION,
            CardTransaction.created_at >= start,
            CardTransaction.status != DECLINED,
        )
    )
    return int(spent or 0)


def open_authorisations(card_id: int) -> int:
    """How many of the card's authorisations still hold money, waiting for their clearing."""
    count = db.session.scalar(
        select(func.count(CardTransaction.id))
        .join(Hold, Hold.id == CardTransaction.hold_id)
        .where(
            CardTransaction.card_id == card_id,
            CardTransaction.kind == AUTHORISATION,
            CardTransaction.status == APPROVED,
            Hold.status == HoldStatus.ACTIVE,
        )
    )
    return int(count or 0)


def decide(
    card: Card,
    wallet: Account,
    request: AuthorisationRequest,
    *,
    spent_this_month: int,
    open_authorisations: int = 0,
) -> Decision:
    """Approve or decline one purchase. The card and wallet rows are locked by the caller.

    The checks run in a fixed order, so a request that breaks several rules always gets the
    same (first) reason. A single-use card pays for one purchase at a time: while one
    authorisation is open (`open_authorisations`, counted under the card's lock) the next is
    declined.
    """
    if card.status == FROZEN:
        return decline("card_frozen")
    if card.status == TERMINATED:
        return decline("card_terminated")
    if card.status != ACTIVE:
        return decline("card_not_active")
    if card.single_use and open_authorisations:
        return decline("single_use_in_use")
    if request.currency != card.currency:
        return decline("currency_mismatch")
    if request.amount > card.per_transaction_limit:
        return decline("over_transaction_limit")
    if spent_this_month + request.amount > card.monthly_limit:
        return decline("over_monthly_limit")
    if mcc_groups.group_of(request.mcc) not in card.groups:
        return decline("merchant_category_blocked")
    if wallet.available < request.amount:
        return decline("insufficient_funds")
    try:
        limits.check_outgoing(card.user_id, wallet.currency, request.amount, kind="card")
    except limits.AccountFrozen:
        return decline("account_frozen")
    except limits.LimitExceeded as exc:
        return Decision(False, "over_kyc_limit", exc.message)
    return approve()


def _locked_card(token: str) -> Card | None:
    return locked(Card, Card.provider_token == token)


def _recorded(column: Any, value: str) -> CardTransaction | None:
    return db.session.scalar(select(CardTransaction).where(column == value))


def _answer_of(row: CardTransaction) -> dict[str, Any]:
    decision = decline(row.decline_code) if row.decline_code else approve()
    return decision.as_json(row.provider_reference)


def answer(event_id: str, data: dict[str, Any], *, first: bool) -> dict[str, Any]:
    """The inbox's synchronous handler: the decision for one `authorization.request`.

    `first` is False for a delivery whose event id was seen before: it gets the decision
    recorded the first time, and nothing else happens.
    """
    if not first:
        seen = _recorded(CardTransaction.event_id, event_id)
        if seen is not None:
            return _answer_of(seen)
    request = parse(data)
    if request is None:
        return decline("invalid_request").as_json(None)
    card = _locked_card(request.card_token)
    if card is None:
        log.warning("authorisation for an unknown card", extra={"event_id": event_id})
        return decline("card_not_found").as_json(request.authorization_id)
    # The same authorisation sent again under another event id: same answer, no second hold.
    seen = _recorded(CardTransaction.provider_reference, request.authorization_id)
    if seen is not None:
        return _answer_of(seen)
    now = clock.now()
    wallet = ledger.lock_wallets([card.account_id])[card.account_id]
    decision = decide(
        card,
        wallet,
        request,
        spent_this_month=month_spent(card.id, now),
        open_authorisations=open_authorisations(card.id) if card.single_use else 0,
    )
    row = CardTransaction(
        provider_reference=request.authorization_id,
        event_id=event_id,
        card_id=card.id,
        user_id=card.user_id,
        kind=AUTHORISATION,
        status=APPROVED if decision.approved else DECLINED,
        amount=request.amount,
        currency=request.currency,
        merchant_name=request.merchant_name or "Unknown merchant",
        merchant_mcc=request.mcc,
        decline_code=None if decision.approved else decision.code,
        decline_reason=None if decision.approved else decision.reason,
        created_at=now,
    )
    if decision.approved:
        hold = ledger.place_hold(
            wallet.id,
            request.amount,
            owner="card",
            reference=f"card:{request.authorization_id}",
            expires_at=now + timedelta(days=settings.cards().hold_days),
            reason=f"Card ··{card.last4} at {row.merchant_name}",
        )
        row.hold_id = hold.id
    db.session.add(row)
    db.session.flush()
    log.info(
        "card authorisation decided",
        extra={"card": card.reference, "approved": decision.approved, "code": decision.code},
    )
    return decision.as_json(request.authorization_id)


webhooks.register_sync_handler("cards", "authorization.request", answer)
