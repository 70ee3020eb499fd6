"""Use cases for virtual cards: create (issued by a job), freeze, unfreeze, terminate, limits,
show the full details once, and settle what the issuer tells us after an authorisation.

Money path: an authorisation holds the money (lumipay.cards.authorise); each clearing
captures from the hold to the card clearing system account (`clear`: several per authorisation,
each once by its clearing id, together up to the authorised amount plus
CARDS_CLEARING_TOLERANCE_PERCENT, converted at the network's rate when sent in another
currency); a reversal releases it; an authorisation nobody cleared within the network's window
is expired by the card code (lumipay.cards.expiry); a refund credits the wallet from the card
clearing account.

What a clearing takes above the authorised amount must fit the tolerance, the card's limits,
the KYC tier's and the wallet; otherwise only the authorised amount is captured and a person
looks. A clearing after the hold ended is still owed to the network: a forced capture, where
what the wallet can't cover is owed by the customer (lumipay.ledger.receivables).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth import service as auth
from lumipay.auth import twofactor
from lumipay.auth.models import User
from lumipay.auth.passwords import verify_password
from lumipay.cards import mcc
from lumipay.cards.authorise import month_spent
from lumipay.cards.models import (
    ACTIVE,
    APPROVED,
    AUTHORISATION,
    CAPTURED,
    CARD_CURRENCIES,
    EXPIRED,
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
from lumipay.cards.models import CLEARING as CLEARING_KIND
from lumipay.database import locked, locked_one, newest, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.jobs import outbox
from lumipay.kyc import limits
from lumipay.ledger import receivables
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import HoldNotActive
from lumipay.ledger.models import WALLET, Account, HoldStatus
from lumipay.ledger.references import new_reference
from lumipay.money import CURRENCIES, format_amount, get_currency
from lumipay.notifications.service import notify
from lumipay.providers import card_provider_named
from lumipay.providers.cards import CardDetails, CardProviderError, CardRequest
from lumipay.refusals import Refused
from lumipay.webhooks import service as webhooks

log = logging.getLogger(__name__)

CLEARING = "card_clearing"
PURCHASE_KIND = "card_purchase"
REFUND_KIND = "card_refund"
ISSUE = "lumipay.cards.jobs.issue_card"
SYNC_STATUS = "lumipay.cards.jobs.sync_card_status"


class CardError(Refused):
    """A request refused with nothing changed; `field` names the form field it belongs to."""


@dataclass(frozen=True)
class Limits:
    per_transaction: int
    monthly: int
    groups: tuple[str, ...]


def default_limits(user_id: int, currency: str) -> tuple[int, int]:
    """The limits a new card form starts with (per purchase, per month): the configured
    defaults, lowered to what the customer's KYC tier lets them spend in naira (a purchase no
    larger than one transaction, a month no more than thirty days of the daily limit or the
    most they may hold). Foreign wallets keep the configured defaults."""
    per_transaction, monthly = settings.cards().default_limits[currency]
    if currency != "NGN":
        return per_transaction, monthly
    user = db.session.get(User, user_id)
    tier = limits.tier_limits(user.kyc_tier if user is not None else 1)
    per_transaction = min(per_transaction, tier.per_transaction)
    caps = [monthly, tier.daily * 30] + ([tier.max_balance] if tier.max_balance else [])
    return per_transaction, max(min(caps), per_transaction)


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
        if len(live) >= settings.cards().max_active:
            raise CardError(
                "label",
                f"You can have {settings.cards().max_active} cards at a time. "
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
                provider=settings.cards().provider,
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
    return locked(Card, Card.reference == reference)


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
    # The issuer's words for the statuses it is told about.
    words: dict[str, str] = {ACTIVE: "active", FROZEN: "frozen", TERMINATED: "terminated"}
    status = words.get(card.status)
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
    return newest(
        CardTransaction,
        CardTransaction.card_id == card_id,
        CardTransaction.kind != CLEARING_KIND,
        limit=limit,
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


def lock_authorisation(authorization_id: Any) -> tuple[Card, CardTransaction] | None:
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
    card = locked_one(Card, Card.id == card_id)
    row = locked_one(CardTransaction, CardTransaction.provider_reference == authorization_id)
    return card, row


def _amount(data: dict[str, Any]) -> int | None:
    amount = data.get("amount")
    if type(amount) is not int or amount <= 0 or amount > 10**15:
        return None
    return amount


class Unconvertible(Exception):
    """An amount the network sent that can't be taken as it stands (a person must look)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class NetworkAmount:
    """An amount from the network in the card's currency; `rate` (card currency per unit of
    `original_currency`) is the network's own, set when it sent another currency."""

    amount: int
    original_amount: int
    original_currency: str
    rate: Decimal | None = None


def _rate(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not rate.is_finite() or rate <= 0 or rate > 10**9:
        return None
    return rate


def network_amount(data: dict[str, Any], currency: str) -> NetworkAmount:
    """The amount a clearing or refund carries, in the card's `currency`.

    Another currency is converted at the rate the network states (`conversion_rate`), never
    read as minor units of the card's; without a usable rate it is refused (Unconvertible).
    """
    amount = _amount(data)
    sent = data.get("currency", currency)
    if amount is None or not isinstance(sent, str) or sent.upper() not in CURRENCIES:
        raise Unconvertible("The network sent an amount or currency we can't read: not taken.")
    sent = sent.upper()
    if sent == currency:
        return NetworkAmount(amount, amount, sent)
    rate = _rate(data.get("conversion_rate"))
    shown = f"{format_amount(amount, sent)} ({sent})"
    if rate is None:
        raise Unconvertible(
            f"{shown} sent on a {currency} card without the network's conversion rate: not taken."
        )
    scale = Decimal(10) ** (get_currency(currency).minor_units - get_currency(sent).minor_units)
    converted = int((Decimal(amount) * rate * scale).quantize(Decimal(1), ROUND_HALF_UP))
    if converted <= 0 or converted > 10**15:
        raise Unconvertible(f"{shown} at the rate {rate} gives no usable amount: not taken.")
    return NetworkAmount(converted, amount, sent, rate)


def _limit_breach(card: Card, row: CardTransaction, *, total: int, new: int) -> str | None:
    """Which limit taking `new` more money (of a purchase now `total`) would break, or None.

    The card's own limits and the KYC tier's, through the one enforcement
    (lumipay.kyc.limits); the authorisation's own hold is already counted in both."""
    if total > card.per_transaction_limit:
        return "the card's limit per purchase"
    if month_spent(card.id, clock.now()) + new > card.monthly_limit:
        return "the card's monthly limit"
    try:
        limits.check_outgoing(card.user_id, row.currency, total, kind="card", reserved=total - new)
    except limits.LimitExceeded as exc:
        return exc.message
    return None


def _clearing_key(data: dict[str, Any], row: CardTransaction) -> str | None:
    """The clearing's own key (the network's clearing id); None when malformed."""
    clearing_id = data.get("clearing_id")
    if clearing_id is None:
        return f"clr-auth:{row.id}"
    if not isinstance(clearing_id, str) or not clearing_id or len(clearing_id) > 60:
        return None
    return f"clr:{clearing_id}"


def clear(data: dict[str, Any]) -> str:
    """Capture what one clearing of an authorisation settles; each clearing once, by its id.

    A split shipment clears one authorisation several times: together they capture up to the
    authorised amount plus CARDS_CLEARING_TOLERANCE_PERCENT. A clearing marked `"final":
    false` keeps the rest of the authorisation held for the next one; otherwise the rest is
    released. What goes above the authorised amount must also fit the card's limits, the KYC
    tier's and the wallet: if not, only the authorised amount is captured and a person looks.
    A clearing after the authorisation's hold ended (expired, or an earlier final clearing)
    is a forced capture: the network has paid the merchant, so it is posted anyway, counted
    against the limits (flagged when over them), and what the wallet can't cover is owed by
    the customer (lumipay.ledger.receivables), never a negative available balance.
    """
    found = lock_authorisation(data.get("authorization_id"))
    if found is None:
        log.warning("clearing for an unknown authorisation, or malformed")
        return "ignored"
    card, row = found
    key = _clearing_key(data, row)
    if key is None:
        _flag(row, "A clearing with a malformed clearing id was not taken.")
        return row.status
    if data.get("clearing_id") is None and row.status == CAPTURED:
        # Without a clearing id, a clearing is the authorisation's only one: a repeat.
        return row.status
    if _recorded(key):
        log.info("clearing repeated", extra={"key": key})
        return row.status
    if row.status not in (APPROVED, CAPTURED, EXPIRED):
        # Crossed with the merchant's reversal (or for a declined one): the network will still
        # settle it with us, so a person decides; nothing is taken on our own.
        _flag(
            row,
            f"A clearing arrived for an authorisation already {row.status}: the network may "
            "settle it with us; nothing was taken from the customer.",
        )
        return row.status
    try:
        sent = network_amount(data, row.currency)
    except Unconvertible as exc:
        _flag(row, exc.message)
        return row.status
    # One lock order (DESIGN rule 8): card, authorisation, its hold, then the wallet.
    hold = ledger.lock_hold(row.hold_id) if row.hold_id is not None else None
    wallet = ledger.lock_wallets([card.account_id])[card.account_id]
    held = hold.amount if hold is not None and hold.status == HoldStatus.ACTIVE else 0
    so_far = row.captured_amount or 0
    within = max(0, min(sent.amount, row.amount - so_far))
    excess = sent.amount - within
    notes: list[str] = []
    if excess:
        tolerance = row.amount * settings.cards().clearing_tolerance_percent // 100
        refusal = None
        if so_far + sent.amount > row.amount + tolerance:
            refusal = "beyond the tolerance"
        elif wallet.available + held < sent.amount:
            refusal = "the wallet could not cover the excess"
        else:
            refusal = _limit_breach(
                card, row, total=so_far + sent.amount, new=sent.amount - min(sent.amount, held)
            )
        if refusal is not None:
            notes.append(
                f"Cleared {format_amount(so_far + sent.amount, row.currency)} against "
                f"{format_amount(row.amount, row.currency)} authorised, over {refusal}: "
                "only the authorised amount was taken."
            )
            excess = 0
    to_capture = within + excess
    new_money = to_capture - min(to_capture, held)
    if new_money and not excess:
        breach = _limit_breach(card, row, total=so_far + to_capture, new=new_money)
        if breach is not None:
            notes.append(f"Forced capture after the authorisation ended, over {breach}.")
    clearing = ledger.system_account(CLEARING, row.currency)
    txn = None
    still_held = False
    if to_capture and held and hold is not None:
        txn = ledger.capture_hold(
            hold.id,
            to_capture,
            clearing.id,
            kind=PURCHASE_KIND,
            narration=row.merchant_name,
            tolerance=max(0, to_capture - hold.amount),
        )
        rest = row.amount - so_far - to_capture
        if data.get("final", True) is False and rest > 0:
            again = ledger.place_hold(
                wallet.id,
                rest,
                reference=f"card:{row.id}:rest:{so_far + to_capture}",
                expires_at=hold.expires_at,
                reason=hold.reason,
                owner="card",
            )
            row.hold_id = again.id
            db.session.expire(row, ["hold"])
            still_held = True
    elif to_capture:
        debit = receivables.debit_or_owe(
            wallet.id, to_capture, clearing.id, kind=PURCHASE_KIND, narration=row.merchant_name
        )
        txn = debit.transaction
        if debit.owed:
            notes.insert(
                0,
                f"{format_amount(debit.owed, row.currency)} the wallet could not cover is "
                "owed by the customer.",
            )
    row.captured_amount = so_far + to_capture
    if txn is not None:
        row.transaction_id = txn.id
    if not still_held and row.captured_amount and row.status != CAPTURED:
        row.move_to(CAPTURED)
    _add_child(
        row,
        kind=CLEARING_KIND,
        status=CAPTURED,
        key=key,
        event_id=f"clearing:{key}",
        sent=sent,
        captured=to_capture,
        txn=txn,
    )
    if notes:
        _flag(row, " ".join(notes))
    if to_capture and card.single_use and card.status in (ACTIVE, FROZEN):
        card.move_to(TERMINATED)
        outbox.add(SYNC_STATUS, card.reference)
        notify(
            card.user_id,
            "Single-use card used",
            f"{card.label} paid {format_amount(to_capture, row.currency)} at {row.merchant_name} "
            "and is now terminated.",
            link=_link(card),
        )
    return row.status


def _add_child(
    row: CardTransaction,
    *,
    kind: str,
    status: str,
    key: str,
    event_id: str,
    sent: NetworkAmount,
    captured: int | None,
    txn: Any,
) -> None:
    """Record one clearing or refund of an authorisation, keyed by the network's own id."""
    converted = sent.rate is not None
    db.session.add(
        CardTransaction(
            provider_reference=key,
            event_id=event_id,
            card_id=row.card_id,
            user_id=row.user_id,
            kind=kind,
            status=status,
            amount=sent.amount,
            currency=row.currency,
            original_amount=sent.original_amount if converted else None,
            original_currency=sent.original_currency if converted else None,
            conversion_rate=sent.rate,
            merchant_name=row.merchant_name,
            merchant_mcc=row.merchant_mcc,
            captured_amount=captured,
            transaction_id=txn.id if txn is not None else None,
            parent_id=row.id,
            created_at=utcnow(),
            settled_at=utcnow(),
        )
    )


def _recorded(provider_reference: str) -> bool:
    found = db.session.scalar(
        select(CardTransaction.id).where(CardTransaction.provider_reference == provider_reference)
    )
    return found is not None


def _flag(row: CardTransaction, note: str) -> None:
    row.needs_attention = True
    row.note = note[:200]
    log.error("card clearing needs attention", extra={"id": row.provider_reference, "note": note})


def reverse(data: dict[str, Any]) -> str:
    """The merchant cancelled an approved authorisation: give the money back to available."""
    found = lock_authorisation(data.get("authorization_id"))
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
    """The merchant refunded a captured purchase: credit the wallet from card clearing, in
    the card's currency (a refund in another one converted at the network's stated rate)."""
    found = lock_authorisation(data.get("authorization_id"))
    refund_id = data.get("refund_id")
    if found is None or not isinstance(refund_id, str) or not refund_id or len(refund_id) > 64:
        log.warning("refund for an unknown authorisation, or malformed")
        return "ignored"
    card, row = found
    if _recorded(refund_id):
        return REFUNDED
    try:
        sent = network_amount(data, row.currency)
    except Unconvertible as exc:
        _flag(row, f"Refund {refund_id}: {exc.message}")
        return "ignored"
    amount = sent.amount
    refunded = sum(
        db.session.scalars(
            select(CardTransaction.amount).where(
                CardTransaction.parent_id == row.id, CardTransaction.kind == REFUND
            )
        )
    )
    if not row.captured_amount or refunded + amount > row.captured_amount:
        _flag(row, f"Refund {refund_id} of {amount} is more than was captured.")
        return "ignored"
    clearing = ledger.system_account(CLEARING, row.currency)
    txn = ledger.transfer(
        REFUND_KIND, clearing.id, card.account_id, amount, narration=f"{row.merchant_name} refund"
    )
    _add_child(
        row,
        kind=REFUND,
        status=REFUNDED,
        key=refund_id,
        event_id=f"refund:{refund_id}",
        sent=sent,
        captured=None,
        txn=txn,
    )
    return REFUNDED


def apply_webhook(event_type: str, data: dict[str, Any]) -> str | None:
    """The cards channel's asynchronous handler; runs inside the inbox's transaction. An event
    type we don't act on is "unhandled": the inbox keeps it for a person."""
    handlers = {"clearing": clear, "reversal": reverse, "refund": refund}
    handler = handlers.get(event_type)
    if handler is None:
        log.error("card webhook type not handled", extra={"type": event_type})
        return "unhandled"
    handler(data)
    return None


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


webhooks.register_handler("cards", apply_webhook)
