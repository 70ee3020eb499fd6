"""Registration, login and logout through the real forms."""

from __future__ import annotations

from sqlalchemy import func, select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.auth.nuban import is_valid_account_number
from lumipay.extensions import db
from lumipay.ledger.models import Account, Entry
from tests.conftest import PASSWORD, register_via_form, set_pin_via_page, unique_details


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model))


def test_registration_opens_account_with_welcome_bonus(register, ctx):
    ada = register("Ada Chioma Obi")
    page = ada.get("/dashboard")
    assert "₦100,000.00" in page.text
    assert is_valid_account_number("090", ada.account_number)
    user = db.session.scalar(select(User).where(User.email == ada.email))
    assert user.phone.startswith("+234803")
    wallet = db.session.scalar(select(Account).where(Account.user_id == user.id))
    assert (wallet.currency, wallet.balance, wallet.held) == ("NGN", 10_000_000, 0)
    bonus_entries = db.session.scalars(select(Entry).where(Entry.account_id == wallet.id)).all()
    assert [e.amount for e in bonus_entries] == [10_000_000]
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "register" in actions and "pin_set" in actions, "the PIN is step two of registering"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "register"))
    assert event.ip == "198.51.100.20"


def test_registration_refuses_duplicate_email_and_phone_and_writes_nothing(register, web, ctx):
    ada = register("Ada Obi")
    before = (count(User), count(Entry))
    page = register_via_form(web, **{**unique_details("Ada Two"), "email": ada.email.upper()})
    assert page.status_int == 422
    assert "An account with this email already exists." in page.text
    page = register_via_form(web, **{**unique_details("Ada Three"), "phone": ada.phone})
    assert "An account with this phone number already exists." in page.text
    assert (count(User), count(Entry)) == before


def test_registration_refuses_weak_password_and_bad_input(web, ctx):
    cases = {
        "password": ("short", "Use at least 10 characters."),
        "phone": ("12345", "Enter a valid phone number"),
        "email": ("not-an-email", "Enter a valid email address."),
        "full_name": ("  ", "Enter your full name"),
    }
    for field, (value, message) in cases.items():
        page = register_via_form(web, **{**unique_details("Bola Ade"), field: value})
        assert page.status_int == 422, field
        assert message in page.text, field
    page = register_via_form(web, **{**unique_details("Bola Ade"), "password": "1234567890"})
    assert "too easy to guess" in page.text
    assert count(User) == 0 and count(Entry) == 0


def test_registration_without_csrf_token_is_refused(web, ctx):
    response = web.post("/auth/register", {**unique_details("No Token")}, expect_errors=True)
    assert response.status_int == 400
    assert count(User) == 0


def test_bonus_can_be_disabled(app, web, ctx):
    app.config["INITIAL_BONUS"] = 0
    try:
        response = register_via_form(web, **unique_details("Zero Bonus"))
        assert response.status_int == 303
        assert "₦0.00" in set_pin_via_page(web, response.follow()).text
        assert count(Entry) == 0
    finally:
        app.config["INITIAL_BONUS"] = 10_000_000


def test_login_with_email_or_local_phone_and_logout(register, web, ctx):
    ada = register("Ada Obi")
    ada.browser.get("/dashboard").forms["logout-form"].submit().follow()
    assert ada.browser.get("/dashboard").status_int == 302

    form = web.get("/auth/login").forms["login-form"]
    form["email"] = ada.phone  # local format 0803…
    form["password"] = PASSWORD
    page = form.submit().follow()
    assert ada.account_number in page.text

    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("login") == 1 and "logout" in actions


def test_login_failure_is_generic_and_audited(register, web, ctx):
    ada = register("Ada Obi")
    for login in (ada.email, "nobody@example.com"):
        form = web.get("/auth/login").forms["login-form"]
        form["email"] = login
        form["password"] = "wrong-password-123"
        page = form.submit(expect_errors=True)
        assert page.status_int == 422
        assert "password don&#39;t match" in page.text
    failures = db.session.scalar(select(func.count()).where(AuditEvent.action == "login_failed"))
    assert failures == 2


def test_login_next_only_follows_own_paths(register, web, ctx):
    ada = register("Ada Obi")
    for target, expected in (
        ("/transfers/new", "/transfers/new"),
        ("//evil.example", "/dashboard"),
    ):
        browser = web
        browser.reset()
        form = browser.get(f"/auth/login?next={target}").forms["login-form"]
        form["email"] = ada.email
        form["password"] = PASSWORD
        response = form.submit()
        assert response.headers["Location"].endswith(expected)
