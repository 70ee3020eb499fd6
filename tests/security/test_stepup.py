"""Step-up can't be replayed: an old idempotency key never stands in for the second factor."""

from __future__ import annotations

import pyotp

from tests.conftest import PASSWORD, Browser, set_tier
from tests.integration.helpers.api import API, ApiClient, api_register, new_key
from tests.integration.helpers.ledger import money_state
from tests.integration.test_api import assert_problem, transfer_body
from tests.security.conftest import enrol_totp


def signed_in_with_totp(app, register, clock):  # type: ignore[no-untyped-def]
    person = register("Ada Obi")
    set_tier(person.email, 3)  # the step-up threshold is above Tier 1's limits
    secret = enrol_totp(person, clock)
    ada = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.48"}))
    body = {"login": person.email, "password": PASSWORD, "otp_code": pyotp.TOTP(secret).at(clock())}
    ada.take(ada.post("/auth/login", body).json)
    ada.pin = person.pin
    clock.advance(30)
    return ada, secret


def small_first_payment(ada, bayo, clock, key):  # type: ignore[no-untyped-def]
    """A first payment to Bayo steps up by itself: it carries a code."""
    body = transfer_body(ada, bayo, 100, otp_code=pyotp.TOTP(ada.secret).at(clock()))
    assert ada.post("/transfers/", body, key=key).status_int == 201
    clock.advance(30)


def test_an_expired_key_of_a_small_transfer_does_not_skip_the_code(app, ctx, register, clock):
    ada, ada.secret = signed_in_with_totp(app, register, clock)
    bayo = api_register(app, "Bayo Adeyemi")
    key = new_key()
    small_first_payment(ada, bayo, clock, key)
    clock.advance(app.config["IDEMPOTENCY_TTL_SECONDS"] + 60)
    # Keep the sign-in alive across the wait: a fresh access token from the refresh token.
    ada.take(ada.post("/auth/refresh", {"refresh_token": ada.refresh}).json)
    before = money_state()
    big = app.config["STEP_UP_THRESHOLD"] + 1
    response = ada.post("/transfers/", transfer_body(ada, bayo, big), key=key)
    assert_problem(response, 401, "otp-required")
    assert money_state() == before


def test_a_live_key_of_a_small_transfer_is_refused_for_a_large_one(app, ctx, register, clock):
    ada, ada.secret = signed_in_with_totp(app, register, clock)
    bayo = api_register(app, "Bayo Adeyemi")
    key = new_key()
    small_first_payment(ada, bayo, clock, key)
    before = money_state()
    big = app.config["STEP_UP_THRESHOLD"] + 1
    response = ada.post("/transfers/", transfer_body(ada, bayo, big), key=key)
    assert response.status_int in (401, 422), response.text
    assert money_state() == before


def test_an_expired_key_of_a_payout_does_not_skip_the_code_for_a_second_one(
    app, ctx, register, clock, monkeypatch
):  # type: ignore[no-untyped-def]
    """A payout above the threshold went out with its code under key K; long after K expired,
    the same request under K without a code claims nothing: it may only replay, and there is
    nothing left to replay."""
    from lumipay.api.authorise import OTP_HEADER
    from tests.integration.helpers.bank import use_sandbox_bank

    use_sandbox_bank(app, monkeypatch)
    ada, secret = signed_in_with_totp(app, register, clock)
    key = new_key()
    body = {
        "bank_code": "058",
        "account_number": "0123456789",
        "amount": app.config["STEP_UP_THRESHOLD"] + 100,
        "narration": "Rent",
    }
    headers = {**ada.headers(key), OTP_HEADER: pyotp.TOTP(secret).at(clock())}
    first = ada.browser.post_json(API + "/bank/payout", body, headers=headers, expect_errors=True)
    assert first.status_int == 202, first.text
    clock.advance(app.config["IDEMPOTENCY_TTL_SECONDS"] + 60)
    ada.take(ada.post("/auth/refresh", {"refresh_token": ada.refresh}).json)
    before = money_state()
    again = ada.post("/bank/payout", body, key=key)
    assert again.status_int in (401, 422), again.text
    assert money_state() == before, "a second payout went out on the PIN alone"
