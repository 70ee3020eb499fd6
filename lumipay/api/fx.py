"""fx/rates, fx/quotes (price a conversion, valid 30 s) and fx/convert (at the quoted price)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.accounts.service import wallet_for
from lumipay.api import idempotent, ids, schemas
from lumipay.api.authorise import authorise
from lumipay.api.problems import Problem, field_problem, refusal_problem
from lumipay.api.routing import dump, operation
from lumipay.auth.debits import Debit
from lumipay.auth.models import User
from lumipay.fx import service
from lumipay.fx.models import FxQuote
from lumipay.kyc.limits import LimitExceeded
from lumipay.web import request_origin


def _refusal(exc: service.FxError | LimitExceeded, amount_field: str = "amount") -> Problem:
    slug = exc.code or "fx-refused"
    if slug == "not-found":
        return Problem("not-found", exc.message)
    field = amount_field if exc.field == "amount" else exc.field
    return refusal_problem(exc, slug, field=field)


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
            base=schemas.currency(row.base),
            quote=schemas.currency(row.quote),
            mid=f"{row.mid:.6f}",
            buy=f"{row.buy:.6f}",
            sell=f"{row.sell:.6f}",
        )
        for row in service.board(current)
    ]
    return 200, schemas.RatesOut(
        updated_at=current.updated_at,
        stale=current.stale,
        spread_bp=int(settings.fx().spread_bp),
        pairs=pairs,
    )


@operation(
    "POST", "/fx/quotes", summary="Price a conversion between two of your wallets", tag="fx",
    body=schemas.QuoteIn, responses={201: schemas.QuoteOut}, idempotent=True,
    problems=(401, 409, 422, 503),
)  # fmt: skip
def create_quote(user: User, body: schemas.QuoteIn) -> Response:
    """Give `debit_amount` (what leaves the first wallet) or `credit_amount` (what arrives)."""

    source = ids.wallet_pk(user.id, body.from_wallet_id)
    target = ids.wallet_pk(user.id, body.to_wallet_id)

    def run() -> tuple[int, dict[str, Any]]:
        try:
            quote = service.make_quote(
                user.id, source, target, debit=body.debit_amount, credit=body.credit_amount
            )
        except (service.FxError, LimitExceeded) as exc:
            side = "credit_amount" if body.credit_amount is not None else "debit_amount"
            raise _refusal(exc, side) from None
        wallets = ids.wallet_public_ids({quote.from_account_id, quote.to_account_id})
        out = schemas.QuoteOut(
            quote_id=quote.public_id,
            reference=quote.reference,
            from_wallet_id=wallets[quote.from_account_id],
            to_wallet_id=wallets[quote.to_account_id],
            from_currency=schemas.currency(quote.from_currency),
            to_currency=schemas.currency(quote.to_currency),
            mid_rate=str(quote.mid_rate),
            rate=str(quote.rate),
            debit_amount=quote.debit_amount,
            credit_amount=quote.credit_amount,
            fee_amount=quote.fee_amount,
            expires_at=quote.expires_at,
        )
        return 201, dump(out)

    payload = {
        "from": source,
        "to": target,
        "debit": body.debit_amount,
        "credit": body.credit_amount,
    }
    return idempotent.once(user.id, idempotent.key("fx.quote"), "api:fx-quote", payload, run)


@operation(
    "POST", "/fx/convert", summary="Convert at a quote's price", tag="fx",
    body=schemas.ConvertIn, responses={201: schemas.ConversionOut}, idempotent=True,
    problems=(401, 404, 409, 422),
)  # fmt: skip
def convert(user: User, body: schemas.ConvertIn) -> Response:
    """`{from_wallet_id, to_wallet_id, amount}` quotes (`amount` leaves the first wallet) and
    converts in one call; `{quote_id}` converts at a quote from `POST fx/quotes`, once, before
    it expires. The ledger posts both wallets in one transaction."""
    by_quote = body.quote_id is not None
    if by_quote == (body.from_wallet_id is not None or body.to_wallet_id is not None):
        raise field_problem(
            "validation-error", "quote_id", "Give quote_id, or from_wallet_id and to_wallet_id."
        )
    reference, source, target = "", 0, 0
    if by_quote:
        reference = ids.reference_of(FxQuote, user.id, body.quote_id or "")
        payload: dict[str, Any] = {"quote": reference}
    else:
        if body.amount is None:
            raise field_problem("validation-error", "amount", "Give the amount to convert.")
        source = ids.wallet_pk(user.id, body.from_wallet_id)
        target = ids.wallet_pk(user.id, body.to_wallet_id)
        payload = {"from": source, "to": target, "debit": body.amount}

    key = idempotent.key("fx.convert")
    debit = None
    if by_quote:
        quote = service.quote_for(user.id, reference)
        if quote is not None:
            debit = Debit("conversion", quote.from_currency, quote.debit_amount)
    else:
        wallet = wallet_for(user.id, source) if source else None
        if wallet is not None:
            debit = Debit("conversion", wallet.currency, body.amount or 0)
    if debit is not None:
        # How the debit was authorised is part of the request (lumipay.auth.debits).
        payload["step_up"] = authorise(user, debit, key).fingerprint

    def run() -> tuple[int, dict[str, Any]]:
        quote_ref = reference
        if not by_quote:
            try:
                quote_ref = service.make_quote(user.id, source, target, debit=body.amount).reference
            except (service.FxError, LimitExceeded) as exc:
                raise _refusal(exc) from None
        try:
            done = service.convert(user.id, quote_ref, origin=request_origin())
        except (service.FxError, LimitExceeded) as exc:
            raise _refusal(exc) from None
        quote = service.quote_for(user.id, quote_ref)
        assert quote is not None
        wallets = ids.wallet_public_ids({quote.from_account_id, quote.to_account_id})
        out = schemas.ConversionOut(
            transaction_ref=done.reference,
            quote_id=quote.public_id,
            from_wallet_id=wallets[quote.from_account_id],
            to_wallet_id=wallets[quote.to_account_id],
            rate=str(quote.rate),
            from_currency=schemas.currency(quote.from_currency),
            to_currency=schemas.currency(quote.to_currency),
            debit_amount=quote.debit_amount,
            credit_amount=quote.credit_amount,
            fee_amount=quote.fee_amount,
        )
        return 201, dump(out)

    return idempotent.once(user.id, key, "api:fx-convert", payload, run)
