"""cards/ (create: issued by a job; list), cards/{card_id} and cards/{card_id}/block (freeze or
unfreeze), through the same lumipay.cards.service as the pages. Never the card number or CVV:
those are shown once, on the web, after the password (and code)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from lumipay.api import idempotent, schemas
from lumipay.api.problems import Problem, field_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.models import User
from lumipay.cards import service
from lumipay.cards.mcc import DEFAULT_GROUPS
from lumipay.cards.models import Card
from lumipay.idempotency import service as idempotency
from lumipay.web import request_origin

CARD_ID = "<string(maxlength=40):card_id>"


def card_out(card: Card) -> schemas.CardOut:
    return schemas.CardOut(
        card_id=card.reference,
        status=card.status,
        label=card.label,
        type="single" if card.single_use else "multi",
        wallet_id=card.account_id,
        currency=card.currency,  # type: ignore[arg-type]
        brand=card.brand,
        last4=card.last4,
        expiry=card.expiry or None,
        per_transaction_limit=card.per_transaction_limit,
        monthly_limit=card.monthly_limit,
        groups=card.groups,
        created_at=card.created_at,
    )


def _own(user: User, card_id: str) -> Card:
    card = service.card_for(user.id, card_id)
    if card is None:
        raise Problem("not-found", "No card of yours has that id.")
    return card


@operation(
    "POST", "/cards/", summary="Create a virtual card on your NGN or USD wallet", tag="cards",
    body=schemas.CardIn, responses={202: schemas.CardOut}, idempotent=True,
    problems=(401, 409, 422),
)  # fmt: skip
def create_card(user: User, body: schemas.CardIn) -> Response:
    """The card is recorded as `issuing` and the issuer is asked in the background: poll
    `GET cards/{card_id}` until `status` is `active` (then `brand`, `last4`, `expiry` are set)
    or `failed`. Limits are minor units of the wallet's currency."""
    key = idempotent.key()

    def respond(reference: str) -> tuple[int, dict[str, Any]]:
        card = service.card_for(user.id, reference)
        assert card is not None
        return 202, dump(card_out(card))

    groups = tuple(body.groups) if body.groups is not None else DEFAULT_GROUPS
    try:
        reference, replayed = service.create_card(
            user.id,
            body.wallet_id,
            body.label,
            body.type == "single",
            service.Limits(body.per_transaction_limit, body.monthly_limit, groups),
            idempotency_key=key,
            origin=request_origin(),
            replayable=idempotency.Replayable(respond),
        )
    except service.CardError as exc:
        raise field_problem("card-refused", exc.field, exc.message) from None
    except idempotency.IdempotencyError as exc:
        raise idempotent.problem_for(exc) from None
    return idempotent.replay_or(user.id, key, replayed, lambda: respond(reference))


@operation(
    "GET", "/cards/", summary="Your cards, newest first", tag="cards",
    query=schemas.HistoryQuery, responses={200: schemas.CardsPageOut}, problems=(401, 422),
)  # fmt: skip
def list_cards(user: User, query: schemas.HistoryQuery) -> tuple[int, schemas.CardsPageOut]:
    """Cursor pages: pass `next_cursor` back as `cursor` until it is null."""
    before = int(query.cursor) if query.cursor else None
    cards = service.cards_for(user.id, before=before, limit=query.limit + 1)
    more = len(cards) > query.limit
    cards = cards[: query.limit]
    next_cursor = str(cards[-1].id) if more and cards else None
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
)  # fmt: skip
def block_card(user: User, card_id: str, body: schemas.CardBlockIn) -> tuple[int, schemas.CardOut]:
    """`{"blocked": true}` freezes an active card (purchases are declined);
    `{"blocked": false}` unfreezes a frozen one. Asking for the state the card is already in
    answers 200 without a change; a terminated, failed or issuing card is `card-refused`."""
    card = _own(user, card_id)
    wanted = "frozen" if body.blocked else "active"
    if card.status != wanted:
        try:
            service.change_status(
                user.id, card.reference, "freeze" if body.blocked else "unfreeze",
                origin=request_origin(),
            )  # fmt: skip
        except service.CardError as exc:
            raise field_problem("card-refused", "blocked", exc.message) from None
        except LookupError:
            raise Problem("not-found", "No card of yours has that id.") from None
    return 200, card_out(_own(user, card_id))
