"""fx/rates, fx/quotes (price a conversion, valid 30 s) and fx/convert (at the quoted price)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from werkzeug.wrappers import Response

from lumipay.api import idempotent, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import Problem, field_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.fx import service
from lumipay.web import request_origin


def _refusal(exc: service.FxError, amount_field: str = "amount") -> Problem:
    slug = exc.code or "fx-refused"
    if slug == "not-found":
        return Problem("not-found", exc.message)
    field = amount_field if exc.field == "amount" else exc.field
    return field_problem(slug, field, exc.message)


@operation(
    "GET", "/fx/rates", summary="Buy and sell rates per pair", tag="fx",
    responses={200: schemas.RatesOut}, problems=(401,),
)  # fmt: skip
def rates(user: User) -> tuple[int, schemas.RatesOut]:
    """Decimal rates are strings, so no precision is lost. `stale` rates can't be converted at."""
    del user
    current = service.current_rates()
    pairs = [
        schemas.PairOut(
            base=row.base,  # type: ignore[arg-type]
            quote=row.quote,  # type: ignore[arg-type]
            mid=f"{row.mid:.6f}",
            buy=f"{row.buy:.6f}",
            sell=f"{row.sell:.6f}",
        )
        for row in service.board(current)
    ]
    return 200, schemas.RatesOut(
        updated_at=current.updated_at,
        stale=current.stale,
        spread_bp=int(current_app.config["FX_SPREAD_BP"]),
        pairs=pairs,
    )


@operation(
    "POST", "/fx/quotes", summary="Price a conversion between two of your wallets", tag="fx",
    body=schemas.QuoteIn, responses={201: schemas.QuoteOut}, idempotent=True,
    problems=(401, 409, 422, 503),
)  # fmt: skip
def create_quote(user: User, body: schemas.QuoteIn) -> Response:
    """Give `debit_amount` (what leaves the first wallet) or `credit_amount` (what arrives)."""

    def run() -> tuple[int, dict[str, Any]]:
        try:
            quote = service.make_quote(
                user.id,
                body.from_wallet_id,
                body.to_wallet_id,
                debit=body.debit_amount,
                credit=body.credit_amount,
            )
        except service.FxError as exc:
            side = "credit_amount" if body.credit_amount is not None else "debit_amount"
            raise _refusal(exc, side) from None
        out = schemas.QuoteOut(
            quote_id=quote.reference,
            from_wallet_id=quote.from_account_id,
            to_wallet_id=quote.to_account_id,
            from_currency=quote.from_currency,  # type: ignore[arg-type]
            to_currency=quote.to_currency,  # type: ignore[arg-type]
            mid_rate=str(quote.mid_rate),
            rate=str(quote.rate),
            debit_amount=quote.debit_amount,
            credit_amount=quote.credit_amount,
            fee_amount=quote.fee_amount,
            expires_at=quote.expires_at,
        )
        return 201, dump(out)

    return idempotent.once(user.id, idempotent.key(), "api:fx-quote", dump(body), run)


@operation(
    "POST", "/fx/convert", summary="Convert at a quote's price", tag="fx",
    body=schemas.ConvertIn, responses={201: schemas.ConversionOut}, idempotent=True,
    problems=(401, 404, 409, 422),
)  # fmt: skip
def convert(user: User, body: schemas.ConvertIn) -> Response:
    """Once per quote, before it expires; the ledger posts both wallets in one transaction."""

    key = idempotent.key()
    quote = service.quote_for(user.id, body.quote_id)
    if quote is not None:
        authorise(user, Debit("conversion", quote.from_currency, quote.debit_amount), key)

    def run() -> tuple[int, dict[str, Any]]:
        try:
            done = service.convert(user.id, body.quote_id, origin=request_origin())
        except service.FxError as exc:
            raise _refusal(exc) from None
        quote = service.quote_for(user.id, body.quote_id)
        assert quote is not None
        out = schemas.ConversionOut(
            transaction_ref=done.reference,
            quote_id=quote.reference,
            from_currency=quote.from_currency,  # type: ignore[arg-type]
            to_currency=quote.to_currency,  # type: ignore[arg-type]
            debit_amount=quote.debit_amount,
            credit_amount=quote.credit_amount,
            fee_amount=quote.fee_amount,
        )
        return 201, dump(out)

    return idempotent.once(user.id, key, "api:fx-convert", dump(body), run)
