"""Sessions: idle timeout with a warning, absolute lifetime, a new id at sign-in, sign-out that
really ends the session (a copied cookie stops working), sign-out everywhere, the new sign-in
notice, and `next=` only to our own paths."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from lumipay.auth.models import UserSession
from lumipay.extensions import db
from tests.conftest import PASSWORD, Browser
from tests.security.conftest import new_browser, submit_login


def session_cookie(browser) -> str:  # type: ignore[no-untyped-def]
    return browser.cookies.get("session", "")


def test_idle_session_ends_after_the_timeout_and_pages_carry_the_warning(app, register, ctx, clock):
    ada = register("Ada Obi")
    page = ada.get("/dashboard")
    warning = page.html.find(id="idle-warning")
    assert warning is not None and warning.has_attr("hidden")
    assert warning["data-idle-seconds"] == str(app.config["SESSION_IDLE_SECONDS"])
    assert warning.find("form")["action"] == "/auth/keepalive"

    idle = app.config["SESSION_IDLE_SECONDS"]
    clock.advance(idle - 5)
    assert ada.get("/dashboard").status_int == 200, "activity before the timeout keeps it"
    clock.advance(idle - 5)
    keep = ada.get("/dashboard").forms["keepalive-form"].submit()
    assert keep.status_int == 303
    clock.advance(idle + 1)
    response = ada.get("/dashboard/history")
    assert response.status_int == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert "signed out after 10 minutes without activity" in response.follow().text
    row = db.session.scalar(select(UserSession))
    assert row.end_reason == "idle"


def test_session_has_an_absolute_lifetime(app, register, ctx, clock):
    ada = register("Ada Obi")
    step = app.config["SESSION_IDLE_SECONDS"] - 1
    for _ in range(app.config["SESSION_MAX_SECONDS"] // step):
        clock.advance(step)
        if ada.get("/dashboard", expect_errors=True).status_int != 200:
            break
    clock.advance(step)
    response = ada.get("/dashboard", expect_errors=True)
    assert response.status_int == 302
    assert "time limit" in response.follow().text


def test_sign_in_starts_a_new_session_and_drops_what_came_before(app, register, ctx):
    ada = register("Ada Obi")
    browser = new_browser(app)
    browser.get("/auth/login")
    before = session_cookie(browser)
    assert submit_login(browser, ada.email, PASSWORD).status_int == 303
    after = session_cookie(browser)
    assert before and after and before != after
    # The session cookie from before sign-in (an attacker's planted one) is not signed in.
    planted = new_browser(app)
    planted.set_cookie("session", before)
    assert planted.get("/dashboard", expect_errors=True).status_int == 302


def test_a_copied_cookie_stops_working_after_sign_out(app, register, ctx):
    ada = register("Ada Obi")
    stolen = session_cookie(ada.browser)
    # Same address and browser string as Ada (they are not secrets), only the cookie copied.
    thief = Browser(app, extra_environ=dict(ada.browser.extra_environ))
    thief.set_cookie("session", stolen)
    assert thief.get("/dashboard").status_int == 200, "precondition: the copy works"
    ada.get("/dashboard").forms["logout-form"].submit()
    assert thief.get("/dashboard", expect_errors=True).status_int == 302


def test_sign_out_everywhere_ends_every_session(app, register, ctx):
    ada = register("Ada Obi")
    laptop = new_browser(app, ip="192.0.2.21")
    assert submit_login(laptop, ada.email, PASSWORD).status_int == 303
    page = laptop.get("/auth/security")
    assert "192.0.2.21" in page.text and "198.51.100.20" in page.text
    page.forms["logout-everywhere-form"].submit()
    assert laptop.get("/dashboard", expect_errors=True).status_int == 302
    assert ada.get("/dashboard", expect_errors=True).status_int == 302
    rows = db.session.scalars(select(UserSession)).all()
    assert rows and all(r.ended_at is not None for r in rows)


def test_new_sign_in_notice_names_address_and_browser(app, register, ctx, mails):
    ada = register("Ada Obi")
    mails.clear()
    browser = new_browser(app, ip="192.0.2.77", agent="Mozilla/5.0 (TestOS) Firefox/140")
    assert submit_login(browser, ada.email, PASSWORD).status_int == 303
    assert [m.subject for m in mails] == ["New sign-in to your Lumipay account"]
    assert "192.0.2.77" in mails[0].body and "Firefox/140" in mails[0].body
    assert mails[0].to == ada.email


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/transfers/new", "/transfers/new"),
        ("/dashboard/history?before=5", "/dashboard/history?before=5"),
        ("//evil.example", "/dashboard"),
        ("https://evil.example/x", "/dashboard"),
        ("http:evil.example", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
        ("\\\\evil.example", "/dashboard"),
        ("javascript:alert(1)", "/dashboard"),
        ("%2F%2Fevil.example", "/dashboard"),
        ("/%0d%0aSet-Cookie:x=1", "/dashboard"),
        ("evil.example", "/dashboard"),
    ],
)
def test_next_only_follows_our_own_paths(app, register, ctx, target, expected):
    ada = register("Ada Obi")
    browser = new_browser(app)
    response = submit_login(browser, ada.email, PASSWORD, next_=target)
    assert response.status_int == 303
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost", "localhost:80"), location
    assert "\r" not in location and "\n" not in location
    assert location.endswith(expected) or parts.path == "/dashboard", location


def test_a_page_reads_the_session_and_its_user_in_one_statement(app, register, ctx):
    """The guard's read is the only read of the user, and nothing is rolled back between it
    and the view (Flask-Login's load is answered from what the guard read)."""
    from sqlalchemy import event

    ada = register("Ada Obi")
    ada.get("/dashboard")
    events: list[str] = []

    def statement(_conn, _cursor, sql: str, *_args) -> None:  # type: ignore[no-untyped-def]
        events.append(" ".join(sql.split()))

    def rollback(_conn) -> None:  # type: ignore[no-untyped-def]
        events.append("ROLLBACK")

    engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "rollback", rollback)
    try:
        assert ada.get("/dashboard").status_int == 200
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "rollback", rollback)
    assert "FROM user_sessions JOIN users ON users.id = user_sessions.user_id" in events[0]
    assert events[1] != "ROLLBACK", events[:3]
    assert not [e for e in events if "FROM users WHERE users.id =" in e], events
