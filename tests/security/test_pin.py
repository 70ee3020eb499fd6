"""The transaction PIN: 4 digits (not repeated, not in a row), a keyed HMAC, five wrong tries
lock it until a reset (password plus the app's code, or password plus an emailed link); set
right after registering; the API sets it and then carries it on every debit."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from sqlalchemy import select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.extensions import db
from tests.conftest import PASSWORD, PIN, register_via_form, unique_details
from tests.integration.helpers.api import api_register, ngn_wallet_id
from tests.integration.helpers.ledger import money_state
from tests.integration.test_api import assert_problem, transfer_body
from tests.integration.test_transfers import step_one
from tests.security.conftest import code_now, enrol_totp, new_browser


def user(email: str) -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action)))


def test_registering_goes_on_to_the_pin_page(app, ctx):
    browser = new_browser(app)
    response = register_via_form(browser, **unique_details("Ada Obi"))
    assert response.status_int == 303 and response.headers["Location"].endswith("/auth/pin")
    assert "pin-form" in response.follow().forms


@pytest.mark.parametrize("bad", ["1234", "4321", "7777", "0123", "9876", "12a4", "123", "12345"])
def test_weak_or_malformed_pins_are_refused(app, register, ctx, bad):
    ada = register("Ada Obi", pin=None)
    form = ada.get("/auth/pin").forms["pin-form"]
    form["pin"] = form["confirm_pin"] = bad
    assert form.submit(expect_errors=True).status_int == 422
    assert user(ada.email).pin_hash is None


def test_the_pin_is_stored_as_a_keyed_hmac(app, register, ctx):
    ada = register("Ada Obi")
    stored = user(ada.email).pin_hash
    key = app.config["PIN_HMAC_KEY"].encode()
    uid = user(ada.email).id
    assert stored == hmac.new(key, f"{uid}:{PIN}".encode(), hashlib.sha256).hexdigest()
    assert stored != hashlib.sha256(PIN.encode()).hexdigest()
    assert "pin_set" in actions()


def wrong_pin(ada, bayo):  # type: ignore[no-untyped-def]
    form = step_one(ada, bayo.account_number, "1,000").forms["confirm-form"]
    form["pin"] = "9513"
    return form.submit(expect_errors=True)


def test_five_wrong_pins_lock_it_until_reset_with_password_and_emailed_link(
    app, register, ctx, mails
):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    before = money_state()
    for _ in range(app.config["PIN_LOCK_THRESHOLD"]):
        assert wrong_pin(ada, bayo).status_int == 422
    assert user(ada.email).pin_locked_at is not None and "pin_locked" in actions()
    assert any("PIN is locked" in m.subject for m in mails)
    right = (
        step_one(ada, bayo.account_number, "1,000").forms["confirm-form"].submit(expect_errors=True)
    )
    assert right.status_int == 422 and "locked" in right.text, "even the right PIN is refused"
    assert money_state() == before

    form = ada.get("/auth/pin/reset").forms["pin-reset-form"]
    form["password"] = "not-my-password-0"
    assert form.submit(expect_errors=True).status_int == 422
    form = ada.get("/auth/pin/reset").forms["pin-reset-form"]
    form["password"] = PASSWORD
    assert form.submit().status_int == 303
    link = re.search(r"/auth/pin/reset/(\S+)", mails[-1].body).group(1)
    page = ada.get(f"/auth/pin/reset/{link}")
    form = page.forms["pin-form"]
    form["pin"] = form["confirm_pin"] = "8024"
    assert form.submit().status_int == 303
    assert user(ada.email).pin_locked_at is None and "pin_reset" in actions()
    again = ada.get(f"/auth/pin/reset/{link}").forms["pin-form"]
    again["pin"] = again["confirm_pin"] = "6035"
    assert again.submit(expect_errors=True).status_int == 422, "the link works once"
    ada.browser.pin = "8024"
    sent = step_one(ada, bayo.account_number, "1,000").forms["confirm-form"].submit()
    assert sent.status_int == 303


def test_with_two_step_on_the_reset_needs_the_apps_code(app, register, ctx, clock):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    secret = enrol_totp(ada, clock)
    for _ in range(app.config["PIN_LOCK_THRESHOLD"]):
        wrong_pin(ada, bayo)
    form = ada.get("/auth/pin/reset").forms["pin-reset-form"]
    form["password"] = PASSWORD
    form["otp_code"] = "000000"
    form["pin"] = form["confirm_pin"] = "8024"
    assert form.submit(expect_errors=True).status_int == 422
    assert user(ada.email).pin_locked_at is not None
    form = ada.get("/auth/pin/reset").forms["pin-reset-form"]
    form["password"] = PASSWORD
    form["otp_code"] = code_now(secret, clock)
    form["pin"] = form["confirm_pin"] = "8024"
    assert form.submit().status_int == 303
    assert user(ada.email).pin_locked_at is None


def test_api_sets_the_pin_then_every_debit_carries_it(app, ctx):
    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    # A fresh registration without a PIN: the README's small transfer still runs.
    assert ada.post("/transfers/", transfer_body(ada, bayo, 100), key="k" * 20).status_int == 201
    assert_problem(ada.post("/users/me/pin", {"pin": "1234"}), 422, "validation-error")
    assert ada.post("/users/me/pin", {"pin": "2468"}).status_int == 204
    assert_problem(ada.post("/users/me/pin", {"pin": "1357"}), 409, "pin-already-set")
    before = money_state()
    assert_problem(ada.post("/transfers/", transfer_body(ada, bayo, 100), key="a" * 20), 401,
                   "pin-required")  # fmt: skip
    ada.pin = "1359"
    assert_problem(ada.post("/transfers/", transfer_body(ada, bayo, 100), key="b" * 20), 401,
                   "pin-invalid")  # fmt: skip
    assert money_state() == before
    ada.pin = "2468"
    assert ada.post("/transfers/", transfer_body(ada, bayo, 100), key="c" * 20).status_int == 201
    bill = {"category": "airtime", "network": "mtn", "phone": "08031234567", "amount": 10_000}
    ada.pin = None
    assert_problem(ada.post("/bills/pay", bill, key="d" * 20), 401, "pin-required")
    assert ngn_wallet_id(ada)


def test_without_a_pin_api_debits_stay_within_tier_1(app, ctx):
    from tests.conftest import set_tier

    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi")
    set_tier(ada.email, 3)
    over = app.config["KYC_LIMITS"][1]["TRANSACTION_LIMIT"] + 1
    response = ada.post("/transfers/", transfer_body(ada, bayo, over), key="e" * 20)
    assert_problem(response, 403, "pin-not-set")
