"""Failed sign-ins lock the account for a while and tell its owner; rate limits stop floods.
Neither tells an attacker whether an email has an account."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.extensions import db
from tests.conftest import PASSWORD, register_via_form, unique_details
from tests.security.conftest import new_browser, submit_login

WRONG = "not-the-password-1"


def same_words(page, email: str) -> str:  # type: ignore[no-untyped-def]
    """The login form's text with the typed email and the CSRF token blanked: the token is
    signed with the current second, so two pages a second apart differ there and only there."""
    text = page.forms["login-form"].text.replace(email, "X")
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", text)


def test_repeated_failures_lock_the_account_and_notify_the_owner_once(
    app, register, ctx, clock, mails
):
    ada = register("Ada Obi")
    attacker = new_browser(app, ip="192.0.2.66", agent="BruteBot/2")
    threshold = app.config["LOGIN_LOCK_THRESHOLD"]
    pages = [submit_login(attacker, ada.email, WRONG) for _ in range(threshold)]
    assert {p.status_int for p in pages} == {422}
    locked_notices = [m for m in mails if "paused" in m.subject]
    assert len(locked_notices) == 1 and locked_notices[0].to == ada.email
    assert "192.0.2.66" in locked_notices[0].body and "BruteBot/2" in locked_notices[0].body

    # While locked, even the right password is refused, with the very same words.
    owner = new_browser(app)
    locked = submit_login(owner, ada.email, PASSWORD)
    unknown = submit_login(owner, "nobody@example.com", PASSWORD)
    assert locked.status_int == unknown.status_int == 422
    assert same_words(locked, ada.email) == same_words(unknown, "nobody@example.com")
    assert owner.get("/dashboard", expect_errors=True).status_int == 302
    assert len([m for m in mails if "paused" in m.subject]) == 1, "one notice per lock"

    clock.advance(app.config["LOGIN_LOCK_SECONDS"] + 1)
    assert submit_login(owner, ada.email, PASSWORD).status_int == 303
    user = db.session.scalar(select(User).where(User.email == ada.email))
    assert user.failed_logins == 0
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "account_locked")) == 1


def test_a_success_resets_the_failure_count(app, register, ctx):
    ada = register("Ada Obi")
    browser = new_browser(app)
    for _ in range(app.config["LOGIN_LOCK_THRESHOLD"] - 1):
        submit_login(browser, ada.email, WRONG)
    assert submit_login(browser, ada.email, PASSWORD).status_int == 303
    other = new_browser(app)
    submit_login(other, ada.email, WRONG)
    assert submit_login(new_browser(app), ada.email, PASSWORD).status_int == 303


def test_login_attempts_from_one_address_are_rate_limited(app, register, ctx):
    """Spraying many accounts from one address hits the per-address limit (10 a minute)."""
    browser = new_browser(app, ip="192.0.2.99")
    statuses = [submit_login(browser, f"guess{n}@example.com", WRONG).status_int for n in range(11)]
    assert statuses[:10] == [422] * 10
    assert statuses[10] == 429
    assert "Too many attempts" in submit_login(browser, "x@example.com", WRONG).text
    # Another address is not affected.
    elsewhere = new_browser(app, ip="192.0.2.100")
    assert submit_login(elsewhere, "y@example.com", WRONG).status_int == 422


def test_registration_is_rate_limited_per_address(app, ctx):
    browser = new_browser(app, ip="192.0.2.120")
    statuses = [
        register_via_form(browser, **{**unique_details("Spam Bot"), "password": "x"}).status_int
        for _ in range(11)
    ]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


def test_name_enquiry_is_rate_limited_per_customer(register, ctx):
    ada = register("Ada Obi")
    statuses = [
        ada.get(
            "/transfers/name-enquiry",
            params={"to_account_number": f"{n:010d}"},
            expect_errors=True,
        ).status_int
        for n in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_password_reset_requests_are_rate_limited(app, register, ctx, mails):
    ada = register("Ada Obi")
    statuses = []
    for n in range(6):
        browser = new_browser(app, ip=f"192.0.2.{150 + n}")  # many addresses, one mailbox
        form = browser.get("/auth/reset").forms["reset-request-form"]
        form["email"] = ada.email
        statuses.append(form.submit(expect_errors=True).status_int)
    assert statuses == [303] * 5 + [429]
    assert len([m for m in mails if m.subject == "Reset your Lumipay password"]) == 5


def test_transfer_step_one_shares_the_name_enquiry_limit(register, ctx):
    """Step one reveals the recipient's name, so it can't be a way around the lookup limit."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    for n in range(29):
        ada.get("/transfers/name-enquiry", params={"to_account_number": f"{n:010d}"})
    form = ada.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = bayo.account_number
    form["amount"] = "1,000"
    assert form.submit().status_int == 200  # the 30th lookup: the confirm page
    again = ada.get("/transfers/new").forms["transfer-form"]
    again["to_account_number"] = bayo.account_number
    again["amount"] = "1,000"
    refused = again.submit(expect_errors=True)
    assert refused.status_int == 429
    assert "Bayo" not in refused.text
