"""Use cases for virtual cards: create (issued by a job), freeze, unfreeze, terminate, limits,
show the full details once, and settle what the issuer tells us after an authorisation.

Money path: an authorisation holds the money (lumipay.cards.authorise); a clearing captures
the hold to the card clearing system account, possibly for another amount within
CARDS_CLEARING_TOLERANCE_PERCENT; a reversal releases it; the hold-expiry job releases an
authorisation nobody cleared; a refund credits the wallet from the card clearing account.

A clearing above the tolerance (or whose excess the wallet can't cover) captures only the
authorised amount and is flagged for a person: the customer never pays more than they agreed
to beyond the tolerance, and the difference is the issuer's to dispute with the merchant.
A clearing that arrives after the hold expired is still owed to the network: it is debited
directly when the available balance covers it, else flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import service as auth
from lumipay.auth import twofactor
from lumipay.auth.models import User
from lumipay.auth.passwords import verify_password
from lumipay.cards import mcc
from lumipay.cards.models import (
    ACTIVE,
    APPROVED,
    AUTHORISATION,
    CAPTURED,
    CARD_CURRENCIES,
    FAILED,
    FROZEN,
    ISSUING,
    REFUND,
    REFUNDED,
    REVERSED,
    TERMINATED,
    Card,
    CardTransaction,
)
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.jobs import outbox
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import HoldNotActive, InsufficientFunds
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.references import new_reference
from lumipay.money import format_amount
from lumipay.notifications.service import notify
from lumipay.providers import card_provider_named
from lumipay.providers.cards import CardDetails, CardProviderError, CardRequest

log = logging.getLogger(__name__)

CLEARING = "card_clearing"
PURCHASE_KIND = "card_purchase"
REFUND_KIND = "card_refund"
ISSUE = "lumipay.cards.jobs.issue_card"
SYNC_STATUS = "lumipay.cards.jobs.sync_card_status"


class CardError(Exception):
    """A request refused with nothing changed; `field` names the form field it belongs to."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    per_transaction: int
    monthly: int
    groups: tuple[str, ...]


def check_limits(currency: str, limits: Limits) -> list[str]:
    """The limits' MCC groups in order; raises CardError when the limits don't make sense."""
    if limits.per_transaction <= 0:
        raise CardError("per_transaction_limit", "Enter a limit per purchase above zero.")
    if limits.monthly <= 0:
        raise CardError("monthly_limit", "Enter a monthly limit above zero.")
    if limits.monthly < limits.per_transaction:
        raise CardError(
            "monthly_limit",
            f"The monthly limit can't be below the limit per purchase "
            f"({format_amount(limits.per_transaction, currency)}).",
        )
    groups = mcc.clean_groups(limits.groups)
    if not groups:
        raise CardError("groups", "Choose at least one kind of merchant.")
    return groups


def _own_wallet(user_id: int, wallet_id: int | None) -> Account:
    wallet = db.session.scalar(
        select(Account).where(
            Account.id == (wallet_id or 0), Account.user_id == user_id, Account.kind == WALLET
        )
    )
    if wallet is None or wallet.currency not in CARD_CURRENCIES:
        raise CardError("wallet_id", "Choose your NGN or USD wallet.")
    return wallet


def create_card(
    user_id: int,
    wallet_id: int | None,
    label: str,
    single_use: bool,
    limits: Limits,
    *,
    idempotency_key: str,
    origin: Origin,
    replayable: idempotency.Replayable | None = None,
) -> tuple[str, bool]:
    """Record a card as being issued and queue the issuer call; returns (reference, replayed)."""
    wallet = _own_wallet(user_id, wallet_id)
    label = " ".join((label or "").split())
    if not label or len(label) > 40:
        raise CardError("label", "Give the card a name of up to 40 characters.")
    groups = check_limits(wallet.currency, limits)
    reference = new_reference("CD")
    payload = {
        "wallet": wallet.id,
        "label": label,
        "single_use": single_use,
        "limits": [limits.per_transaction, limits.monthly, groups],
    }

    def work() -> None:
        live = db.session.scalars(
            select(Card.id).where(
                Card.user_id == user_id, Card.status.in_((ISSUING, ACTIVE, FROZEN))
            )
        ).all()
        if len(live) >= current_app.config["CARDS_MAX_ACTIVE"]:
            raise CardError(
                "label",
                f"You can have {current_app.config['CARDS_MAX_ACTIVE']} cards at a time. "
                "Terminate one you no longer use first.",
            )
        db.session.add(
            Card(
                reference=reference,
                user_id=user_id,
                account_id=wallet.id,
                currency=wallet.currency,
                label=label,
                single_use=single_use,
                per_transaction_limit=limits.per_transaction,
                monthly_limit=limits.monthly,
                allowed_groups=",".join(groups),
                status=ISSUING,
                provider=current_app.config["CARDS_PROVIDER"],
                created_at=utcnow(),
            )
        )
        audit.record(
            "card.create", origin, actor_id=user_id, subject=reference, single_use=single_use
        )
        outbox.add(ISSUE, reference)

    return idempotency.run_once(
        user_id, idempotency_key, "card", payload, reference, work, replayable=replayable
    )


def _locked(reference: str) -> Card | None:
    return db.session.scalars(
        select(Card)
        .where(Card.reference == reference)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def issue(reference: str) -> str:
    """The issuer call for a card being issued; returns the card's status afterwards.

    The provider is asked outside any transaction, by our reference, so a re-run after a crash
    gets the same card rather than a second one. A refusal fails the card; anything else
    (timeout, 5xx) raises, and the job is retried.
    """
    card = db.session.scalar(select(Card).where(Card.reference == reference))
    if card is None or card.provider_token is not None or card.status not in (ISSUING, TERMINATED):
        return card.status if card else "missing"
    owner = db.session.get(User, card.user_id)
    provider = card_provider_named(card.provider)
    request = CardRequest(reference, card.currency, owner.full_name if owner else "", card.label)
    try:
        issued = provider.create_card(request)
    except CardProviderError as exc:
        if not exc.final:
            raise
        refusal = exc.message

        def failed() -> str:
            locked = _locked(reference)
            assert locked is not None
            if locked.status == ISSUING:
                locked.move_to(FAILED)
                locked.message = refusal[:200]
                notify(locked.user_id, "Card not issued", refusal, link=_link(locked))
            return locked.status

        return run_in_transaction(failed)

    def done() -> str:
        locked = _locked(reference)
        assert locked is not None
        if locked.provider_token is not None:
            return locked.status
        locked.provider_token = issued.token
        locked.brand, locked.last4 = issued.brand, issued.last4
        locked.exp_month, locked.exp_year = issued.exp_month, issued.exp_year
        locked.issued_at = utcnow()
        if locked.status == ISSUING:
            locked.move_to(ACTIVE)
            notify(
                locked.user_id,
                "Card ready",
                f"Your card {locked.label} ({issued.brand} ··{issued.last4}) is ready to use.",
                link=_link(locked),
            )
        else:
            # Terminated while being issued: tell the issuer too.
            outbox.add(SYNC_STATUS, reference)
        return locked.status

    return run_in_transaction(done)


def _link(card: Card) -> str:
    return f"/cards/{card.reference}"


def sync_status(reference: str) -> str:
    """Tell the issuer the card's status (after freeze, unfreeze or terminate)."""
    card = db.session.scalar(select(Card).where(Card.reference == reference))
    if card is None or card.provider_token is None:
        return "nothing to sync"
    status = {ACTIVE: "active", FROZEN: "frozen", TERMINATED: "terminated"}.get(card.status)
    if status is None:
        return "nothing to sync"
    card_provider_named(card.provider).update_status(card.provider_token, status)
    return status


ACTIONS = {
    "freeze": (
        frozenset({ACTIVE}),
        FROZEN,
        "Card frozen: purchases are declined until you unfreeze it.",
    ),
    "unfreeze": (frozenset({FROZEN}), ACTIVE, "Card unfrozen."),
    "terminate": (
        frozenset({ISSUING, ACTIVE, FROZEN}),
        TERMINATED,
        "Card terminated. Purchases already approved can still be settled by the merchant.",
    ),
}


def change_status(user_id: int, reference: str, action: str, *, origin: Origin) -> str:
    """Freeze, unfreeze or terminate the customer's card; returns the message to show."""
    allowed, target, message = ACTIONS[action]

    def work() -> str:
        card = _locked(reference)
        if card is None or card.user_id != user_id:
            raise LookupError(reference)
        if card.status not in allowed:
            raise CardError(None, f"This card is {card.status}; it can't be {action}d now.")
        card.move_to(target)
        audit.record(f"card.{action}", origin, actor_id=user_id, subject=reference)
        if card.provider_token is not None:
            outbox.add(SYNC_STATUS, reference)
        return message

    return run_in_transaction(work)


def update_limits(user_id: int, reference: str, limits: Limits, *, origin: Origin) -> None:
    def work() -> None:
        card = _locked(reference)
        if card is None or card.user_id != user_id:
            raise LookupError(reference)
        if card.status in (TERMINATED, FAILED):
            raise CardError(None, f"This card is {card.status}; its limits can't change.")
        groups = check_limits(card.currency, limits)
        card.per_transaction_limit = limits.per_transaction
        card.monthly_limit = limits.monthly
        card.allowed_groups = ",".join(groups)
        audit.record(
            "card.limits",
            origin,
            actor_id=user_id,
            subject=reference,
            per_transaction=limits.per_transaction,
            monthly=limits.monthly,
            groups=groups,
        )

    run_in_transaction(work)


class RevealRefused(CardError):
    """The password or code was wrong; `locked` when that failure paused the account."""

    def __init__(self, field: str, message: str, *, locked: bool) -> None:
        super().__init__(field, message)
        self.locked = locked


def reveal(
    user_id: int, reference: str, password: str, code: str, *, origin: Origin
) -> CardDetails:
    """The card's full details from the issuer, after the owner proves it is them again.

    The password, and the second factor when enrolled, are asked every time; a wrong one
    counts towards the sign-in lock. The details are returned, never stored or logged.
    """
    card = card_for(user_id, reference)
    user = db.session.get(User, user_id)
    if card is None or user is None:
        raise LookupError(reference)
    if card.provider_token is None or card.status in (TERMINATED, FAILED):
        raise CardError(None, "This card has no details to show.")
    if not verify_password(user.password_hash, password or ""):
        auth.record_failed_password(user_id, origin=origin)
        raise RevealRefused("password", "That is not your password.", locked=_locked_out(user_id))
    if user.has_totp and not twofactor.verify(user_id, code or "", origin=origin):
        auth.record_failed_second_factor(user_id, origin=origin)
        raise RevealRefused(
            "otp_code",
            "That code doesn't match. Enter the newest code from your app.",
            locked=_locked_out(user_id),
        )
    try:
        details = card_provider_named(card.provider).card_details(card.provider_token)
    except CardProviderError as exc:
        raise CardError(None, f"The card issuer did not answer: {exc.message}") from None
    run_in_transaction(
        lambda: audit.record("card.reveal", origin, actor_id=user_id, subject=reference)
    )
    return details


def _locked_out(user_id: int) -> bool:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    return user is not None and auth.is_locked(user)


# --------------------------------------------------------------------------- queries


def cards_for(user_id: int, *, before: int | None = None, limit: int | None = None) -> list[Card]:
    """The customer's cards, newest first; `before` (a card id) and `limit` page them."""
    query = select(Card).where(Card.user_id == user_id)
    if before is not None:
        query = query.where(Card.id < before)
    return list(db.session.scalars(query.order_by(Card.id.desc()).limit(limit)))


def card_for(user_id: int, reference: str) -> Card | None:
    """The customer's own card, else None (another customer's card is a 404)."""
    card = db.session.scalar(select(Card).where(Card.reference == reference))
    if card is None or card.user_id != user_id:
        return None
    return card


def transactions_of(card_id: int, limit: int = 100) -> list[CardTransaction]:
    return list(
        db.session.scalars(
            select(CardTransaction)
            .where(CardTransaction.card_id == card_id)
            .order_by(CardTransaction.id.desc())
            .limit(limit)
        )
    )


def card_wallets(user_id: int) -> list[Account]:
    return list(
        db.session.scalars(
            select(Account)
            .where(
                Account.user_id == user_id,
                Account.kind == WALLET,
                Account.currency.in_(CARD_CURRENCIES),
            )
            .order_by(Account.id)
        )
    )


# --------------------------------------------------------------------------- the issuer's news


def _locked_authorisation(authorization_id: Any) -> tuple[Card, CardTransaction] | None:
    """Card then authorisation, both locked: the same order as the authorisation path."""
    if not isinstance(authorization_id, str):
        return None
    card_id = db.session.scalar(
        select(CardTransaction.card_id).where(
            CardTransaction.provider_reference == authorization_id,
            CardTransaction.kind == AUTHORISATION,
        )
    )
    if card_id is None:
        return None
    card = db.session.scalars(
        select(Card)
        .where(Card.id == card_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row = db.session.scalars(
        select(CardTransaction)
        .where(CardTransaction.provider_reference == authorization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return card, row


def _amount(data: dict[str, Any]) -> int | None:
    amount = data.get("amount")
    if type(amount) is not int or amount <= 0 or amount > 10**15:
        return None
    return amount


def clear(data: dict[str, Any]) -> str:
    """Capture an approved authorisation for the amount the merchant settled."""
    found = _locked_authorisation(data.get("authorization_id"))
    amount = _amount(data)
    if found is None or amount is None:
        log.warning("clearing for an unknown authorisation, or malformed")
        return "ignored"
    card, row = found
    if row.status != APPROVED:
        log.info(
            "clearing for a settled authorisation ignored", extra={"id": row.provider_reference}
        )
        return row.status
    tolerance = row.amount * current_app.config["CARDS_CLEARING_TOLERANCE_PERCENT"] // 100
    wanted = amount
    if amount > row.amount + tolerance:
        wanted = row.amount
        _flag(row, f"Cleared {amount} above the authorised {row.amount} beyond the tolerance.")
    clearing = ledger.system_account(CLEARING, row.currency)
    txn = None
    hold = row.hold
    if hold is not None and hold.status == "active":
        try:
            with db.session.begin_nested():
                txn = ledger.capture_hold(
                    hold.id,
                    wanted,
                    clearing.id,
                    kind=PURCHASE_KIND,
                    narration=row.merchant_name,
                    tolerance=tolerance,
                )
        except InsufficientFunds:
            _flag(row, f"Cleared {amount}; the wallet could not cover more than the hold.")
            wanted = min(wanted, row.amount)
            txn = ledger.capture_hold(
                hold.id, wanted, clearing.id, kind=PURCHASE_KIND, narration=row.merchant_name
            )
    else:
        # The hold ran out before the merchant settled: the money is still owed.
        try:
            with db.session.begin_nested():
                txn = ledger.transfer(
                    PURCHASE_KIND, card.account_id, clearing.id, wanted, narration=row.merchant_name
                )
        except InsufficientFunds:
            _flag(row, f"Late clearing of {amount}: the wallet could not cover it.")
            return row.status
    row.move_to(CAPTURED)
    row.captured_amount = wanted
    row.transaction_id = txn.id
    if card.single_use and card.status in (ACTIVE, FROZEN):
        card.move_to(TERMINATED)
        outbox.add(SYNC_STATUS, card.reference)
        notify(
            card.user_id,
            "Single-use card used",
            f"{card.label} paid {format_amount(wanted, row.currency)} at {row.merchant_name} "
            "and is now terminated.",
            link=_link(card),
        )
    return row.status


def _flag(row: CardTransaction, note: str) -> None:
    row.needs_attention = True
    row.note = note[:200]
    log.error("card clearing needs attention", extra={"id": row.provider_reference, "note": note})


def reverse(data: dict[str, Any]) -> str:
    """The merchant cancelled an approved authorisation: give the money back to available."""
    found = _locked_authorisation(data.get("authorization_id"))
    if found is None:
        log.warning("reversal for an unknown authorisation")
        return "ignored"
    _, row = found
    if row.status != APPROVED:
        return row.status
    if row.hold_id is not None:
        try:
            ledger.release_hold(row.hold_id)
        except HoldNotActive:
            log.info("reversed authorisation's hold had already ended")
    row.move_to(REVERSED)
    return row.status


def refund(data: dict[str, Any]) -> str:
    """The merchant refunded a captured purchase: credit the wallet from card clearing."""
    found = _locked_authorisation(data.get("authorization_id"))
    amount = _amount(data)
    refund_id = data.get("refund_id")
    if found is None or amount is None or not isinstance(refund_id, str) or len(refund_id) > 64:
        log.warning("refund for an unknown authorisation, or malformed")
        return "ignored"
    card, row = found
    seen = db.session.scalar(
        select(CardTransaction.id).where(CardTransaction.provider_reference == refund_id)
    )
    if seen is not None:
        return REFUNDED
    refunded = sum(
        db.session.scalars(
            select(CardTransaction.amount).where(
                CardTransaction.parent_id == row.id, CardTransaction.kind == REFUND
            )
        )
    )
    if row.status != CAPTURED or refunded + amount > (row.captured_amount or 0):
        _flag(row, f"Refund {refund_id} of {amount} is more than was captured.")
        return "ignored"
    clearing = ledger.system_account(CLEARING, row.currency)
    txn = ledger.transfer(
        REFUND_KIND, clearing.id, card.account_id, amount, narration=f"{row.merchant_name} refund"
    )
    db.session.add(
        CardTransaction(
            provider_reference=refund_id,
            event_id=f"refund:{refund_id}",
            card_id=card.id,
            user_id=card.user_id,
            kind=REFUND,
            status=REFUNDED,
            amount=amount,
            currency=row.currency,
            merchant_name=row.merchant_name,
            merchant_mcc=row.merchant_mcc,
            transaction_id=txn.id,
            parent_id=row.id,
            created_at=utcnow(),
            settled_at=utcnow(),
        )
    )
    return REFUNDED


def apply_webhook(event_type: str, data: dict[str, Any]) -> None:
    """The cards channel's asynchronous handler; runs inside the inbox's transaction."""
    handlers = {"clearing": clear, "reversal": reverse, "refund": refund}
    handler = handlers.get(event_type)
    if handler is None:
        log.info("card webhook type not handled", extra={"type": event_type})
        return
    handler(data)


def own_authorisation(user_id: int, authorization_id: str) -> CardTransaction | None:
    """The customer's own authorisation by the issuer's id, else None."""
    row = db.session.scalar(
        select(CardTransaction).where(
            CardTransaction.provider_reference == (authorization_id or ""),
            CardTransaction.kind == AUTHORISATION,
        )
    )
    if row is None or row.user_id != user_id:
        return None
    return row


def card_by_id(card_id: int) -> Card:
    card = db.session.get(Card, card_id)
    assert card is not None
    return card
