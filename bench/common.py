"""What every phase shares: database names, making the app, resetting the schema, verifying.

The harness only ever touches the databases named here (`lumipay_bench`, `lumipay_pgbench`),
which it creates and drops itself.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")
# Overridable so two checkouts (before / after) can bench side by side on one server.
BENCH_DB = os.environ.get("BENCH_DB", "lumipay_bench")
PGBENCH_DB = os.environ.get("BENCH_PGBENCH_DB", "lumipay_pgbench")
CARDS_DB = os.environ.get("BENCH_CARDS_DB", "lumipay_bench_cards")
# Phase 12's copy of BENCH_DB without the integrity a transfer pays for (made and dropped there).
STRIPPED_DB = f"{BENCH_DB}_stripped"

SECRET_KEY = "bench-secret-key-that-is-long-enough-0123456789abcdef"  # noqa: S105 - local only
# One password for every benchmark customer; passes the app's password rules.
PASSWORD = "violet-otter-staple-42"  # noqa: S105 - local only
USER_AGENT = "lumipay-bench"
# The browser clients' transaction PIN (every page debit asks for it since issue 19).
PIN = "2580"


def database_url(name: str, *, driver: str = "postgresql+psycopg2") -> str:
    """A URL for database `name` on the benchmark server."""
    return f"{driver}://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def recreate_database(name: str, *, template_of: str | None = None) -> None:
    """Drop database `name` if it exists (disconnecting its sessions) and create it empty, or
    as a copy of `template_of` (whose sessions are ended first: a copy needs it to itself)."""
    assert name in (BENCH_DB, PGBENCH_DB, CARDS_DB, STRIPPED_DB), f"refusing to touch {name!r}"
    admin = sa.create_engine(database_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            template = ""
            if template_of:
                # A copy needs its source to itself: end what is still connected to it (a
                # phase's worker closing, an autovacuum worker).
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": template_of},
                )
                template = f' TEMPLATE "{template_of}"'
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{template}'))
    finally:
        admin.dispose()


def drop_database(name: str) -> None:
    """Drop database `name` if it exists."""
    assert name in (BENCH_DB, PGBENCH_DB, CARDS_DB, STRIPPED_DB), f"refusing to touch {name!r}"
    admin = sa.create_engine(database_url("postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def server_version() -> str:
    """`SELECT version()` of the benchmark server."""
    engine = sa.create_engine(database_url("postgres"))
    try:
        with engine.connect() as conn:
            return str(conn.scalar(sa.text("SELECT version()")))
    finally:
        engine.dispose()


def make_app(url: str | None = None) -> Flask:
    """The real app on the benchmark database, configured as in development (no Redis)."""
    from lumipay import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url or database_url(BENCH_DB),
            "SECRET_KEY": SECRET_KEY,
            "LUMIPAY_ENV": "development",
            "REDIS_URL": None,
        }
    )


def reset_schema(app: Flask) -> None:
    """Drop and recreate the public schema, then apply the committed migrations."""
    from flask_migrate import upgrade

    from lumipay.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()


def verify(app: Flask) -> dict[str, Any]:
    """Run `verify_ledger()` in an app context; return ok, problems, counts and seconds taken."""
    from lumipay.extensions import db
    from lumipay.ledger.verify import verify_ledger

    with app.app_context():
        started = time.perf_counter()
        report = verify_ledger()
        seconds = time.perf_counter() - started
        db.session.remove()
    return {
        "ok": report.ok,
        "problems": list(report.problems),
        "transactions": report.transactions,
        "entries": report.entries,
        "wallets": report.wallets,
        "totals": report.totals,
        "seconds": round(seconds, 3),
    }


def percentile(values: Sequence[float], pct: float) -> float | None:
    """The `pct`th percentile (nearest rank) of `values`, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds, rounded for the report."""
    return None if seconds is None else round(seconds * 1000, 2)


def send_random(rng: Any, customers: Sequence[Any], key: str, origin: Any) -> None:
    """One transfer through the service between two customers `rng` picks, then the session
    removed, as a request ends."""
    from lumipay.extensions import db
    from lumipay.transfers.service import send_transfer

    sender, recipient = rng.sample(list(customers), 2)
    send_transfer(
        sender.user_id,
        sender.wallet_id,
        recipient.account_number,
        rng.randint(100, 10_000),
        "Benchmark transfer",
        idempotency_key=key,
        origin=origin,
    )
    db.session.remove()
