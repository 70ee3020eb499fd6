"""Two-step verification: enrolment with an SVG QR code, recovery codes shown once and stored
hashed, the sign-in second step (no replays), admins made to enrol, and transfer step-up."""

from __future__ import annotations

import re

from sqlalchemy import select

from lumipay.auth.models import RecoveryCode, User
from lumipay.auth.service import create_admin
from lumipay.extensions import db
from lumipay.transfers.models import Transfer
from tests.conftest import PASSWORD, Browser, set_tier, submit_debit
from tests.integration.helpers.ledger import money_state
from tests.integration.test_transfers import reference_of, send, step_one
from tests.security.conftest import (
    code_now,
    enrol_totp,
    new_browser,
    recovery_codes_on,
    submit_login,
)


def second_step(browser, code: str):  # type: ignore[no-untyped-def]
    form = browser.get("/auth/two-factor").forms["two-factor-form"]
    form["code"] = code
    return form.submit(expect_errors=True)


def test_enrolment_shows_an_svg_qr_and_needs_a_right_first_code(register, ctx, clock):
    ada = register("Ada Obi")
    page = ada.get("/auth/two-factor/setup")
    qr = page.html.find("img", class_="qr")
    assert qr["src"].startswith("data:image/svg+xml")
    form = page.forms["two-factor-setup-form"]
    form["code"] = "000000"
    wrong = form.submit(expect_errors=True)
    assert wrong.status_int == 422 and "doesn&#39;t match" in wrong.text
    assert db.session.scalar(select(User.totp_secret).where(User.email == ada.email)) is None

    page = ada.get("/auth/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    form = page.forms["two-factor-setup-form"]
    form["code"] = code_now(secret, clock)
    done = form.submit()
    codes = recovery_codes_on(done)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not set(codes) & set(stored), "only hashes are stored"
    again = ada.get("/auth/two-factor/setup").follow()
    assert not recovery_codes_on(again), "codes are shown once"
    assert "On since" in again.text


def test_sign_in_needs_the_code_once_enrolled_and_refuses_a_replay(app, register, ctx, clock):
    ada = register("Ada Obi")
    secret = enrol_totp(ada, clock)
    browser = new_browser(app)
    response = submit_login(browser, ada.email, PASSWORD, next_="/transfers/new")
    assert response.status_int == 303 and response.headers["Location"].endswith("/auth/two-factor")
    assert browser.get("/dashboard", expect_errors=True).status_int == 302, "not signed in yet"

    assert second_step(browser, "123456").status_int == 422
    code = code_now(secret, clock)
    done = second_step(browser, code)
    assert done.status_int == 303 and done.headers["Location"].endswith("/transfers/new")
    assert browser.get("/dashboard").status_int == 200

    replay = new_browser(app, ip="192.0.2.201")
    submit_login(replay, ada.email, PASSWORD)
    assert second_step(replay, code).status_int == 422, "a used code is refused"
    clock.advance(30)
    assert second_step(replay, code_now(secret, clock)).status_int == 303


def test_recovery_code_works_once(app, register, ctx, clock):
    ada = register("Ada Obi")
    page = ada.get("/auth/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    form = page.forms["two-factor-setup-form"]
    form["code"] = code_now(secret, clock)
    codes = recovery_codes_on(form.submit())
    first = new_browser(app)
    submit_login(first, ada.email, PASSWORD)
    assert second_step(first, codes[0].lower()).status_int == 303
    second = new_browser(app)
    submit_login(second, ada.email, PASSWORD)
    assert second_step(second, codes[0]).status_int == 422


def test_wrong_codes_count_towards_the_lock(app, register, ctx, clock, mails):
    ada = register("Ada Obi")
    enrol_totp(ada, clock)
    browser = new_browser(app)
    submit_login(browser, ada.email, PASSWORD)
    statuses = [second_step(browser, f"{n:06d}").status_int for n in range(4)]
    assert statuses == [422] * 4
    last = second_step(browser, "999999")
    assert last.status_int == 303 and last.headers["Location"].endswith("/auth/login")
    assert any("paused" in m.subject for m in mails)
    assert db.session.scalar(select(User.locked_until).where(User.email == ada.email))


def test_totp_entry_is_rate_limited(app, register, ctx, clock):
    ada = register("Ada Obi")
    enrol_totp(ada, clock)
    app.config["LOGIN_LOCK_THRESHOLD"] = 1000
    try:
        statuses = []
        for _ in range(2):
            browser = new_browser(app)
            submit_login(browser, ada.email, PASSWORD)
            statuses += [second_step(browser, "000000").status_int for _ in range(3)]
    finally:
        app.config["LOGIN_LOCK_THRESHOLD"] = 5
    assert 429 in statuses
    assert statuses[:5] == [422] * 5


def test_admin_must_enrol_before_anything_else(app, ctx, clock):
    create_admin("Tola Bello", "admin@example.com", "08030000001", PASSWORD)
    admin = new_browser(app)
    assert submit_login(admin, "admin@example.com", PASSWORD).status_int == 303
    response = admin.get("/dashboard")
    assert response.status_int == 302
    assert response.headers["Location"].endswith("/auth/two-factor/setup")
    page = admin.get("/auth/two-factor/setup")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    form = page.forms["two-factor-setup-form"]
    form["code"] = code_now(secret, clock)
    form.submit()
    assert admin.get("/dashboard").status_int == 200
    clock.advance(30)
    again = new_browser(app)
    assert (
        submit_login(again, "admin@example.com", PASSWORD)
        .headers["Location"]
        .endswith("/auth/two-factor")
    )


def test_large_transfer_needs_the_code_when_enrolled(register, ctx, clock):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    set_tier(ada.email, 2)  # ₦60,000 is past Tier 1's limit
    send(ada, bayo.account_number, "1")  # a first payment to Bayo would step up by itself
    secret = enrol_totp(ada, clock)

    small = step_one(ada, bayo.account_number, "50,000")
    assert "otp_code" not in small.forms["confirm-form"].fields, "at the threshold: no code"

    confirm = step_one(ada, bayo.account_number, "50,000.01")
    form = confirm.forms["confirm-form"]
    assert "otp_code" in form.fields
    before = money_state()
    form["otp_code"] = "000000"
    wrong = form.submit(expect_errors=True)
    assert wrong.status_int == 422 and "doesn&#39;t match" in wrong.text
    assert money_state() == before
    form = wrong.forms["confirm-form"]
    assert form["idempotency_key"].value == confirm.forms["confirm-form"]["idempotency_key"].value
    form["otp_code"] = code_now(secret, clock)
    sent = form.submit()
    assert sent.status_int == 303
    # A resubmit of the same form (its code now spent) still reaches its receipt, once.
    again = form.submit()
    assert again.status_int == 303 and reference_of(again) == reference_of(sent)
    assert db.session.query(Transfer).count() == 2, "the first ₦1 and this one, once"


def test_large_transfer_without_enrolment_needs_pin_and_emailed_code_with_an_offer(
    app, register, ctx, mails
):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    set_tier(ada.email, 2)  # ₦60,000 is past Tier 1's limit
    confirm = step_one(ada, bayo.account_number, "60,000")
    assert "otp_code" not in confirm.forms["confirm-form"].fields
    offer = confirm.html.find(id="two-factor-offer")
    assert offer is not None and "/auth/two-factor/setup" in offer.find("a")["href"]
    asked = confirm.forms["confirm-form"].submit(expect_errors=True)
    assert asked.status_int == 422 and "We emailed you a one-time code" in asked.text
    form = asked.forms["confirm-form"]
    form["email_code"] = "000000"
    assert form.submit(expect_errors=True).status_int == 422, "a wrong code moves nothing"
    assert submit_debit(app, form).status_int == 303
    small = step_one(ada, bayo.account_number, "1,000")
    assert small.html.find(id="two-factor-offer") is None


def test_turning_on_two_step_rotates_the_session(app, register, ctx, clock):
    ada = register("Ada Obi")
    before = ada.browser.cookies["session"]
    copy = Browser(app, extra_environ=dict(ada.browser.extra_environ))
    copy.set_cookie("session", before)
    assert copy.get("/dashboard").status_int == 200, "precondition: the copy works"
    enrol_totp(ada, clock)
    assert ada.browser.cookies["session"] != before
    assert ada.get("/dashboard").status_int == 200
    assert copy.get("/dashboard", expect_errors=True).status_int == 302, "old id is dead"


def test_the_password_does_not_wipe_out_failed_code_guesses(app, register, ctx, clock):
    """Knowing the password, an attacker can't reset the count by signing in again."""
    ada = register("Ada Obi")
    enrol_totp(ada, clock)
    for attempt in range(app.config["LOGIN_LOCK_THRESHOLD"]):
        browser = new_browser(app, ip=f"192.0.2.{60 + attempt}")
        submit_login(browser, ada.email, PASSWORD)
        second_step(browser, "000000")
    assert db.session.scalar(select(User.locked_until).where(User.email == ada.email))


def test_the_second_step_expires(app, register, ctx, clock):
    ada = register("Ada Obi")
    secret = enrol_totp(ada, clock)
    browser = new_browser(app)
    submit_login(browser, ada.email, PASSWORD)
    clock.advance(301)
    response = browser.get("/auth/two-factor")
    assert response.status_int == 302 and response.headers["Location"].endswith("/auth/login")
    assert second_step_post_fails(browser, code_now(secret, clock))


def second_step_post_fails(browser, code: str) -> bool:  # type: ignore[no-untyped-def]
    token = browser.get("/auth/login").forms["login-form"]["csrf_token"].value
    response = browser.post("/auth/two-factor", {"csrf_token": token, "code": code})
    return response.status_int == 302 and browser.get("/dashboard").status_int == 302
