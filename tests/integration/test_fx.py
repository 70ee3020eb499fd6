"""FX: rates, 30-second quotes and conversions, through the real forms and the services."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import localcontext
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lumipay.accounts.service import open_wallet, wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.service import register_customer
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.fx import service as fx
from lumipay.fx.models import FxQuote, FxRate
from lumipay.ledger import service as ledger
from lumipay.ledger.models import Account, Entry, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.providers.sandbox_rates import sandbox_rates
from tests.conftest import set_tier, unique_details
from tests.integration.helpers.ledger import money_state
from tests.integration.test_transfers import wallet


def open_usd(customer: Any) -> None:
    page = customer.get("/dashboard")
    token = page.html.find("input", attrs={"name": "csrf_token"})["value"]
    customer.browser.post("/wallets", {"csrf_token": token, "currency": "USD"})


def quote_page(customer: Any, amount: str, *, to: str = "USD", side: str = "debit") -> Any:
    form = customer.get("/fx/convert").forms["convert-form"]
    form["from_wallet_id"].select(value=str(wallet(customer, "NGN" if to != "NGN" else "USD").id))
    form["to_wallet_id"].select(value=str(wallet(customer, to).id))
    form["amount"] = amount
    form["side"] = side
    return form.submit(expect_errors=True)


def conversions() -> int:
    return db.session.scalar(
        select(func.count()).select_from(LedgerTransaction).where(LedgerTransaction.kind == fx.KIND)
    )


def test_rates_page_shows_buy_and_sell_and_age(register, clock, ctx):
    ada = register("Ada Obi")
    assert "No rates yet" in ada.get("/fx").text
    fx.update_rates()
    clock.advance(300)
    fx.update_rates()
    page = ada.get("/fx")
    assert "USD/NGN" in page.text and "We buy" in page.text and "We sell" in page.text
    assert "Updated" in page.text and "<polyline" in page.text
    row = fx.board(fx.current_rates())[0]
    assert row.buy < row.mid < row.sell


def test_sandbox_rates_are_deterministic_and_drift_a_little():
    at = datetime(2026, 1, 1, 12, 0, tzinfo=utcnow().tzinfo)
    assert sandbox_rates(at, 1) == sandbox_rates(at, 1)
    later = sandbox_rates(at + timedelta(minutes=5), 1)
    for code, rate in later.items():
        base = sandbox_rates(at, 1)[code]
        assert abs(rate - base) / base < 0.005
    assert all(type(v).__name__ == "Decimal" for v in later.values())


def test_convert_naira_to_dollars_through_the_forms(register, clock, ctx):
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    page = quote_page(ada, "15,000")
    assert page.status_int == 200, page.text
    quote = db.session.scalar(select(FxQuote))
    assert quote.debit_amount == 1_500_000 and quote.credit_amount > 0
    assert "You pay" in page.text and "You receive" in page.text
    receipt = page.forms["quote-confirm-form"].submit().follow()
    assert receipt.status_int == 200
    db.session.expire_all()
    assert wallet(ada, "NGN").balance == 10_000_000 - quote.debit_amount
    assert wallet(ada, "USD").balance == quote.credit_amount
    assert conversions() == 1
    assert verify_ledger().ok


def test_amount_on_the_receiving_side(register, clock, ctx):
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    page = quote_page(ada, "10.00", side="credit")
    assert page.status_int == 200, page.text
    quote = db.session.scalar(select(FxQuote))
    assert quote.credit_amount == 1_000
    page.forms["quote-confirm-form"].submit()
    db.session.expire_all()
    assert wallet(ada, "USD").balance == 1_000
    assert verify_ledger().ok


def test_confirm_twice_converts_once(register, clock, ctx):
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    form = quote_page(ada, "1,000").forms["quote-confirm-form"]
    first = form.submit()
    second = form.submit()
    assert first.status_int == second.status_int == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert conversions() == 1
    assert verify_ledger().ok


def test_expired_quote_is_refused_and_offers_a_new_quote(register, clock, ctx):
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    form = quote_page(ada, "1,000").forms["quote-confirm-form"]
    before = money_state()
    clock.advance(30)
    page = form.submit(expect_errors=True)
    assert page.status_int == 422
    assert "This quote has expired. Get a new quote." in page.text
    assert page.forms["convert-form"]["amount"].value == "1000.00"
    assert money_state() == before and conversions() == 0


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("same", "Choose a wallet in a different currency."),
        ("stale", "Exchange rates are out of date"),
        ("insufficient", "Insufficient available balance"),
        ("zero", "That amount is too small"),
    ],
)
def test_refusals_change_nothing(register, clock, ctx, case, message):
    ada = register("Ada Obi")
    open_usd(ada)
    if case == "stale":  # the last rates arrived 15 minutes and a second ago
        clock.advance(-901)
    fx.update_rates()
    if case == "stale":
        clock.advance(901)
    before = money_state()
    quotes = db.session.scalar(select(func.count()).select_from(FxQuote))
    form = ada.get("/fx/convert").forms["convert-form"]
    form["from_wallet_id"].select(value=str(wallet(ada, "NGN").id))
    form["to_wallet_id"].select(value=str(wallet(ada, "USD").id))
    form["amount"] = "1,000"
    if case == "same":  # a select only offers the customer's wallets; force a forged pick
        form["to_wallet_id"].select(value=str(wallet(ada, "NGN").id))
    elif case == "insufficient":
        form["amount"] = "100,000.01"
    elif case == "zero":
        form["amount"] = "0.01"
    page = form.submit(expect_errors=True)
    assert page.status_int == 422
    assert message in page.text
    assert money_state() == before
    assert db.session.scalar(select(func.count()).select_from(FxQuote)) == quotes


def test_insufficient_funds_at_confirm_changes_nothing(app, clock, ctx):
    user = register_customer(**unique_details("Ada Obi"), origin=SYSTEM)
    set_tier(user.email, 3)  # ₦100,000 is past Tier 1's limit: the funds must be what refuses
    open_wallet(user.id, "USD", origin=SYSTEM)
    ngn, usd = wallets_for(user.id)
    fx.update_rates()
    quote = fx.make_quote(user.id, ngn.id, usd.id, debit=10_000_000)
    sink = ledger.system_account("test_sink", "NGN")
    run_in_transaction(lambda: ledger.transfer("test", ngn.id, sink.id, 1))
    before = money_state()
    with pytest.raises(fx.FxError, match="Insufficient"):
        fx.convert(user.id, quote.reference, origin=SYSTEM)
    assert money_state() == before
    assert verify_ledger().ok


def test_concurrent_confirms_of_one_quote_convert_once(app, clock, ctx):
    user = register_customer(**unique_details("Ada Obi"), origin=SYSTEM)
    open_wallet(user.id, "USD", origin=SYSTEM)
    ngn, usd = wallets_for(user.id)
    fx.update_rates()
    reference = fx.make_quote(user.id, ngn.id, usd.id, debit=500_000).reference
    barrier = threading.Barrier(8)

    def confirm(_: int) -> str:
        with app.app_context():
            barrier.wait()
            return fx.convert(user.id, reference, origin=SYSTEM).reference

    with ThreadPoolExecutor(8) as pool:
        references = set(pool.map(confirm, range(8)))
    assert len(references) == 1
    db.session.expire_all()
    assert conversions() == 1
    assert db.session.get(Account, ngn.id).balance == 10_000_000 - 500_000
    assert verify_ledger().ok


def test_another_customers_quote_cannot_be_confirmed(register, clock, ctx):
    ada, cy = register("Ada Obi"), register("Cy Okafor")
    open_usd(ada)
    fx.update_rates()
    quote_page(ada, "1,000")
    reference = db.session.scalar(select(FxQuote.reference))
    token = cy.get("/fx/convert").html.find("input", attrs={"name": "csrf_token"})["value"]
    page = cy.browser.post("/fx/confirm", {"csrf_token": token, "quote": reference}, status=422)
    assert "That quote doesn" in page.text
    assert conversions() == 0


def test_fx_update_job_stores_history(ctx, clock):
    from lumipay import schedule  # noqa: F401  (registers fx_update on the schedule)
    from lumipay.fx.jobs import fx_update

    fx_update()
    clock.advance(180)
    fx_update()
    assert db.session.scalar(select(func.count()).select_from(FxRate)) == 8
    assert not fx.current_rates().stale


# --- properties of the price (pure arithmetic on exact Decimals) ---------------------------

RATES_AT = datetime(2026, 11, 26, 12, 0, tzinfo=utcnow().tzinfo)
CODES = ("NGN", "USD", "EUR", "GBP")


def fixed_rates(seed: int) -> fx.Rates:
    return fx.Rates(sandbox_rates(RATES_AT, seed), RATES_AT, False)


pairs = st.sampled_from([(a, b) for a in CODES for b in CODES if a != b])


@settings(max_examples=300, deadline=None)
@given(pair=pairs, amount=st.integers(1, 10**13), seed=st.integers(0, 1000))
def test_rounding_never_favours_the_customer(app, pair, amount, seed):
    with app.app_context():
        rates = fixed_rates(seed)
        a, b = pair
        p = fx.price(rates, a, b, debit=amount, credit=None)
        with localcontext() as exact_arithmetic:
            exact_arithmetic.prec = 80  # the default 28 digits would round 0.999… up to 1
            exact = amount * p.rate  # both currencies have 2 decimals
            assert p.credit <= exact < p.credit + 1
            if p.credit > 0:
                q = fx.price(rates, a, b, debit=None, credit=p.credit)
                assert q.debit <= amount and q.debit * p.rate >= q.credit
                assert q.debit - q.credit / p.rate < 1
        assert p.fee >= 0 and p.fee <= amount


@settings(max_examples=300, deadline=None)
@given(pair=pairs, amount=st.integers(1, 10**13), seed=st.integers(0, 1000))
def test_a_to_b_to_a_never_returns_more_than_was_sent(app, pair, amount, seed):
    with app.app_context():
        rates = fixed_rates(seed)
        a, b = pair
        there = fx.price(rates, a, b, debit=amount, credit=None).credit
        back = fx.price(rates, b, a, debit=there, credit=None).credit if there else 0
        assert back <= amount


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(st.integers(1, 3_000_000), min_size=1, max_size=4),
    to=st.sampled_from(["USD", "EUR", "GBP"]),
)
def test_every_conversion_balances_per_currency(app, ctx, amounts, to):
    user = register_customer(**unique_details("Prop Tester"), origin=SYSTEM)
    set_tier(user.email, 3)  # the amounts add up past Tier 1's daily limit
    open_wallet(user.id, to, origin=SYSTEM)
    ngn, other = wallets_for(user.id)
    fx.update_rates()
    for amount in amounts:
        try:
            quote = fx.make_quote(user.id, ngn.id, other.id, debit=amount)
        except fx.FxError as exc:
            assert "too small" in exc.message or "Insufficient" in exc.message
            continue
        txn = fx.convert(user.id, quote.reference, origin=SYSTEM).reference
        totals = db.session.execute(
            select(Entry.currency, func.sum(Entry.amount))
            .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
            .where(LedgerTransaction.reference == txn)
            .group_by(Entry.currency)
        ).all()
        assert {c: int(t) for c, t in totals} == {"NGN": 0, to: 0}
    assert verify_ledger().ok


# --- the openexchangerates-shaped HTTP adapter against a fake source on loopback -------------


class FakeRatesSource:
    """Serves `/api/latest.json` like openexchangerates.org; `answer` is the next JSON body."""

    def __init__(self) -> None:
        self.status = "200 OK"
        self.answer: str = ""
        self.queries: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.queries.append(f"{environ['PATH_INFO']}?{environ['QUERY_STRING']}")
        start_response(self.status, [("Content-Type", "application/json")])
        return [self.answer.encode()]


@pytest.fixture()
def rates_source(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRatesSource]:
    from tests.integration.helpers.bills import ServerThread

    fake = FakeRatesSource()
    with ServerThread(fake) as server:
        monkeypatch.setitem(app.config, "FX_RATES_PROVIDER", "openexchangerates")
        monkeypatch.setitem(app.config, "FX_RATES_URL", server.url)
        monkeypatch.setitem(app.config, "FX_RATES_APP_ID", "test-app-id")
        monkeypatch.setitem(app.config, "FX_RATES_TIMEOUT", 2)
        yield fake


def published(at: datetime, **rates: str) -> str:
    values = {"USD": "1", "NGN": "1530.123456", "EUR": "0.921577", "GBP": "0.786201", **rates}
    body = ", ".join(f'"{code}": {value}' for code, value in values.items())
    return f'{{"timestamp": {int(at.timestamp())}, "base": "USD", "rates": {{{body}}}}}'


def test_http_adapter_stores_exact_rates_from_the_source(ctx, clock, rates_source):
    rates_source.answer = published(clock.moment - timedelta(seconds=60))
    assert fx.update_rates() == 4
    assert rates_source.queries[0].startswith("/api/latest.json?app_id=test-app-id&base=USD")
    stored = {r.currency: r for r in db.session.scalars(select(FxRate))}
    assert str(stored["NGN"].per_usd.normalize()) == "1530.123456"
    assert {r.source for r in stored.values()} == {"openexchangerates"}
    rates = fx.current_rates()
    assert rates.per_usd["EUR"] == fx.Decimal("0.921577") and not rates.stale


@pytest.mark.parametrize(
    "answer",
    [
        "not json",
        '{"base": "EUR", "timestamp": 1, "rates": {}}',
        "GBP-missing",
        "NGN-negative",
        "500",
    ],
)
def test_http_adapter_refuses_a_bad_answer_and_stores_nothing(ctx, clock, rates_source, answer):
    from lumipay.providers.fx import RatesUnavailable

    at = clock.moment
    rates_source.answer = {
        "GBP-missing": published(at).replace(', "GBP": 0.786201', ""),
        "NGN-negative": published(at, NGN="-1"),
        "500": published(at),
    }.get(answer, answer)
    if answer == "500":
        rates_source.status = "500 Internal Server Error"
    with pytest.raises(RatesUnavailable):
        fx.update_rates()
    assert db.session.scalar(select(func.count()).select_from(FxRate)) == 0
    assert fx.current_rates().stale


def test_old_published_rates_are_stale_and_refuse_quotes(ctx, clock, rates_source):
    rates_source.answer = published(clock.moment - timedelta(seconds=901))
    fx.update_rates()
    user = register_customer(**unique_details("Ada Obi"), origin=SYSTEM)
    open_wallet(user.id, "USD", origin=SYSTEM)
    ngn, usd = wallets_for(user.id)
    with pytest.raises(fx.FxError, match="out of date"):
        fx.make_quote(user.id, ngn.id, usd.id, debit=100_000)


def test_rates_are_cached_in_redis(ctx, clock, app):
    if not app.config.get("REDIS_URL"):
        pytest.skip("redis not configured")
    from lumipay.extensions import redis_connection

    fx.update_rates()
    assert redis_connection().get(fx.CACHE_KEY) is not None
    cached = fx.current_rates()
    db.session.execute(FxRate.__table__.delete())
    assert fx.current_rates() == cached  # served from the cache, not the history
    fx.forget_cached_rates()
    assert fx.current_rates().stale
    db.session.rollback()
