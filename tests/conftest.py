"""Fixtures for the whole suite: real PostgreSQL and Redis, the app, WebTest and a login helper.

TEST_DATABASE_URL (default: the local server's `lumipay_test` database) and TEST_REDIS_URL
(default: 127.0.0.1:6379, db 15). When either is unreachable the suite says so loudly and runs
what it can; with CI=true an unreachable service fails the run.

The suite runs in parallel (`pytest -n 2`, pytest-xdist). Each worker has its own database and
its own Redis database, so no test ever sees another worker's rows, queues or counters:

- `<name>_template` is migrated once (`flask db upgrade`), under a PostgreSQL advisory lock so two
  workers never build it together, and kept between runs while the migrations are unchanged
  (their fingerprint is the template's database comment).
- Each worker's database is cloned from it (`CREATE DATABASE … TEMPLATE …`) and kept, emptied,
  for the next run while the migrations are unchanged: worker `gwN` gets `<name>_gwN`; a serial
  run (`-p no:xdist`, `-n 0`) gets `<name>` itself.
- Worker `gwN` uses Redis database `<n> - N`, counting down from TEST_REDIS_URL's `<n>` (CI's 15:
  15, 14, 13…); a worker whose number would fall below 0 refuses to start.

`_database_url()` and `_redis_url()` name the current worker's database and Redis database:
tests that start subprocesses or extra engines use them, never TEST_DATABASE_URL directly.
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from webtest import TestApp

import lumipay.models  # noqa: F401 (every table in the metadata, for TABLES)
from lumipay.config import normalise_database_url
from lumipay.extensions import db as _db

# Property tests draw the same examples on every run (the brief: deterministic tests).
# derandomize implies no example database, so parallel workers share no .hypothesis/ files;
# wall-clock deadlines and the too-slow check measure the shared machine, not the code.
settings.register_profile(
    "lumipay", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("lumipay")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/lumipay_test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
PASSWORD = "correct-horse-battery-9"
PIN = "2580"
ROOT = Path(__file__).resolve().parents[1]

# Every table the models declare, truncated after each test (alembic_version is not one).
TABLES = tuple(table.name for table in reversed(_db.metadata.sorted_tables))


def _worker_number() -> int | None:
    """0, 1, … for xdist's workers gw0, gw1, …; None in a serial run."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name.removeprefix("gw")) if name else None


def _base_database_url() -> sa.engine.URL:
    return sa.engine.make_url(
        normalise_database_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL))
    )


def _template_name() -> str:
    return f"{_base_database_url().database}_template"


def _database_url() -> str:
    """This worker's database."""
    base = _base_database_url()
    worker = _worker_number()
    name = base.database if worker is None else f"{base.database}_gw{worker}"
    return base.set(database=name).render_as_string(hide_password=False)


def _redis_url() -> str:
    """This worker's Redis database: TEST_REDIS_URL's number minus the worker's."""
    base = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    worker = _worker_number()
    if not worker:
        return base
    head, _, number = base.rpartition("/")
    if not number.isdigit():
        head, number = base.rstrip("/"), "0"
    mine = int(number) - worker
    if mine < 0:
        raise pytest.UsageError(
            f"worker gw{worker} would need Redis db {mine}: use fewer workers or a higher"
            " TEST_REDIS_URL database number"
        )
    return f"{head}/{mine}"


def _maintenance_engine() -> sa.Engine:
    return sa.create_engine(
        _base_database_url().set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )


def _postgres_problem() -> str | None:
    """Why the PostgreSQL server can't be reached, or None."""
    try:
        with _maintenance_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means unreachable
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _redis_problem(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def migrations_fingerprint() -> str:
    """A hash of the committed migrations: a template built from other files is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _build_template(name: str) -> None:
    """An empty database named `name`, migrated to head by the committed migrations."""
    from flask_migrate import upgrade

    from lumipay import create_app

    with _maintenance_engine().connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = _base_database_url().set(database=name).render_as_string(hide_password=False)
    builder = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with builder.app_context():
        upgrade()
        _db.engine.dispose()


def _comment_on(conn: sa.Connection, database: str) -> str | None:
    return conn.scalar(
        sa.text(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"
        ),
        {"name": database},
    )


def clone_database(target: str, *, template: str | None = None) -> str:
    """`target`, cloned from the migrated template (built first if missing or stale).

    An advisory lock on the maintenance database serialises the workers: the first builds the
    template, the others wait and then clone it (a template must have no connections). A clone
    made from the same migrations is kept for the next run (the `app` fixture empties its
    tables): DROP DATABASE waits for a checkpoint, seconds on a busy server.
    """
    template = template or _template_name()
    fingerprint = f"lumipay migrations {migrations_fingerprint()}"
    lock = int.from_bytes(hashlib.sha256(template.encode()).digest()[:8], "big", signed=True)
    with _maintenance_engine().connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:lock)"), {"lock": lock})
        try:
            if _comment_on(conn, template) != fingerprint:
                _build_template(template)
                conn.execute(sa.text(f"COMMENT ON DATABASE \"{template}\" IS '{fingerprint}'"))
            if _comment_on(conn, target) != fingerprint:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{target}" TEMPLATE "{template}"'))
                # A test database needs no crash durability: a commit needn't wait for the WAL
                # flush (visibility and locking are unchanged). Every connection gets it, the
                # app's and its subprocesses' (workers, schedulers) alike.
                conn.execute(sa.text(f'ALTER DATABASE "{target}" SET synchronous_commit = off'))
                conn.execute(sa.text(f"COMMENT ON DATABASE \"{target}\" IS '{fingerprint}'"))
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:lock)"), {"lock": lock})
    return _base_database_url().set(database=target).render_as_string(hide_password=False)


SERVICES: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    SERVICES["postgres"] = _postgres_problem()
    SERVICES["redis"] = _redis_problem(_redis_url())
    down = {name: why for name, why in SERVICES.items() if why}
    if not down or _worker_number():
        return  # the banner once per run: from the controller or a serial run, and gw0
    lines = [f"  {name} UNREACHABLE: {why}" for name, why in down.items()]
    banner = "\n".join(["", "!" * 78, *lines, "!" * 78, ""])
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI needs PostgreSQL and Redis:{banner}")
    sys.stderr.write(f"{banner}Tests that need these services are SKIPPED.\n")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand what the end-of-run summaries print to the controller."""
    from tests.integration.test_api_schema import SCHEMA_COUNTS

    if not hasattr(session.config, "workeroutput"):
        return
    counts = session.config.stash.get(SCHEMA_COUNTS, None)
    if counts:
        session.config.workeroutput["schemathesis"] = dict(counts)
    e2e = sys.modules.get("tests.e2e.conftest")
    if e2e is not None:
        session.config.workeroutput["axe"] = e2e.AXE_REPORT
        session.config.workeroutput["browser_unavailable"] = e2e.UNAVAILABLE


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: add up what each worker sent."""
    from collections import Counter

    from tests.e2e import conftest as e2e
    from tests.integration.test_api_schema import SCHEMA_COUNTS

    sent = getattr(node, "workeroutput", {})
    if sent.get("schemathesis"):
        node.config.stash.setdefault(SCHEMA_COUNTS, Counter()).update(sent["schemathesis"])
    e2e.AXE_REPORT.update(sent.get("axe", {}))
    e2e.UNAVAILABLE.extend(sent.get("browser_unavailable", []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The browser tests' summary under xdist, and the schemathesis counts when it ran."""
    from tests.e2e import conftest as e2e
    from tests.integration.test_api_schema import SCHEMA_COUNTS

    if not config.pluginmanager.is_registered(e2e):
        e2e.pytest_terminal_summary(terminalreporter)  # the xdist controller collects nothing
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


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    """The app on this worker's database: a clone of the migrated template, tables empty."""
    if SERVICES.get("postgres"):
        pytest.skip("postgres unreachable")
    from lumipay import create_app

    url = clone_database(sa.engine.make_url(_database_url()).database)
    flask_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "SQLALCHEMY_DATABASE_URI": url,
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
    truncate_tables(flask_app)  # a kept clone may hold an interrupted run's rows
    yield flask_app


def truncate_tables(app: Flask) -> None:
    """Empty every table (and restart the ids), as a fresh test database would be."""
    with app.app_context():
        _db.session.remove()
        with _db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


def fresh_counters(app: Flask) -> None:
    """Fresh rate-limit counters, no cached exchange rates or bank lists and an empty mail
    outbox."""
    from lumipay.notifications.email import outbox
    from lumipay.providers import bank_list
    from lumipay.ratelimit import limiter

    with app.app_context():
        limiter.reset()
        bank_list.forget()
        if app.config.get("REDIS_URL"):
            from lumipay.fx.service import forget_cached_rates

            forget_cached_rates()
    outbox(app).clear()


# Rows a module-scoped fixture keeps between its tests (tests/security's shared world): the next
# test that wants empty tables empties them first.
LEFTOVERS: set[str] = set()


@pytest.fixture()
def db_clean(app: Flask) -> Iterator[None]:
    """Every test starts from empty tables, fresh rate-limit counters and an empty outbox."""
    if LEFTOVERS:
        truncate_tables(app)
        LEFTOVERS.clear()
    fresh_counters(app)
    yield
    truncate_tables(app)


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


def through_confirm(page: Any, **kw: Any) -> Any:
    """A debit's step one answered with its confirm step: submit that too, the PIN typed in
    (and the emailed code when asked), as the customer would. Any other answer is returned."""
    if page.status_int != 200:
        return page
    form = next((f for f in page.forms.values() if (f.id or "").endswith("confirm-form")), None)
    if form is None:
        return page
    return submit_debit(page.test_app.app, form, **kw)


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


def register_customer(
    app: Flask, name: str = "Test Customer", pin: str | None = PIN, **overrides: str
) -> Customer:
    """A customer registered through the real form in a fresh browser, with a transaction PIN
    set on the page that follows registration (none when `pin` is None)."""
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


@pytest.fixture()
def register(app: Flask, db_clean: None):  # type: ignore[no-untyped-def]
    """register(name) -> Customer: registers through the real form in a fresh browser."""

    def make(name: str = "Test Customer", pin: str | None = PIN, **overrides: str) -> Customer:
        return register_customer(app, name, pin=pin, **overrides)

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


def signed_in_admin(app: Flask, clock: FakeClock, name: str = "Tola Bello") -> Admin:
    """An admin created by the service, TOTP enrolled, signed in through the forms.

    Needs an app context and `clock` installed as the app's CLOCK.
    """
    import pyotp

    from lumipay.audit.service import SYSTEM
    from lumipay.auth import service as auth
    from lumipay.auth import twofactor

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


@pytest.fixture()
def admin(app: Flask, ctx: Flask, clock: FakeClock):  # type: ignore[no-untyped-def]
    """admin(name) -> Admin: created by the service, TOTP enrolled, signed in through the forms."""

    def make(name: str = "Tola Bello") -> Admin:
        return signed_in_admin(app, clock, name)

    return make
