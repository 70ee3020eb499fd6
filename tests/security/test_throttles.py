"""Wrong current passwords count toward the sign-in lockout and are rate-limited; refresh and
every token-less API endpoint are rate-limited; signed webhooks are never throttled, and only
deliveries that fail verification count."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.providers import signing
from tests.conftest import PASSWORD
from tests.integration.helpers.api import api_register
from tests.security.conftest import new_browser, submit_login
from tests.security.test_passwords import NEW_PASSWORD, change_form

WRONG = "not-the-password-1"


def test_wrong_current_passwords_lock_the_account_like_sign_ins(app, register, ctx, mails):
    ada = register("Ada Obi")
    threshold = app.config["LOGIN_LOCK_THRESHOLD"]
    for _ in range(threshold - 1):
        assert change_form(ada, WRONG, NEW_PASSWORD).status_int == 422
    last = change_form(ada, WRONG, NEW_PASSWORD)
    assert last.status_int == 303, "the lock signs the hijacked session out"
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == ada.email))
    assert user.locked_until is not None
    assert any("paused" in m.subject for m in mails)
    # Locked: even the right password does not sign in (nor change it).
    assert submit_login(new_browser(app), ada.email, PASSWORD).status_int == 422


def test_password_change_posts_are_rate_limited(app, register, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_LOGIN", "3 per minute")
    monkeypatch.setitem(app.config, "LOGIN_LOCK_THRESHOLD", 100)
    ada = register("Ada Obi")
    statuses = [change_form(ada, WRONG, NEW_PASSWORD).status_int for _ in range(4)]
    assert statuses == [422, 422, 422, 429]


def test_refresh_is_rate_limited(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_API_PUBLIC", "5 per minute")
    client = api_register(app)
    statuses = [
        client.post("/auth/refresh", {"refresh_token": "not-a-token"}).status_int for _ in range(6)
    ]
    assert statuses[:4] == [401] * 4 and statuses[-1] == 429


def test_signed_webhooks_are_never_throttled_and_forgeries_are(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "LIMIT_WEBHOOK_FAILURES", "3 per minute")
    monkeypatch.setitem(app.config, "LIMIT_API_PUBLIC", "2 per minute")
    provider = new_browser(app, ip="192.0.2.90")
    secret = app.config["WEBHOOK_SECRETS"]["bills"]
    url = "/api/lumipay/v1/webhooks/bills"
    for n in range(10):
        raw = json.dumps({"id": f"evt_ok_{n}", "type": "bill.unknown", "data": {}}).encode()
        headers = signing.signed_headers(secret, int(time.time()), raw)
        response = provider.post(url, raw, headers=headers, expect_errors=True)
        assert response.status_int != 429, n
    forger = new_browser(app, ip="192.0.2.91")
    raw = b'{"id": "evt_forged", "type": "bill.completed", "data": {}}'
    forged = signing.signed_headers("not-the-secret", int(time.time()), raw)
    statuses = [
        forger.post(url, raw, headers=forged, expect_errors=True).status_int for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]
    # The forger's failures never slow the provider at another address.
    raw = json.dumps({"id": "evt_ok_last", "type": "bill.unknown", "data": {}}).encode()
    headers = signing.signed_headers(secret, int(time.time()), raw)
    assert provider.post(url, raw, headers=headers, expect_errors=True).status_int != 429


def test_a_limited_page_s_headers_count_down_and_cost_one_round_trip(
    app, register, ctx, monkeypatch
):
    """Flask-Limiter's X-RateLimit headers on every limited response, their window read from
    Redis in one pipelined round trip: two round trips per limited request in all (the hit and
    the headers), not three."""
    import redis

    from lumipay.ratelimit import limiter

    # The one Limiter's storage is the last app's it was bound to, and other tests build apps
    # of their own (production ones with memory storage): bind it to this one's Redis again.
    limiter.init_app(app)
    monkeypatch.setitem(app.config, "LIMIT_NAME_ENQUIRY", "5 per minute")
    ada = register("Ada Obi")
    sent: list[object] = []
    send = redis.connection.Connection.send_packed_command

    def counted(connection, command, check_health=True):  # type: ignore[no-untyped-def]
        sent.append(command)
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    answers = []
    for _ in range(2):
        sent.clear()
        answers.append(
            ada.get("/transfers/name-enquiry?to_account_number=12", headers={"HX-Request": "true"})
        )
        assert len(sent) == 2, sent
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"5"}
    now = time.time()
    for answer in answers:
        assert now < int(answer.headers["X-RateLimit-Reset"]) <= now + 61
        assert 0 <= int(answer.headers["Retry-After"]) <= 60
