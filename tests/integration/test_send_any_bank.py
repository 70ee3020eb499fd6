"""Send money to any bank from one form: Lumipay at once, another bank on the payout rail,
with the holder's name, the tier said at step one, the fee before confirm and the default
approval threshold (₦100,000) holding back only large sends."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lumipay.bank.models import Payout
from lumipay.extensions import db
from lumipay.ledger.models import Hold
from lumipay.ledger.verify import verify_ledger
from tests.conftest import Browser, set_tier, submit_debit
from tests.integration.helpers.bank import GTB, payout, reference_in, settle, use_sandbox_bank
from tests.integration.test_fx import open_usd
from tests.integration.test_transfers import balances_on_dashboard, money_state, wallet

HX = {"HX-Request": "true"}
ACCOUNT = "0123456789"  # the sandbox bank knows a holder for every number not ending 0000


@pytest.fixture(autouse=True)
def sandbox_bank(app: Flask, redis_clean: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    use_sandbox_bank(app, monkeypatch, approval_threshold=app.config["PAYOUT_APPROVAL_THRESHOLD"])
    monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", [0])


def send_step_one(customer: Any, amount: str, *, bank: str = GTB, to: str = ACCOUNT) -> Any:
    form = customer.get("/transfers/new").forms["transfer-form"]
    form["bank_code"] = bank
    form["to_account_number"] = to
    form["amount"] = amount
    form["narration"] = "Rent"
    return form.submit(expect_errors=True)


def payouts() -> int:
    return db.session.scalar(select(func.count(Payout.id)))


def test_the_default_approval_threshold_is_a_hundred_thousand_naira(app):
    assert app.config["PAYOUT_APPROVAL_THRESHOLD"] == 10_000_000


def test_the_bank_list_offers_lumipay_first_then_the_banks(ctx, register):
    ada = register("Ada Obi")
    select_ = ada.get("/transfers/new").forms["transfer-form"]["bank_code"]
    options = [text for _, _, text in select_.options]
    assert options[0] == "Lumipay" and "Guaranty Trust Bank" in options
    assert select_.value == "lumipay"


def test_a_tier_one_customer_hears_at_step_one_that_other_banks_need_verification(ctx, register):
    ada = register("Ada Obi")
    page = ada.get("/transfers/new")
    notice = page.html.find(id="other-bank-tier-notice")
    assert notice is not None and "Tier 2" in notice.text
    assert notice.find("a")["href"] == "/kyc"
    before = money_state()
    refused = send_step_one(ada, "1,000")
    assert refused.status_int == 422
    assert 'id="confirm-form"' not in refused.text
    assert "Payouts to other banks start at Tier 2" in refused.html.find(id="bank_code-error").text
    assert money_state() == before and payouts() == 0


def test_name_enquiry_at_another_bank_then_fee_before_confirm_then_sent_at_once(ctx, register):
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    assert ada.get("/transfers/new").html.find(id="other-bank-tier-notice") is None
    lookup = ada.get(
        "/transfers/name-enquiry",
        params={"bank_code": GTB, "to_account_number": ACCOUNT},
        headers=HX,
    )
    name = re.search(r'id="account-name">([A-Z ]+)<', lookup.text).group(1)
    unknown = ada.get(
        "/transfers/name-enquiry",
        params={"bank_code": GTB, "to_account_number": "0123450000"},
        headers=HX,
    )
    assert "No account with that number at the chosen bank." in unknown.text
    confirm = send_step_one(ada, "10,000")
    assert confirm.status_int == 200, confirm.text
    assert f'id="account-name">{name}<' in confirm.text and "Guaranty Trust Bank" in confirm.text
    assert confirm.html.find(id="payout-fee").text == "₦50.00"
    assert "₦10,050.00" in confirm.text
    assert confirm.html.find(id="payout-review-notice") is None  # below ₦100,000
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦100,000.00")
    response = submit_debit(ada.browser.app, confirm.forms["confirm-form"])
    assert response.status_int == 303, response.text
    assert response.headers["Location"].startswith("/bank/payouts/")
    sent = payout(reference_in(response))
    assert (sent.status, sent.amount, sent.fee, sent.account_name) == (
        "processing",
        1_000_000,
        5_000,
        name,
    )
    assert balances_on_dashboard(ada) == ("₦100,000.00", "₦89,950.00")
    settle()
    assert payout(sent.reference).status == "succeeded"
    assert balances_on_dashboard(ada) == ("₦89,950.00", "₦89,950.00")
    assert verify_ledger().ok


def test_a_send_above_the_threshold_is_reviewed_and_says_so_before_confirm(
    app, ctx, register, monkeypatch
):
    monkeypatch.setitem(app.config, "INITIAL_BONUS", 30_000_000)
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    confirm = send_step_one(ada, "100,000.01")
    assert confirm.status_int == 200, confirm.text
    assert "checked by our team first" in confirm.html.find(id="payout-review-notice").text
    response = submit_debit(ada.browser.app, confirm.forms["confirm-form"])
    assert response.status_int == 303, response.text
    assert payout(reference_in(response)).status == "awaiting_approval"
    assert wallet(ada).held == 10_000_001 + 5_000


def test_the_other_bank_confirm_step_asks_for_the_pin_and_holds_nothing_without_it(ctx, register):
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    confirm = send_step_one(ada, "1,000").forms["confirm-form"]
    confirm["pin"] = "0000" if ada.pin != "0000" else "1357"
    ada.browser.pin = None
    before = money_state()
    refused = confirm.submit(expect_errors=True)
    assert refused.status_int == 422
    assert "That PIN is not right." in refused.html.find(id="pin-error").text
    assert refused.forms["confirm-form"].action == "/transfers/confirm"
    assert money_state() == before and payouts() == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("99,960", "Insufficient available balance"),  # ₦100,010 with the fee
        ("50,000.01", "more than your Tier 2 limit"),
    ],
)
def test_the_balance_and_the_tier_limit_are_said_at_step_one(
    app, ctx, register, monkeypatch, amount, message
):
    monkeypatch.setitem(app.config["KYC_LIMITS"][2], "TRANSACTION_LIMIT", 5_000_000)
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    before = money_state()
    refused = send_step_one(ada, amount)
    assert refused.status_int == 422 and 'id="confirm-form"' not in refused.text
    assert message in refused.text
    assert money_state() == before and payouts() == 0


def test_other_banks_take_naira_only(ctx, register):
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    open_usd(ada)
    form = ada.get("/transfers/new").forms["transfer-form"]
    form["from_wallet_id"].select(text="USD wallet · $0.00 available")
    form["bank_code"] = GTB
    form["to_account_number"] = ACCOUNT
    form["amount"] = "10"
    refused = form.submit(expect_errors=True)
    assert refused.status_int == 422
    assert "send from your NGN wallet" in refused.text


def test_a_lumipay_send_still_works_without_choosing_a_bank(ctx, register):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    form = ada.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = bayo.account_number
    form["amount"] = "1,000"
    confirm = form.submit()
    assert "Confirm transfer" in confirm.text and "Guaranty" not in confirm.text
    assert submit_debit(ada.browser.app, confirm.forms["confirm-form"]).status_int == 303
    assert (wallet(ada).balance, wallet(bayo).balance) == (9_900_000, 10_100_000)


def _confirm_fields(customer: Any, amount: str) -> list[tuple[str, str]]:
    confirm = send_step_one(customer, amount).forms["confirm-form"]
    confirm["pin"] = customer.pin
    return list(confirm.submit_fields())


def _post_all(app: Flask, customer: Any, bodies: list[list[tuple[str, str]]]) -> list[Any]:
    """POST each body to /transfers/confirm from its own browser at the same moment."""
    cookies = {cookie.name: cookie.value for cookie in customer.browser.cookiejar}
    barrier = threading.Barrier(len(bodies))

    def submit(body: list[tuple[str, str]]) -> tuple[int, str]:
        browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.20"})
        for name, value in cookies.items():
            browser.set_cookie(name, value)
        barrier.wait()
        response = browser.post("/transfers/confirm", body, expect_errors=True)
        return response.status_int, response.headers.get("Location", "")

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(submit, bodies))


def test_twin_submits_of_one_send_form_to_another_bank_make_one_payout(app, register, ctx):
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    fields = _confirm_fields(ada, "5,000")
    results = _post_all(app, ada, [fields] * 6)
    # The first claims the key; a twin still in flight gets 409, a later one the same payout.
    assert {status for status, _ in results} <= {303, 409}
    assert len({location for status, location in results if status == 303}) == 1
    db.session.expire_all()
    assert payouts() == 1
    assert wallet(ada).held == 505_000
    assert db.session.scalar(select(func.count(Hold.id))) == 1
    assert verify_ledger().ok


def test_two_sends_at_once_to_other_banks_cannot_overdraw(app, register, ctx, monkeypatch):
    # Below step-up, so each confirm step needs the PIN alone (no one-time code to share).
    monkeypatch.setitem(app.config, "STEP_UP_THRESHOLD", 10**12)
    monkeypatch.setitem(app.config, "STEP_UP_DAILY_THRESHOLD", 10**12)
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    # Each confirm form is valid alone (₦60,000 + ₦50 of ₦100,000); both together would not be.
    bodies = [_confirm_fields(ada, "60,000"), _confirm_fields(ada, "60,000")]
    results = _post_all(app, ada, bodies)
    statuses = sorted(status for status, _ in results)
    assert statuses == [303, 422], results
    db.session.expire_all()
    assert payouts() == 1
    held = wallet(ada)
    assert (held.balance, held.held) == (10_000_000, 6_005_000)
    assert held.balance - held.held >= 0
    assert verify_ledger().ok
