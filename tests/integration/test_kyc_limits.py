"""CBN KYC tier limits: per transaction, daily cumulative and maximum balance, at their edges."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lumipay.audit.service import SYSTEM
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.fx import service as fx
from lumipay.fx.models import FxQuote
from lumipay.kyc import limits
from lumipay.ledger.models import Account, Hold
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import Refused
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import send_transfer
from tests.conftest import set_tier, submit_debit, through_confirm
from tests.integration.helpers.ledger import money_state
from tests.integration.test_fx import open_usd, quote_page
from tests.integration.test_transfers import step_one, wallet

TIER1_LIFT = (
    "Verify your BVN or NIN and an ID document on the Verification page to move up to Tier 2."
)


def confirm(customer: Any, to: str, amount: str) -> Any:
    """Step one and confirm of a transfer; returns the response that answered: step one's 422
    when it refused (a limit is said before the confirm step), else the confirm's (303 or 422)."""
    page = step_one(customer, to, amount)
    if page.status_int == 422:
        return page
    assert page.status_int == 200, page.text
    return submit_debit(customer.browser.app, page.forms["confirm-form"])


def assert_refused(response: Any, message: str, before: Any) -> None:
    assert response.status_int == 422, response.text
    assert message in response.text
    assert money_state() == before


@pytest.fixture()
def rich(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Customers registered in this test get ₦6,000,000 (the welcome bonus is exempt)."""
    monkeypatch.setitem(app.config, "INITIAL_BONUS", 600_000_000)


@pytest.mark.parametrize(
    ("tier", "limit", "shown"),
    [
        (1, 5_000_000, "₦50,000.00"),
        (2, 20_000_000, "₦200,000.00"),
        (3, 500_000_000, "₦5,000,000.00"),
    ],
)
def test_each_tier_sends_exactly_its_limit_and_not_one_kobo_more(
    register, ctx, rich, tier, limit, shown
):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    set_tier(ada.email, tier)
    set_tier(bayo.email, 3)
    naira = f"{limit // 100:,}"

    before = money_state()
    over = confirm(ada, bayo.account_number, f"{naira}.01")
    assert_refused(over, f"more than your Tier {tier} limit of {shown} per transaction", before)

    assert confirm(ada, bayo.account_number, naira).status_int == 303
    assert wallet(ada).balance == 600_000_000 - limit

    before = money_state()
    again = confirm(ada, bayo.account_number, "0.01")
    assert_refused(again, f"past your Tier {tier} daily limit of {shown}", before)
    assert verify_ledger().ok


def test_tier_one_refusal_says_how_to_lift_it(register, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    before = money_state()
    response = confirm(ada, bayo.account_number, "50,000.01")
    assert_refused(response, TIER1_LIFT, before)
    assert "This would take you past" not in response.text  # the per-transaction limit spoke


def test_the_daily_limit_adds_up_several_transfers(register, ctx):
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Okafor")
    assert confirm(ada, bayo.account_number, "20,000").status_int == 303
    assert confirm(ada, cy.account_number, "20,000").status_int == 303
    before = money_state()
    over = confirm(ada, bayo.account_number, "10,000.01")
    assert_refused(over, "you can send ₦10,000.00 more today", before)
    assert confirm(ada, cy.account_number, "10,000").status_int == 303
    assert wallet(ada).balance == 5_000_000
    assert verify_ledger().ok


def test_incoming_money_does_not_lift_the_daily_limit(register, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    assert confirm(bayo, ada.account_number, "30,000").status_int == 303
    assert confirm(ada, bayo.account_number, "50,000").status_int == 303
    before = money_state()
    assert_refused(confirm(ada, bayo.account_number, "0.01"), "Tier 1 daily limit", before)


def airtime(customer: Any, amount: str) -> Any:
    form = customer.get("/bills/airtime").forms["airtime-form"]
    form["network"] = "mtn"
    form["phone"] = "0803 123 4567"
    form["amount"] = amount
    return through_confirm(form.submit(expect_errors=True))


def test_bills_count_against_the_daily_limit_while_held_and_refuse_over_it(register, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    assert airtime(ada, "1,000").status_int == 303  # processing: the hold counts
    assert db.session.scalar(select(func.count()).select_from(Hold)) == 1
    before = money_state()
    assert_refused(confirm(ada, bayo.account_number, "49,000.01"), "Tier 1 daily limit", before)
    assert confirm(ada, bayo.account_number, "49,000").status_int == 303
    before = money_state()
    refused = airtime(ada, "100")
    assert_refused(refused, "Tier 1 daily limit", before)
    assert db.session.scalar(select(func.count()).select_from(Hold)) == 1
    assert verify_ledger().ok


def test_a_conversion_counts_against_the_daily_limit(register, ctx, clock):
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    before = money_state()
    refused = quote_page(ada, "50,000.01")  # said at step one, before the confirm step
    assert_refused(refused, "Tier 1 limit of ₦50,000.00 per transaction", before)
    assert "You can send <strong>₦50,000.00</strong> more today" in refused.text
    assert db.session.scalar(select(FxQuote.status)) != "converted"
    assert verify_ledger().ok


def test_a_conversion_quoted_within_the_limit_is_still_weighed_when_it_posts(register, ctx, clock):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    open_usd(ada)
    fx.update_rates()
    page = quote_page(ada, "30,000")
    assert page.status_int == 200, page.text  # ₦50,000 left today at step one
    assert confirm(ada, bayo.account_number, "30,000").status_int == 303
    before = money_state()
    refused = submit_debit(ada.browser.app, page.forms["quote-confirm-form"])
    assert_refused(refused, "you can send ₦20,000.00 more today", before)
    assert verify_ledger().ok


def test_step_one_says_what_remains_today_and_refuses_past_it(register, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    page = ada.get("/transfers/new")
    assert "You can send <strong>₦50,000.00</strong> more today" in page.text
    assert confirm(ada, bayo.account_number, "30,000").status_int == 303
    assert "You can send <strong>₦20,000.00</strong> more today" in ada.get("/transfers/new").text
    before = money_state()
    refused = step_one(ada, bayo.account_number, "20,000.01")
    assert refused.status_int == 422 and 'id="confirm-form"' not in refused.text
    assert_refused(refused, "you can send ₦20,000.00 more today", before)
    for path in ("/bills/airtime", "/bills/data", "/bills/electricity", "/fx/convert"):
        assert "₦20,000.00</strong> more today" in ada.get(path).text, path
    assert verify_ledger().ok


def test_a_transfer_past_step_one_is_still_refused_when_it_posts(register, ctx):
    """Step one reads the limits without locks; the posting decides under them."""
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Okafor")
    pending = step_one(ada, bayo.account_number, "30,000")
    assert pending.status_int == 200
    assert confirm(ada, cy.account_number, "30,000").status_int == 303
    before = money_state()
    refused = submit_debit(ada.browser.app, pending.forms["confirm-form"])
    assert_refused(refused, "you can send ₦20,000.00 more today", before)


def test_foreign_currency_counts_at_its_naira_value(register, ctx, clock):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    open_usd(ada)
    open_usd(bayo)
    fx.update_rates()
    page = quote_page(ada, "30,000")
    assert page.forms["quote-confirm-form"].submit().status_int == 303
    db.session.expire_all()
    dollars = wallet(ada, "USD").balance
    assert dollars > 0
    # ₦30,000 spent today; ₦20,000 is left, so the dollars (worth about ₦29,700) can't go.
    before = money_state()
    usd = wallet(ada, "USD").id
    refused = step_one(
        ada, bayo.account_number, f"{dollars // 100}.{dollars % 100:02d}", from_wallet_id=usd
    )  # refused at step one: the limits are said before the confirm step
    assert_refused(refused, "you can send ₦20,000.00 more today", before)
    valued = limits.naira_value("USD", dollars)
    assert 2_000_000 < valued <= 3_000_000


@pytest.mark.parametrize(("tier", "room"), [(1, "200,000"), (2, "400,000")])
def test_a_credit_past_the_recipients_maximum_balance_is_refused_without_leaking_it(
    register, ctx, rich, tier, room
):
    ada = register("Ada Obi")
    set_tier(ada.email, 3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ctx.config, "INITIAL_BONUS", 10_000_000)
        bayo = register("Bayo Adeyemi")
    set_tier(bayo.email, tier)
    before = money_state()
    refused = confirm(ada, bayo.account_number, f"{room}.01")
    assert_refused(refused, "maximum balance their verification level allows", before)
    assert "₦100,000" not in refused.text  # Bayo's balance
    assert confirm(ada, bayo.account_number, room).status_int == 303
    db.session.expire_all()
    assert wallet(bayo).balance == limits.tier_limits(tier).max_balance
    assert verify_ledger().ok


def test_tier_three_has_no_maximum_balance(register, ctx, rich):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    set_tier(ada.email, 3)
    set_tier(bayo.email, 3)
    assert confirm(ada, bayo.account_number, "5,000,000").status_int == 303
    db.session.expire_all()
    assert wallet(bayo).balance == 1_100_000_000
    assert verify_ledger().ok


def test_concurrent_transfers_cannot_both_squeeze_under_the_daily_limit(app, register, ctx):
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Okafor")
    set_tier(bayo.email, 3)
    set_tier(cy.email, 3)
    sender = wallet(ada)
    sender_id, from_wallet = sender.user_id, sender.id
    db.session.rollback()

    def one(n: int) -> str:
        with app.app_context():
            try:
                send_transfer(
                    sender_id,
                    from_wallet,
                    (bayo if n % 2 else cy).account_number,
                    1_000_000,  # ₦10,000: five fit under ₦50,000
                    "split",
                    idempotency_key=new_idempotency_key(),
                    origin=SYSTEM,
                )
                return "sent"
            except Refused as exc:
                assert "Tier 1 daily limit" in exc.message
                return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(one, range(8)))
    assert outcomes.count("sent") == 5 and outcomes.count("refused") == 3
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 5
    assert db.session.get(Account, from_wallet).balance == 5_000_000
    assert verify_ledger().ok
