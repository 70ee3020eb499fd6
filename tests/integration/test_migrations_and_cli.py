"""The committed migrations build the schema the models describe on an empty PostgreSQL database,
as `release: flask db upgrade` does (on the machine's server here; on the embedded PostgreSQL 18
in test_make_dev.py). PostgreSQL is the only engine: dev, test and production run the same one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import _database_url

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def flask(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")
    } | env
    return subprocess.run(
        [*FLASK, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


def fresh_database(name: str) -> str:
    url = sa.engine.make_url(_database_url())
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def test_upgrade_on_empty_postgresql_matches_models_and_downgrades_cleanly(app):
    url = fresh_database(f"{sa.engine.make_url(_database_url()).database}_migrations")
    for step in (
        ["db", "upgrade"],
        ["db", "check"],
        ["db", "downgrade", "base"],
        ["db", "upgrade"],
    ):
        result = flask(*step, DATABASE_URL=url)
        assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
    # The daily-flows migration fills its table from entries already posted.
    for step in (["demo", "seed"], ["db", "downgrade", "6478e13b12fd-1"], ["db", "upgrade"]):
        result = flask(*step, DATABASE_URL=url)
        assert result.returncode == 0, f"{step}: {result.stdout}{result.stderr}"
    verified = flask("ledger", "verify", DATABASE_URL=url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT sum(entries) FROM ledger_daily_flows")) == 14
        triggers = conn.scalars(
            sa.text("SELECT tgname FROM pg_trigger WHERE tgname LIKE '%append_only' ORDER BY 1")
        ).all()
    engine.dispose()
    assert triggers == ["audit_events_append_only", "ledger_entries_append_only"]


def test_every_table_the_migrations_make_is_emptied_between_tests(app):
    from lumipay.extensions import db
    from tests.conftest import TABLES

    with app.app_context():
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert sorted(TABLES) == sorted(tables)
