"""cards/ (create: issued by a job; list), cards/{card_id} and cards/{card_id}/block (freeze or
unfreeze), through the same lumipay.cards.service as the pages. Never the card number or CVV:
those are shown once, on the web, after the password (and code)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from werkzeug.wrappers import Response

from lumipay.api import idempotent, ids, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import Problem, field_problem, found_or_not_found, refusal_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.cards import service
from lumipay.cards.mcc import DEFAULT_GROUPS
from lumipay.cards.models import ACTIVE, FROZEN, Card, CardStatus
from lumipay.extensions import db
from lumipay.idempotency import service as idempotency
from lumipay.kyc.limits import LimitExceeded, naira_value, tier_limits
from lumipay.ledger.models import Account
from lumipay.web import request_origin

CARD_ID = "<string(maxlength=40):card_id>"


def card_out(card: Card) -> schemas.CardOut:
    return schemas.CardOut(
        card_id=card.public_id,
        reference=card.reference,
        status=CardStatus(card.status),
        label=card.label,
        type="single" if card.single_use else "multi",
        wallet_id=ids.wallet_public_ids({card.account_id})[card.account_id],
        currency=schemas.currency(card.currency),
        brand=card.brand,
        last4=card.last4,
        expiry=card.expiry or None,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        limit=card.monthly_limit,
        per_transaction_limit=card.per_transaction_limit,
        monthly_limit=card.monthly_limit,
        groups=card.groups,
        created_at=card.created_at,
    )


def _own(user: User, card_id: str) -> Card:
    return found_or_not_found(
        service.card_for(user.id, ids.reference_of(Card, user.id, card_id)), NO_SUCH_CARD
    )


def _capped(user: User, currency: str, amount: int) -> int:
    """`amount`, or less: what fits in one transaction of the customer's KYC tier."""
    cap = tier_limits(user.kyc_tier).per_transaction
    try:
        value = naira_value(currency, amount)
    except LimitExceeded:
        return amount  # no rates: the tier's limits still apply to every purchase
    return amount if value <= cap else max(1, amount * cap // value)


NO_SUCH_CARD = "No card of yours has that id."


@contextmanager
def _card_refusals(field: str | None = None) -> Iterator[None]:
    """A card change's refusals as problems: `card-refused` (on `field`, else the refusal's
    own), or `not-found` when the card is not the caller's."""
    try:
        yield
    except service.CardError as exc:
        raise refusal_problem(exc, "card-refused", field=field) from None
    except LookupError:
        raise Problem("not-found", NO_SUCH_CARD) from None


@operation(
    "POST", "/cards/", summary="Create a virtual card on your NGN or USD wallet", tag="cards",
    body=schemas.CardIn, responses={202: schemas.CardOut}, idempotent=True,
    problems=(401, 403, 409, 422),
)  # fmt: skip
def create_card(user: User, body: schemas.CardIn) -> Response:
    """`{wallet_id, currency, limit, type}` (the README's: `type` `single_use` or `multi_use`,
    `limit` the monthly limit, the limit per purchase defaulting to it within your KYC tier's
    cap) or with `per_transaction_limit` and `monthly_limit`. The card is recorded as `issuing`
    and the issuer is asked in the background: poll `GET cards/{card_id}` until `status` is
    `active` (then `brand`, `last4`, `expiry` are set) or `failed`. Limits are minor units of
    the wallet's currency. Once you have a transaction PIN, send it in `X-Transaction-PIN`."""
    key = idempotent.key("cards.create")
    wallet_pk = ids.wallet_pk(user.id, body.wallet_id)
    wallet = db.session.get(Account, wallet_pk) if wallet_pk else None
    if wallet is not None and body.currency is not None and body.currency != wallet.currency:
        raise field_problem("validation-error", "currency", f"This wallet holds {wallet.currency}.")
    monthly = body.monthly_limit if body.monthly_limit is not None else body.limit
    if monthly is None:
        raise field_problem("validation-error", "limit", "Give limit (the monthly limit).")
    if body.monthly_limit is not None and body.limit is not None and body.limit != monthly:
        raise field_problem("validation-error", "limit", "limit is monthly_limit: give one.")
    per_purchase = body.per_transaction_limit or _capped(
        user, wallet.currency if wallet else "NGN", monthly
    )

    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        card = service.card_for(user.id, reference)
        assert card is not None
        return 202, dump(card_out(card))

    groups = tuple(body.groups) if body.groups is not None else DEFAULT_GROUPS
    # A new card can spend the wallet: the PIN authorises it, as every debit (nothing moves yet).
    authorise(user, Debit("card_issue", wallet.currency if wallet else "NGN", 0), key)
    try:
        reference, replayed = service.create_card(
            user.id,
            wallet_pk or None,
            body.label,
            body.type in ("single", "single_use"),
            service.Limits(per_purchase, monthly, groups),
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
        )
    except service.CardError as exc:
        raise refusal_problem(exc, "card-refused") from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, replayed, lambda: respond(reference))


@operation(
    "GET", "/cards/", summary="Your cards, newest first", tag="cards",
    query=schemas.CardsQuery, responses={200: schemas.CardsPageOut}, problems=(401, 422),
)  # fmt: skip
def list_cards(user: User, query: schemas.CardsQuery) -> tuple[int, schemas.CardsPageOut]:
    """Cursor pages: pass `next_cursor` back as `cursor` until it is null."""
    before = None
    if query.cursor is not None:
        before = db.session.scalar(
            select(Card.id).where(Card.public_id == query.cursor, Card.user_id == user.id)
        )
        if before is None:
            raise field_problem("validation-error", "cursor", "Not a cursor of this list.")
    cards = service.cards_for(user.id, before=before, limit=query.limit + 1)
    more = len(cards) > query.limit
    cards = cards[: query.limit]
    next_cursor = str(cards[-1].public_id) if more and cards else None
    return 200, schemas.CardsPageOut(
        items=[card_out(card) for card in cards], next_cursor=next_cursor
    )


@operation(
    "GET", f"/cards/{CARD_ID}", summary="A card of yours", tag="cards",
    responses={200: schemas.CardOut}, problems=(401, 404),
)  # fmt: skip
def get_card(user: User, card_id: str) -> tuple[int, schemas.CardOut]:
    return 200, card_out(_own(user, card_id))


@operation(
    "PATCH", f"/cards/{CARD_ID}/block", summary="Freeze or unfreeze a card", tag="cards",
    body=schemas.CardBlockIn, responses={200: schemas.CardOut}, problems=(401, 404, 422),
    body_optional=True,
)  # fmt: skip
def block_card(user: User, card_id: str, body: schemas.CardBlockIn) -> tuple[int, schemas.CardOut]:
    """No body, or `{"blocked": true}`, freezes an active card (purchases are declined);
    `{"blocked": false}` unfreezes a frozen one. Asking for the state the card is already in
    answers 200 without a change; a terminated, failed or issuing card is `card-refused`."""
    card = _own(user, card_id)
    wanted = FROZEN if body.blocked else ACTIVE
    if card.status != wanted:
        with _card_refusals("blocked"):
            service.change_status(
                user.id, card.reference, "freeze" if body.blocked else "unfreeze",
                origin=request_origin(),
            )  # fmt: skip
    return 200, card_out(_own(user, card_id))


@operation(
    "POST", f"/cards/{CARD_ID}/status", summary="Freeze, unfreeze or terminate a card",
    tag="cards", body=schemas.CardStatusIn, responses={200: schemas.CardOut},
    problems=(401, 404, 422),
)  # fmt: skip
def card_status(
    user: User, card_id: str, body: schemas.CardStatusIn
) -> tuple[int, schemas.CardOut]:
    """As the card page's buttons: `freeze` (active cards), `unfreeze` (frozen ones) and
    `terminate` (final: any hold of a purchase in flight stays until it clears or expires)."""
    card = _own(user, card_id)
    with _card_refusals("action"):
        service.change_status(user.id, card.reference, body.action, origin=request_origin())
    return 200, card_out(_own(user, card_id))


@operation(
    "PATCH", f"/cards/{CARD_ID}/limits", summary="Change a card's limits", tag="cards",
    body=schemas.CardLimitsIn, responses={200: schemas.CardOut}, problems=(401, 404, 422),
)  # fmt: skip
def card_limits(
    user: User, card_id: str, body: schemas.CardLimitsIn
) -> tuple[int, schemas.CardOut]:
    """Give what changes: `limit` (= `monthly_limit`), `per_transaction_limit`, `groups`."""
    card = _own(user, card_id)
    if (
        body.limit is not None
        and body.monthly_limit is not None
        and body.limit != body.monthly_limit
    ):
        raise field_problem("validation-error", "limit", "limit is monthly_limit: give one.")
    monthly = body.monthly_limit or body.limit or card.monthly_limit
    limits = service.Limits(
        body.per_transaction_limit or min(card.per_transaction_limit, monthly),
        monthly,
        tuple(body.groups) if body.groups is not None else tuple(card.groups),
    )
    with _card_refusals():
        service.update_limits(user.id, card.reference, limits, origin=request_origin())
    return 200, card_out(_own(user, card_id))
