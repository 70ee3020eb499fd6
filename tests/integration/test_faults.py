"""Faults: a worker killed mid-transfer, a database connection dropped mid-request, and
deadlock-prone traffic. Money is wholly moved or wholly not, and the ledger still proves itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event, func, select

from lumipay.accounts.service import wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.service import register_customer
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.ledger.models import LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import send_transfer
from tests.conftest import _database_url, unique_details
from tests.integration.helpers.ledger import money_state, runs

ROOT = Path(__file__).resolve().parents[2]


def child(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": _database_url()}
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.helpers.killable_transfer", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def two_customers() -> tuple[tuple[int, int, str], tuple[int, int, str]]:
    people = []
    for name in ("Ada Obi", "Bayo Ade"):
        user = register_customer(**unique_details(name), origin=SYSTEM)
        people.append((user.id, wallets_for(user.id)[0].id, user.account_number))
    return people[0], people[1]


def test_worker_killed_inside_the_transaction_leaves_nothing_and_retry_completes_once(ctx):
    ada, bayo = two_customers()
    before = money_state()
    key = new_idempotency_key()
    proc = child("pause", str(ada[0]), str(ada[1]), bayo[2], key)
    assert proc.stdout.readline().strip() == "PAUSED"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stdout.close()
    proc.stdin.close()

    assert money_state() == before
    assert verify_ledger().ok
    # The customer's retry with the same key completes, once.
    first = send_transfer(ada[0], ada[1], bayo[2], 100_000, "", idempotency_key=key, origin=SYSTEM)
    again = send_transfer(ada[0], ada[1], bayo[2], 100_000, "", idempotency_key=key, origin=SYSTEM)
    assert first.reference == again.reference
    assert db.session.scalar(select(func.count(Transfer.id))) == 1
    assert verify_ledger().ok


def test_worker_killed_while_sending_in_a_loop_leaves_only_whole_transfers(ctx):
    ada, bayo = two_customers()
    proc = child("loop", str(ada[0]), str(ada[1]), bayo[2], "-")
    for _ in range(25):
        assert proc.stdout.readline().strip() == "DONE"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stdin.close()

    db.session.expire_all()
    transfers = db.session.scalar(select(func.count(Transfer.id)))
    assert transfers >= 25
    postings = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(LedgerTransaction.kind == "transfer")
    )
    assert postings == transfers
    balances = [w.balance for w in (*wallets_for(ada[0]), *wallets_for(bayo[0]))]
    assert balances == [10_000_000 - transfers, 10_000_000 + transfers]
    assert verify_ledger().ok


def _confirm_form(register):  # type: ignore[no-untyped-def]
    """Ada's confirm form for ₦2,500 to Bayo, filled in through step one; and Ada."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    form = ada.browser.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = bayo.account_number
    form["amount"] = "2,500"
    return form.submit().forms["confirm-form"], ada


@contextmanager
def _postings_dropped(times: int) -> Iterator[list[str]]:
    """Inside, the first `times` statements that would post (or prepare a posting) find their
    connection ended by the server just before they are sent; yields those statements."""
    killer = sa.create_engine(_database_url(), poolclass=sa.pool.NullPool)
    dropped: list[str] = []

    def drop(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if len(dropped) < times and runs(statement, "ledger_post("):
            dropped.append(statement)
            pid = conn.connection.dbapi_connection.get_backend_pid()
            with killer.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(db.engine, "before_cursor_execute", drop)
    try:
        yield dropped
    finally:
        event.remove(db.engine, "before_cursor_execute", drop)
        killer.dispose()


def test_connection_dropped_mid_request_shows_try_again_and_retry_moves_money_once(
    app: Flask, register, ctx
):
    confirm, ada = _confirm_form(register)
    before = money_state()
    # Every try is dropped: a connection found dead by its first statement is replaced and the
    # statement sent again (lumipay.database.run_alone), so one drop alone goes unseen.
    with _postings_dropped(times=100) as dropped:
        response = confirm.submit(expect_errors=True)
    assert response.status_int == 503
    assert len(dropped) > 1, "the statement on a dead connection was not sent again"
    assert "Please try again" in response.text
    assert "nothing was changed" in response.text
    assert "Traceback" not in response.text
    assert money_state() == before

    retried = confirm.submit()
    assert retried.status_int == 303
    again = confirm.submit()
    assert again.headers["Location"] == retried.headers["Location"]
    assert db.session.scalar(select(func.count(Transfer.id))) == 1
    assert "₦97,500.00" in ada.get("/dashboard").text
    assert verify_ledger().ok


def test_a_connection_dropped_once_as_the_confirm_posts_is_replaced_and_moves_money_once(
    app: Flask, register, ctx
):
    """The transfer's statement is the first on the connection it takes from the pool: found
    dead there, it is sent again on a new one, and the customer gets the receipt."""
    confirm, ada = _confirm_form(register)
    with _postings_dropped(times=1) as dropped:
        response = confirm.submit()
    assert dropped
    assert response.status_int == 303
    assert db.session.scalar(select(func.count(Transfer.id))) == 1
    assert "₦97,500.00" in ada.get("/dashboard").text
    assert verify_ledger().ok


def test_deadlock_prone_traffic_never_reaches_a_customer(app: Flask, ctx):
    ada, bayo = two_customers()
    directions = [(ada, bayo), (bayo, ada)]
    rounds = 40

    def run(worker: int) -> int:
        sent = 0
        with app.app_context():
            for i in range(rounds):
                (uid, wallet, _), (_, _, to) = directions[(worker + i) % 2]
                send_transfer(
                    uid,
                    wallet,
                    to,
                    100,
                    "",
                    idempotency_key=new_idempotency_key(),
                    origin=SYSTEM,
                )
                sent += 1
        return sent

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(run, range(8))) == 8 * rounds
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Transfer.id))) == 8 * rounds
    balances = [w.balance for w in (*wallets_for(ada[0]), *wallets_for(bayo[0]))]
    assert sum(balances) == 20_000_000
    assert verify_ledger().ok
