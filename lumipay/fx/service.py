"""FX use cases: refresh rates, show them, quote a conversion, convert at the quoted price.

Rounding (documented, and tested by property): the amount credited is always rounded DOWN to
the credit currency's minor unit and the amount debited always rounded UP, so every rounding
favours the bank by less than one minor unit. The spread (customer rate = mid × (1 − spread))
is the bank's revenue: the part of the debit that the credit, valued at the mid-rate (rounded up
in the customer's favour there, so revenue is never overstated), does not account for.

Ledger, one transaction per conversion, balanced per currency:
  wallet A −debit; FX position A +(debit − fee); FX revenue A +fee;
  FX position B −credit; wallet B +credit.
Tier limits (issue 5) do not exist yet; no limit is checked here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import func, select

from lumipay import clock, settings
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.database import as_utc, locked, run_in_transaction
from lumipay.extensions import db, redis_connection
from lumipay.fx.models import FxQuote, FxRate, QuoteStatus
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.references import new_reference
from lumipay.money import CURRENCIES, MAX_MINOR, format_amount
from lumipay.providers import fx_rates_provider
from lumipay.refusals import INSUFFICIENT_FUNDS, Refused

FX_POSITION = "fx_position"
FX_REVENUE = "fx_revenue"
KIND = "fx_conversion"
log = logging.getLogger(__name__)
PAIRS = (("USD", "NGN"), ("EUR", "NGN"), ("GBP", "NGN"), ("EUR", "USD"), ("GBP", "USD"))


class FxError(Refused):
    """A quote or conversion was refused; `field` names the form field it belongs to."""


def update_rates() -> int:
    """Fetch mid-rates from the configured source, store them (history) and refresh the cache.

    Returns how many rates were stored. A source that answers nothing usable raises
    RatesUnavailable and stores nothing: the old rates keep ageing until they are stale.
    """
    published = fx_rates_provider().latest(clock.now())

    def work() -> int:
        for code, per_usd in published.per_usd.items():
            db.session.add(
                FxRate(
                    currency=code,
                    per_usd=per_usd,
                    source=published.source,
                    fetched_at=published.published_at,
                )
            )
        return len(published.per_usd)

    stored = run_in_transaction(work)
    _cache_rates(published.per_usd, published.published_at)
    return stored


CACHE_KEY = "lumipay:fx:rates"


def _redis() -> Any | None:
    if not settings.core().redis_url:
        return None
    return redis_connection()


def _cache_rates(per_usd: dict[str, Decimal], at: datetime) -> None:
    """Keep the newest rates in Redis (when configured) so pages don't query the history."""
    client = _redis()
    if client is None:
        return
    value = json.dumps({"at": at.isoformat(), "per_usd": {c: str(r) for c, r in per_usd.items()}})
    try:
        client.set(CACHE_KEY, value, ex=settings.fx().rate_max_age)
    except RedisError:
        log.warning("fx rates not cached: redis unavailable")


def forget_cached_rates() -> None:
    client = _redis()
    if client is not None:
        client.delete(CACHE_KEY)


def _cached_rates() -> tuple[dict[str, Decimal], datetime] | None:
    client = _redis()
    if client is None:
        return None
    try:
        raw = client.get(CACHE_KEY)
    except RedisError:
        return None
    if raw is None:
        return None
    data = json.loads(raw)
    return {c: Decimal(r) for c, r in data["per_usd"].items()}, datetime.fromisoformat(data["at"])


@dataclass(frozen=True)
class Rates:
    per_usd: dict[str, Decimal]
    updated_at: datetime | None
    stale: bool


def current_rates() -> Rates:
    """The newest rate per currency, its time, and whether it is too old to convert at.

    From the Redis cache when it holds them, else from the newest rows of the history.
    """
    cached = _cached_rates()
    updated_at: datetime | None
    if cached is not None:
        per_usd, updated_at = cached
    else:
        newest = (
            select(FxRate.currency, func.max(FxRate.fetched_at).label("at"))
            .group_by(FxRate.currency)
            .subquery()
        )
        rows = db.session.execute(
            select(FxRate.currency, FxRate.per_usd, FxRate.fetched_at).join(
                newest,
                (FxRate.currency == newest.c.currency) & (FxRate.fetched_at == newest.c.at),
            )
        ).all()
        per_usd = {code: Decimal(rate) for code, rate, _ in rows}
        updated_at = min((as_utc(at) for _, _, at in rows), default=None)
    if set(per_usd) != set(CURRENCIES) or updated_at is None:
        return Rates(per_usd, None, True)
    max_age = timedelta(seconds=settings.fx().rate_max_age)
    return Rates(per_usd, updated_at, clock.now() - updated_at > max_age)


def mid_rate(rates: Rates, base: str, quote: str) -> Decimal:
    """Units of `quote` per 1 unit of `base` at the mid-rate."""
    with localcontext() as ctx:
        ctx.prec = 40
        return rates.per_usd[quote] / rates.per_usd[base]


def naira_rate(currency: str) -> Decimal | None:
    """Naira per 1 unit of `currency` at today's mid-rate, None while rates are unavailable
    (the KYC limits weigh foreign money with this; registered below)."""
    rates = current_rates()
    if "NGN" not in rates.per_usd or currency not in rates.per_usd:
        return None
    return mid_rate(rates, currency, "NGN")


limits.use_rates(naira_rate)


def spread() -> Decimal:
    return Decimal(settings.fx().spread_bp) / 10000


@dataclass(frozen=True)
class PairRow:
    base: str
    quote: str
    mid: Decimal
    buy: Decimal  # the bank buys base from the customer at this price
    sell: Decimal  # the bank sells base to the customer at this price


def board(rates: Rates) -> list[PairRow]:
    """Buy and sell rates per pair: mid ± the configured spread."""
    rows: list[PairRow] = []
    if rates.updated_at is None:
        return rows
    with localcontext() as ctx:
        ctx.prec = 40
        for base, quote in PAIRS:
            mid = mid_rate(rates, base, quote)
            rows.append(PairRow(base, quote, mid, mid * (1 - spread()), mid * (1 + spread())))
    return rows


def history(days: int = 7) -> dict[str, list[tuple[datetime, Decimal]]]:
    """Per currency, (time, per-USD rate) for the last `days` days, oldest first."""
    since = clock.now() - timedelta(days=days)
    rows = db.session.execute(
        select(FxRate.currency, FxRate.fetched_at, FxRate.per_usd)
        .where(FxRate.fetched_at >= since)
        .order_by(FxRate.fetched_at)
    ).all()
    out: dict[str, list[tuple[datetime, Decimal]]] = {}
    for code, at, rate in rows:
        out.setdefault(code, []).append((as_utc(at), Decimal(rate)))
    return out


def _minor_factor(currency: str) -> Decimal:
    return Decimal(10) ** CURRENCIES[currency].minor_units


@dataclass(frozen=True)
class Price:
    mid: Decimal
    rate: Decimal
    debit: int
    credit: int
    fee: int


def price(
    rates: Rates, from_currency: str, to_currency: str, *, debit: int | None, credit: int | None
) -> Price:
    """Debit, credit and fee in minor units for a conversion given on either side.

    Credit rounds down, debit rounds up: the bank's favour, by less than one minor unit.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        mid = mid_rate(rates, from_currency, to_currency)
        rate = mid * (1 - spread())
        # minor-to-minor factors: credit_minor = debit_minor × rate × 10^dB / 10^dA
        scale = _minor_factor(to_currency) / _minor_factor(from_currency)
        if debit is not None:
            credit = int((Decimal(debit) * rate * scale).to_integral_value(ROUND_FLOOR))
        else:
            assert credit is not None
            debit = int((Decimal(credit) / (rate * scale)).to_integral_value(ROUND_CEILING))
            # the ceiling may buy a little more; the credit stays what was asked for
        at_mid = int((Decimal(credit) / (mid * scale)).to_integral_value(ROUND_CEILING))
        fee = max(debit - at_mid, 0)
    return Price(mid, rate, debit, credit, fee)


def _own_wallet(user_id: int, wallet_id: int | None, field: str) -> Account:
    wallet = db.session.scalar(
        select(Account).where(
            Account.id == wallet_id, Account.user_id == user_id, Account.kind == WALLET
        )
    )
    if wallet is None:
        raise FxError(field, "Choose one of your wallets.")
    return wallet


def make_quote(
    user_id: int,
    from_wallet_id: int | None,
    to_wallet_id: int | None,
    *,
    debit: int | None = None,
    credit: int | None = None,
) -> FxQuote:
    """Price a conversion and store the quote (valid `FX_QUOTE_SECONDS`); raise FxError."""
    source = _own_wallet(user_id, from_wallet_id, "from_wallet_id")
    target = _own_wallet(user_id, to_wallet_id, "to_wallet_id")
    if source.currency == target.currency:
        raise FxError("to_wallet_id", "Choose a wallet in a different currency.")
    given = debit if debit is not None else credit
    if type(given) is not int or given <= 0 or given > MAX_MINOR or (debit and credit):
        raise FxError("amount", "Enter an amount greater than zero.")
    rates = current_rates()
    if rates.stale:
        raise FxError(
            None,
            "Exchange rates are out of date, so conversions are paused. Try again shortly.",
            code="rates-unavailable",
        )
    p = price(rates, source.currency, target.currency, debit=debit, credit=credit)
    if p.credit <= 0 or p.debit <= 0:
        raise FxError(
            "amount",
            f"That amount is too small: it would be less than {format_amount(1, target.currency)}.",
        )
    if p.debit > MAX_MINOR or p.credit > MAX_MINOR:
        raise FxError("amount", "That amount is too large.")
    if source.available < p.debit:
        raise FxError(
            "amount",
            "Insufficient available balance: you have "
            f"{format_amount(source.available, source.currency)} available.",
            code=INSUFFICIENT_FUNDS,
        )
    now = clock.now()

    def work() -> FxQuote:
        quote = FxQuote(
            reference=new_reference("FXQ"),
            user_id=user_id,
            from_account_id=source.id,
            to_account_id=target.id,
            from_currency=source.currency,
            to_currency=target.currency,
            mid_rate=p.mid.quantize(Decimal("0.000000000001")),
            rate=p.rate.quantize(Decimal("0.000000000001")),
            debit_amount=p.debit,
            credit_amount=p.credit,
            fee_amount=p.fee,
            status=QuoteStatus.OPEN,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.fx().quote_seconds),
        )
        db.session.add(quote)
        db.session.flush()
        return quote

    return run_in_transaction(work)


def quote_for(user_id: int, reference: str) -> FxQuote | None:
    return db.session.scalar(
        select(FxQuote).where(FxQuote.reference == reference, FxQuote.user_id == user_id)
    )


@dataclass(frozen=True)
class Conversion:
    reference: str  # the ledger transaction's reference
    replayed: bool


def convert(user_id: int, quote_reference: str, *, origin: Origin) -> Conversion:
    """Convert at a quote's price, once: a repeat (or a concurrent twin) gets the first result.

    The quote row is locked first, so two confirms of one quote queue behind each other and the
    second sees it converted. Quote, audit row and posting commit in one transaction.
    """

    def work() -> Conversion:
        quote = locked(FxQuote, FxQuote.reference == quote_reference, FxQuote.user_id == user_id)
        if quote is None:
            raise FxError(None, "That quote doesn't exist. Get a new quote.", code="not-found")
        if quote.status == QuoteStatus.CONVERTED:
            return Conversion(ledger.transaction_reference(quote.transaction_id) or "", True)
        if clock.now() >= as_utc(quote.expires_at):
            raise FxError(None, "This quote has expired. Get a new quote.", code="quote-expired")
        txn = ledger.begin(
            KIND,
            narration=f"{quote.from_currency} to {quote.to_currency} conversion",
        )
        audit.record(
            KIND,
            origin,
            actor_id=user_id,
            subject=txn.reference,
            quote=quote.reference,
            debit=quote.debit_amount,
            credit=quote.credit_amount,
        )
        legs = [
            ledger.Leg(quote.from_account_id, -quote.debit_amount),
            ledger.Leg(
                ledger.system_account(FX_POSITION, quote.from_currency).id,
                quote.debit_amount - quote.fee_amount,
            ),
            ledger.Leg(
                ledger.system_account(FX_POSITION, quote.to_currency).id, -quote.credit_amount
            ),
            ledger.Leg(quote.to_account_id, quote.credit_amount),
        ]
        if quote.fee_amount:
            legs.append(
                ledger.Leg(
                    ledger.system_account(FX_REVENUE, quote.from_currency).id, quote.fee_amount
                )
            )
        legs = [leg for leg in legs if leg.amount != 0]

        def check(day: date) -> None:
            limits.check_outgoing(
                user_id, quote.from_currency, quote.debit_amount, kind=KIND, day=day
            )

        try:
            ledger.apply(txn, legs, check=check)
        except InsufficientFunds as exc:
            raise FxError("amount", exc.message, code=INSUFFICIENT_FUNDS) from None
        quote.move_to(QuoteStatus.CONVERTED)
        quote.transaction_id = txn.id
        db.session.flush()
        return Conversion(txn.reference, False)

    return run_in_transaction(work)
