"""The parallel suite's naming scheme (tests/conftest.py): a database and a Redis database per
xdist worker, derived from TEST_DATABASE_URL and TEST_REDIS_URL."""

from __future__ import annotations

import pytest

from tests import conftest


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def set_to(worker: str | None, redis: str = "redis://127.0.0.1:6379/15") -> None:
        monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bank")
        monkeypatch.setenv("TEST_REDIS_URL", redis)
        if worker is None:
            monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
        else:
            monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)

    return set_to


def test_a_serial_run_uses_the_named_database_and_redis_db(env):
    env(None)
    assert conftest._database_url().endswith("@127.0.0.1:5432/bank")
    assert conftest._redis_url() == "redis://127.0.0.1:6379/15"
    assert conftest._template_name() == "bank_template"


@pytest.mark.parametrize(("worker", "redis_db"), [("gw0", 15), ("gw1", 14), ("gw3", 12)])
def test_each_worker_has_its_own_database_and_counts_redis_dbs_down(env, worker, redis_db):
    env(worker)
    assert conftest._database_url().endswith(f"/bank_{worker}")
    assert conftest._redis_url() == f"redis://127.0.0.1:6379/{redis_db}"
    assert conftest._template_name() == "bank_template", "one template for every worker"


def test_a_worker_past_redis_db_0_refuses_to_start(env):
    env("gw3", redis="redis://127.0.0.1:6379/2")
    with pytest.raises(pytest.UsageError, match="Redis db -1"):
        conftest._redis_url()
