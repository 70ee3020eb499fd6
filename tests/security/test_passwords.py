"""Password rules, change password (current one required) and reset by an emailed link."""

from __future__ import annotations

import re

from sqlalchemy import select

from lumipay.auth.models import PasswordResetToken, User
from lumipay.extensions import db
from tests.conftest import PASSWORD
from tests.security.conftest import new_browser, submit_login

NEW_PASSWORD = "a-much-better-secret-42"


def change_form(customer, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    form = customer.get("/auth/password").forms["change-password-form"]
    form["current_password"] = current
    form["new_password"] = new
    form["confirm_password"] = new if again is None else again
    return form.submit(expect_errors=True)


def test_change_password_needs_the_current_one_and_the_rules(register, ctx):
    ada = register("Ada Obi")
    before = db.session.scalar(select(User.password_hash).where(User.email == ada.email))
    cases = [
        ("wrong-current-password", NEW_PASSWORD, None, "That is not your current password."),
        (PASSWORD, "short", None, "Use at least 10 characters."),
        (PASSWORD, "qwertyuiop", None, "too easy to guess"),
        (PASSWORD, ada.email.split("@")[0] + "-2026!", None, "Don&#39;t use your name"),
        (PASSWORD, NEW_PASSWORD, "something-else-99", "The two new passwords don&#39;t match."),
        (PASSWORD, PASSWORD, None, "Choose a password you are not using now."),
    ]
    for current, new, again, message in cases:
        page = change_form(ada, current, new, again)
        assert page.status_int == 422, message
        assert message in page.text, message
    db.session.expire_all()
    assert db.session.scalar(select(User.password_hash).where(User.email == ada.email)) == before


def test_change_password_signs_out_other_devices_and_notifies(app, register, ctx, mails):
    ada = register("Ada Obi")
    phone = new_browser(app, ip="192.0.2.44")
    assert submit_login(phone, ada.email, PASSWORD).status_int == 303
    assert phone.get("/dashboard").status_int == 200

    response = change_form(ada, PASSWORD, NEW_PASSWORD)
    assert response.status_int == 303
    assert ada.get("/dashboard").status_int == 200, "the device that changed it stays in"
    assert phone.get("/dashboard", expect_errors=True).status_int == 302
    assert mails[-1].subject == "Your Lumipay password was changed"

    fresh = new_browser(app)
    assert submit_login(fresh, ada.email, PASSWORD).status_int == 422
    assert submit_login(fresh, ada.email, NEW_PASSWORD).status_int == 303


def request_reset(browser, email: str):  # type: ignore[no-untyped-def]
    form = browser.get("/auth/reset").forms["reset-request-form"]
    form["email"] = email
    return form.submit()


def link_in(mail) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r"https?://\S+/auth/reset/(\S+)", mail.body)
    assert match, mail.body
    return match.group(0)


def test_reset_by_emailed_link_is_single_use_and_ends_sessions(app, register, web, ctx, mails):
    ada = register("Ada Obi")
    response = request_reset(web, ada.email)
    assert response.status_int == 303
    assert "If an account uses that email" in response.follow().text
    link = link_in(mails[-1])
    assert link.startswith(app.config["PUBLIC_URL"] + "/auth/reset/")
    token = link.rsplit("/", 1)[1]
    stored = db.session.scalars(select(PasswordResetToken.token_hash)).all()
    assert token not in stored and len(stored) == 1, "only a hash of the token is kept"

    form = web.get(f"/auth/reset/{token}").forms["reset-password-form"]
    form["new_password"] = "short"
    form["confirm_password"] = "short"
    assert form.submit(expect_errors=True).status_int == 422

    form = web.get(f"/auth/reset/{token}").forms["reset-password-form"]
    form["new_password"] = NEW_PASSWORD
    form["confirm_password"] = NEW_PASSWORD
    assert form.submit().status_int == 303
    assert ada.get("/dashboard", expect_errors=True).status_int == 302, "old sessions end"
    assert mails[-1].subject == "Your Lumipay password was reset"

    again = web.get(f"/auth/reset/{token}")
    assert again.status_int == 302
    assert "not valid any more" in again.follow().text
    fresh = new_browser(app)
    assert submit_login(fresh, ada.email, NEW_PASSWORD).status_int == 303


def test_reset_link_expires(app, register, web, ctx, mails, clock):
    ada = register("Ada Obi")
    request_reset(web, ada.email)
    token = link_in(mails[-1]).rsplit("/", 1)[1]
    clock.advance(app.config["PASSWORD_RESET_SECONDS"] + 1)
    assert web.get(f"/auth/reset/{token}").status_int == 302
    page = web.post(
        f"/auth/reset/{token}",
        {
            "csrf_token": web.get("/auth/reset").forms["reset-request-form"]["csrf_token"].value,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert page.status_int == 302
    fresh = new_browser(app)
    assert submit_login(fresh, ada.email, NEW_PASSWORD).status_int == 422


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(register, web, ctx, mails):
    register("Ada Obi")
    mails.clear()
    known_text = request_reset(web, "nobody@example.com").follow().text
    assert mails == []
    assert "If an account uses that email" in known_text


def test_reset_link_ignores_a_forged_host_header(app, register, ctx, mails):
    """The link comes from PUBLIC_URL: a request with Host: evil.example can't redirect it."""
    from lumipay.auth import reset
    from lumipay.web import request_origin

    ada = register("Ada Obi")
    with app.test_request_context("/auth/reset", base_url="http://evil.example/"):
        reset.request_reset(ada.email, origin=request_origin())
    assert mails[-1].subject == "Reset your Lumipay password"
    assert "evil.example" not in mails[-1].body
    assert link_in(mails[-1]).startswith(app.config["PUBLIC_URL"])
