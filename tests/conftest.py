"""Fixtures for the whole suite: real PostgreSQL and Redis, the app, WebTest and a login helper.

TEST_DATABASE_URL (default: the local server's `lumipay_test` database, created if missing) and
TEST_REDIS_URL (default: 127.0.0.1:6379, db 15). When either is unreachable the suite says so
loudly and runs what it can; with CI=true an unreachable service fails the run.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from hypothesis import settings
from webtest import TestApp

from lumipay.config import normalise_database_url

# Property tests draw the same examples on every run (the brief: deterministic tests).
settings.register_profile("lumipay", derandomize=True)
settings.load_profile("lumipay")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/lumipay_test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
PASSWORD = "correct-horse-battery-9"
PIN = "2580"


def _database_url() -> str:
    return normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL))


def _redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


def _ensure_database(url: str) -> str | None:
    """Create the test database if missing; return why it can't be reached, or None."""
    target = sa.engine.make_url(url)
    try:
        admin = sa.create_engine(
            target.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )
        with admin.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        probe = sa.create_engine(target)
        with probe.connect():
            pass
        probe.dispose()
    except Exception as exc:  # any failure means unreachable
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _redis_problem(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


SERVICES: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    SERVICES["postgres"] = _ensure_database(_database_url())
    SERVICES["redis"] = _redis_problem(_redis_url())
    down = {name: why for name, why in SERVICES.items() if why}
    if not down:
        return
    lines = [f"  {name} UNREACHABLE: {why}" for name, why in down.items()]
    banner = "\n".join(["", "!" * 78, *lines, "!" * 78, ""])
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI needs PostgreSQL and Redis:{banner}")
    sys.stderr.write(f"{banner}Tests that need these services are SKIPPED.\n")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The schemathesis run's counts (tests/integration/test_api_schema.py), when it ran."""
    from tests.integration.test_api_schema import SCHEMA_COUNTS

    counts = config.stash.get(SCHEMA_COUNTS, None)
    if not counts:
        return
    operations = sorted(k for k in counts if k.startswith("op "))
    statuses = ", ".join(f"{k[7:]}: {counts[k]}" for k in sorted(counts) if k.startswith("status"))
    terminalreporter.write_line(
        f"schemathesis: {counts['cases']} cases over {len(operations)} operations; {statuses}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.postgres)
        for service in ("postgres", "redis"):
            if item.get_closest_marker(service) and SERVICES.get(service):
                item.add_marker(pytest.mark.skip(reason=f"{service} unreachable"))


def _reset_schema(app: Flask) -> None:
    from flask_migrate import upgrade

    from lumipay.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    if SERVICES.get("postgres"):
        pytest.skip("postgres unreachable")
    from lumipay import create_app

    flask_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "SQLALCHEMY_DATABASE_URI": _database_url(),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 20, "max_overflow": 10},
            "REDIS_URL": None if SERVICES.get("redis") else _redis_url(),
            "INITIAL_BONUS": 10_000_000,
            "NUBAN_BANK_CODE": "090",
            "MAIL_CAPTURE": True,
            "KYC_STORAGE_DIR": tempfile.mkdtemp(prefix="lumipay-kyc-"),
            # Cheaper scrypt for speed; production refuses anything but the default.
            "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
        }
    )
    _reset_schema(flask_app)
    yield flask_app


TABLES = (
    "kyc_submissions",
    "card_transactions",
    "cards",
    "api_refresh_tokens",
    "settlement_proposals",
    "reconciliation_items",
    "reconciliation_runs",
    "ledger_verification_runs",
    "ledger_seal_blocks",
    "fx_quotes",
    "fx_rates",
    "webhook_events",
    "outbox_messages",
    "notifications",
    "bill_payments",
    "bank_payouts",
    "bank_topups",
    "bank_reserved_accounts",
    "beneficiaries",
    "audit_events",
    "idempotency_keys",
    "transfers",
    "ledger_holds",
    "ledger_daily_flows",
    "ledger_entries",
    "ledger_transactions",
    "ledger_accounts",
    "user_sessions",
    "recovery_codes",
    "password_reset_tokens",
    "users",
)


@pytest.fixture()
def db_clean(app: Flask) -> Iterator[None]:
    """Every test starts from empty tables, fresh rate-limit counters and an empty outbox."""
    from lumipay.extensions import db
    from lumipay.notifications.email import outbox
    from lumipay.ratelimit import limiter

    with app.app_context():
        limiter.reset()
        if app.config.get("REDIS_URL"):
            from lumipay.fx.service import forget_cached_rates

            forget_cached_rates()
    outbox(app).clear()
    yield
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


@pytest.fixture()
def redis_clean(app: Flask) -> Iterator[redis.Redis]:
    """An empty Redis test database (queues, scheduled jobs, job counters) for this test."""
    if SERVICES.get("redis"):
        pytest.skip("redis unreachable")
    client = redis.Redis.from_url(_redis_url())
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture()
def ctx(app: Flask, db_clean: None) -> Iterator[Flask]:
    """An app context for calling services directly."""
    with app.app_context():
        yield app


class Browser(TestApp):
    """WebTest's client, each request in a fresh context as a real server would run it.

    Flask reuses an app context that is already pushed; a test holding one (`ctx`) would
    otherwise share its `g`, its login and its database session with every request.

    `pin`: the transaction PIN of the customer using this browser. A form submitted with an
    empty `pin` field (every debit's confirm step) has it typed in, as the customer would; a
    test that types its own PIN (or sets `pin = None`) is left alone.
    """

    pin: str | None = None

    def post(self, url: str, params: Any = "", *args: Any, **kw: Any) -> Any:
        if self.pin and isinstance(params, list):
            params = [
                (name, self.pin if name == "pin" and not value else value) for name, value in params
            ]
        return super().post(url, params, *args, **kw)

    def do_request(self, req: Any, status: Any = None, expect_errors: Any = None) -> Any:
        response = contextvars.Context().run(super().do_request, req, status, expect_errors)
        from flask import has_app_context

        if has_app_context():
            from lumipay.extensions import db

            db.session.expire_all()
        return response


@pytest.fixture()
def web(app: Flask, db_clean: None) -> TestApp:
    return Browser(app, extra_environ={"REMOTE_ADDR": "203.0.113.7"})


_counter = itertools.count(1)


@dataclass
class Customer:
    """A registered customer and a browser signed in as them."""

    full_name: str
    email: str
    phone: str
    password: str
    account_number: str
    browser: TestApp
    pin: str | None = PIN

    def get(self, url: str, **kw: Any) -> Any:
        return self.browser.get(url, **kw)


def set_pin_via_page(browser: TestApp, page: Any, pin: str = PIN) -> Any:
    """Step two of opening an account: the PIN page after registering."""
    form = page.forms["pin-form"]
    form["pin"] = form["confirm_pin"] = pin
    done = form.submit()
    assert done.status_int == 303, done.text
    browser.pin = pin
    return done.follow()


def emailed_code(app: Flask) -> str:
    """The one-time code of the last step-up email (a payment above the thresholds)."""
    from lumipay.notifications.email import outbox

    mail = next(m for m in reversed(outbox(app)) if "one-time code" in m.subject)
    match = re.search(r"\bis (\d{6})\.", mail.body)
    assert match, mail.body
    return match.group(1)


def submit_debit(app: Flask, form: Any, **kw: Any) -> Any:
    """Submit a debit's confirm form; when it asks for the emailed code, type that in too."""
    response = form.submit(expect_errors=True, **kw)
    if response.status_int == 422 and 'id="email_code-error"' in response.text:
        again = next(f for f in response.forms.values() if "email_code" in f.fields)
        again["email_code"] = emailed_code(app)
        response = again.submit(expect_errors=True, **kw)
    return response


def unique_details(name: str = "Test Customer") -> dict[str, str]:
    n = next(_counter)
    return {
        "full_name": name,
        "email": f"customer{n}@example.com",
        "phone": f"0803{n:07d}",
        "password": PASSWORD,
    }


def register_via_form(browser: TestApp, **fields: str) -> Any:
    page = browser.get("/auth/register")
    form = page.forms["register-form"]
    for key, value in fields.items():
        form[key] = value
    return form.submit(expect_errors=True)


def account_number_on(page: Any) -> str:
    match = re.search(r'id="account-number">(\d{10})<', page.text)
    assert match, "no account number on the page"
    return match.group(1)


@pytest.fixture()
def register(app: Flask, db_clean: None):  # type: ignore[no-untyped-def]
    """register(name) -> Customer: registers through the real form in a fresh browser."""

    def make(name: str = "Test Customer", pin: str | None = PIN, **overrides: str) -> Customer:
        browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.20"})
        details = {**unique_details(name), **overrides}
        response = register_via_form(browser, **details)
        assert response.status_int == 303, response.text
        page = response.follow()
        dashboard = set_pin_via_page(browser, page, pin) if pin else browser.get("/dashboard")
        return Customer(
            details["full_name"],
            details["email"],
            details["phone"],
            details["password"],
            account_number_on(dashboard),
            browser,
            pin,
        )

    return make


def set_tier(email: str, tier: int) -> None:
    """Put a customer on a KYC tier directly, for tests that move more than Tier 1 allows."""
    from lumipay.auth.models import User
    from lumipay.extensions import db

    with db.engine.begin() as conn:
        done = conn.execute(
            sa.update(User).where(User.email == email.lower()).values(kyc_tier=tier)
        )
    assert done.rowcount == 1, email


class FakeClock:
    """`app.config["CLOCK"]`: the time the app's decisions see; moved by hand, never slept."""

    def __init__(self) -> None:
        from lumipay.database import utcnow

        self.moment = utcnow()

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture()
def clock(app: Flask) -> Iterator[FakeClock]:
    fake = FakeClock()
    app.config["CLOCK"] = fake
    yield fake
    app.config.pop("CLOCK", None)


@dataclass
class Admin:
    """An admin with a second factor enrolled, and a browser signed in as them (both steps)."""

    full_name: str
    email: str
    secret: str
    browser: TestApp

    def get(self, url: str, **kw: Any) -> Any:
        return self.browser.get(url, **kw)


@pytest.fixture()
def admin(app: Flask, ctx: Flask, clock: FakeClock):  # type: ignore[no-untyped-def]
    """admin(name) -> Admin: created by the service, TOTP enrolled, signed in through the forms."""
    import pyotp

    from lumipay.audit.service import SYSTEM
    from lumipay.auth import service as auth
    from lumipay.auth import twofactor

    def make(name: str = "Tola Bello") -> Admin:
        details = unique_details(name)
        user = auth.create_admin(name, details["email"], details["phone"], PASSWORD)
        secret = twofactor.new_secret()
        twofactor.enable(user.id, secret, pyotp.TOTP(secret).at(clock()), origin=SYSTEM)
        clock.advance(30)  # that code is spent; the sign-in below uses the next one
        browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.30"})
        form = browser.get("/auth/login").forms["login-form"]
        form["email"] = details["email"]
        form["password"] = PASSWORD
        step = form.submit()
        assert step.headers["Location"].endswith("/auth/two-factor"), step.headers
        form = step.follow().forms["two-factor-form"]
        form["code"] = pyotp.TOTP(secret).at(clock())
        done = form.submit()
        assert done.status_int == 303, done.text
        clock.advance(30)
        return Admin(name, details["email"], secret, browser)

    return make
