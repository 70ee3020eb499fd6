"""Rate limits on the doors attackers knock on (Flask-Limiter).

Counters live in Redis when `REDIS_URL` is set (shared by every web process), in memory
otherwise. Limit strings come from the config (`LIMIT_*`), so each deployment can tune them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import cast

import redis
from flask import Flask, current_app, request, session
from flask_limiter import Limiter, RouteLimit
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits import RateLimitItem, WindowStats
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter

from lumipay import jsonsafe


class FixedWindow(FixedWindowRateLimiter):
    """Flask-Limiter's default strategy, whose window read for the X-RateLimit headers is one
    Redis round trip (GET and TTL in one pipeline) instead of two, on every limited request.

    The figures are the library's own (`FixedWindowRateLimiter.get_window_stats`); other
    storages (the in-memory fallback) read them as it does.
    """

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        if not isinstance(self.storage, RedisStorage):
            return super().get_window_stats(item, *identifiers)
        key = self.storage.prefixed_key(item.key_for(*identifiers))
        # The library's storage types its client as a protocol without `pipeline`.
        client = cast(redis.Redis, self.storage.get_connection(True))
        pipe = client.pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
        return WindowStats(max(ttl, 0) + time.time(), max(0, item.amount - int(count or 0)))


STRATEGY = "lumipay-fixed-window"
STRATEGIES[STRATEGY] = FixedWindow
limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy=STRATEGY)


def init_app(app: Flask) -> None:
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "lumipay")
    # Redis down: count in this process's memory rather than fail every sign-in with a 500.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


def configured(name: str) -> Callable[[], str]:
    """A limit read from the config at request time (`LIMIT_LOGIN`, …)."""
    return lambda: current_app.config[name]


# Signing in and registering count once per client address, whether through the pages or the
# JSON API: the limit is shared, so switching door buys no extra guesses.
login_limit = limiter.shared_limit(configured("LIMIT_LOGIN"), scope="login", methods=["POST"])
register_limit = limiter.shared_limit(
    configured("LIMIT_REGISTER"), scope="register", methods=["POST"]
)


# Every JSON API endpoint a caller reaches without a token (register, login, refresh) counts
# per client address on top of its own limit: a token-less door is where guessing starts.
public_api_limit = limiter.shared_limit(configured("LIMIT_API_PUBLIC"), scope="api-public")


class WebhookFailures:
    """Counts webhook deliveries that failed verification, per client address.

    Signed deliveries are never throttled (card authorisations have a 2 s deadline); only a
    client that keeps sending unsigned or forged ones is refused, with 429, once it passes
    `LIMIT_WEBHOOK_FAILURES`.
    """

    @staticmethod
    def _limits() -> list[RateLimitItem]:
        from limits import parse_many

        return parse_many(current_app.config["LIMIT_WEBHOOK_FAILURES"])

    @classmethod
    def exhausted(cls, client: str) -> bool:
        return any(
            not limiter.limiter.test(item, "webhook-failures", client) for item in cls._limits()
        )

    @classmethod
    def hit(cls, client: str) -> None:
        for item in cls._limits():
            limiter.limiter.hit(item, "webhook-failures", client)


def by_user() -> str:
    """Signed-in customer; falls back to the client address."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def by_pending_user() -> str:
    """The customer half-way through signing in (password done, second factor not yet)."""
    pending = session.get("pending_login") or {}
    return f"pending:{pending.get('user_id', get_remote_address())}"


def _submitted(name: str) -> str:
    """A field of the posted form or JSON body (never raising on a malformed body)."""
    value = request.form.get(name)
    if value is None and request.is_json:
        try:
            body = jsonsafe.loads(request.get_data(cache=True))
        except (ValueError, UnicodeDecodeError):
            body = None
        value = body.get(name) if isinstance(body, dict) else None
    return str(value or "").strip().lower()[:254]


def by_registered_email() -> str:
    return "email:" + _submitted("email")


def by_registered_phone() -> str:
    return "phone:" + re.sub(r"[^0-9]", "", _submitted("phone"))[-10:]


def _address_limit(key_func: Callable[[], str], scope: str) -> RouteLimit:
    return limiter.shared_limit(
        configured("LIMIT_REGISTER_ADDRESS"), scope=scope, key_func=key_func, methods=["POST"]
    )


# Registering counts per client address (above) and per email and per phone asked about, so
# asking about one person is slow however many clients ask.
register_email_limit = _address_limit(by_registered_email, "register-email")
register_phone_limit = _address_limit(by_registered_phone, "register-phone")


def by_submitted_email() -> str:
    """The email typed into a form, so one mailbox can't be flooded from many addresses."""
    return "email:" + (request.form.get("email") or "").strip().lower()[:254]
