"""API sign-ins that end: every sign-in, web or API, is one user_sessions row with an absolute
and an idle lifetime, ended by a password change or reset, "sign out everywhere", a freeze, or
the Security page's End button; access tokens must name a family that belongs to their `sub`."""

from __future__ import annotations

import re
import uuid

from joserfc import jwt
from sqlalchemy import select

from lumipay.accounts import freeze
from lumipay.api import tokens
from lumipay.audit.service import SYSTEM
from lumipay.auth.models import User, UserSession
from lumipay.extensions import db
from tests.conftest import PASSWORD, Browser
from tests.integration.helpers.api import ApiClient, api_register
from tests.security.conftest import new_browser
from tests.security.test_passwords import NEW_PASSWORD, change_form, request_reset


def _pk(public_id: str) -> int:
    """The database key of the customer the API names by `public_id`."""
    return db.session.scalar(select(User.id).where(User.public_id == public_id))


def api_login(app, customer) -> ApiClient:  # type: ignore[no-untyped-def]
    client = ApiClient(Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.80"}))
    response = client.post("/auth/login", {"login": customer.email, "password": PASSWORD})
    assert response.status_int == 200, response.text
    client.take(response.json)
    return client


def assert_signed_out(client: ApiClient) -> None:
    me = client.get("/users/me")
    assert me.status_int == 401, me.text
    refreshed = client.post("/auth/refresh", {"refresh_token": client.refresh})
    assert refreshed.status_int == 401, refreshed.text


def test_password_change_ends_api_sign_ins(app, register, ctx):
    ada = register("Ada Obi")
    client = api_login(app, ada)
    assert client.get("/users/me").status_int == 200
    assert change_form(ada, PASSWORD, NEW_PASSWORD).status_int == 303
    assert_signed_out(client)
    assert ada.get("/dashboard").status_int == 200, "the browser that changed it stays in"


def test_password_reset_ends_api_sign_ins(app, register, web, ctx, mails):
    ada = register("Ada Obi")
    client = api_login(app, ada)
    request_reset(web, ada.email)
    token = re.search(r"/auth/reset/(\S+)", mails[-1].body).group(1)
    form = web.get(f"/auth/reset/{token}").forms["reset-password-form"]
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert form.submit().status_int == 303
    assert_signed_out(client)


def test_sign_out_everywhere_ends_api_sign_ins(app, register, ctx):
    ada = register("Ada Obi")
    client = api_login(app, ada)
    assert ada.get("/auth/security").forms["logout-everywhere-form"].submit().status_int == 303
    assert_signed_out(client)


def test_a_freeze_ends_every_sign_in(app, register, ctx):
    ada = register("Ada Obi")
    client = api_login(app, ada)
    user_id = db.session.scalar(select(User.id).where(User.email == ada.email))
    freeze.freeze(user_id, "suspected account takeover", admin_id=user_id, origin=SYSTEM)
    assert_signed_out(client)
    assert ada.get("/dashboard", expect_errors=True).status_int == 302


def test_a_token_naming_another_users_live_family_is_refused(app, ctx):
    victim = api_register(app, "Vic Tim")
    attacker = api_register(app, "Ann Attacker", ip="198.51.100.41")
    family = db.session.scalar(
        select(UserSession.family_id).where(UserSession.user_id == _pk(attacker.user_id))
    )
    now = int(tokens.clock.now().timestamp())
    claims = {
        "iss": tokens.ISSUER, "sub": str(victim.user_id), "fam": family,
        "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex,
    }  # fmt: skip
    forged = jwt.encode({"alg": tokens.ALGORITHM}, claims, tokens._key())
    attacker.access = forged
    assert attacker.get("/users/me").status_int == 401


def test_refreshing_never_extends_the_absolute_lifetime(app, ctx, clock):
    client = api_register(app)
    step = app.config["API_SESSION_IDLE_SECONDS"] - 60
    lived = 0
    while lived + step < app.config["API_SESSION_MAX_SECONDS"]:
        clock.advance(step)
        lived += step
        response = client.post("/auth/refresh", {"refresh_token": client.refresh})
        assert response.status_int == 200, (lived, response.text)
        assert response.json["refresh_expires_in"] <= app.config["API_SESSION_MAX_SECONDS"] - lived
        client.take(response.json)
    clock.advance(app.config["API_SESSION_MAX_SECONDS"] - lived)
    assert_signed_out(client)


def test_an_idle_api_sign_in_ends(app, ctx, clock):
    client = api_register(app)
    clock.advance(app.config["API_SESSION_IDLE_SECONDS"] + 1)
    assert_signed_out(client)
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == _pk(client.user_id)))
    assert row.end_reason == "idle"


def test_security_page_lists_api_sign_ins_and_ends_one(app, register, ctx):
    ada = register("Ada Obi")
    client = api_login(app, ada)
    other = api_login(app, ada)
    page = ada.get("/auth/security")
    assert page.text.count("API client") == 2
    row_id = db.session.scalar(
        select(UserSession.id).where(UserSession.kind == "api").order_by(UserSession.id).limit(1)
    )
    assert page.forms[f"end-session-{row_id}"].submit().status_int == 303
    assert_signed_out(client)
    assert other.get("/users/me").status_int == 200
    assert ada.get("/auth/security").text.count("API client") == 1
    stranger = new_browser(app)
    assert stranger.post(f"/auth/sessions/{row_id}/end", expect_errors=True).status_int in (
        302,
        400,
    )
