"""Red-team review of the transfer as one statement run alone (lumipay.database.run_alone):
retries of a statement whose answer was lost, repeats of a key after its money left, the
limits and audit details the statement fills in from its own read, and the pool it borrows
from (PostgreSQL, real sockets, threads; no mocks)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select

from lumipay import create_app
from lumipay.accounts import freeze
from lumipay.accounts.service import open_wallet
from lumipay.audit.models import AuditEvent
from lumipay.audit.service import SYSTEM
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.fx import service as fx
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.kyc.limits import AccountFrozen, LimitExceeded
from lumipay.ledger.models import Account
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import INSUFFICIENT_FUNDS
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import TransferError, send_transfer
from tests.conftest import Browser, set_tier
from tests.integration.helpers.bills import wait_for
from tests.integration.test_posting_function import WELCOME, customers, funded
from tests.integration.test_transfers import step_one


class LosingProxy:
    """A TCP proxy to PostgreSQL. Armed with `marker`, it passes the next query containing it to
    the server and loses the server's answer: it closes the client's side instead, after the
    server has run the statement (an autocommit statement's answer leaves after its commit). What
    a dropped network link or a proxy restart does to a client at the worst moment."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.marker = b""
        self.armed = threading.Event()
        self.lost = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: str) -> None:
        self.marker = marker.encode()
        self.lost.clear()
        self.armed.set()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            doomed = threading.Event()
            for source, target, up in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump,
                    args=(source, target, up, doomed, client, server),
                    daemon=True,
                ).start()

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        up: bool,
        doomed: threading.Event,
        *ends: socket.socket,
    ) -> None:
        try:
            while data := source.recv(65536):
                if up and self.armed.is_set() and self.marker in data:
                    self.armed.clear()
                    doomed.set()
                if not up and doomed.is_set():
                    self.lost.set()
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in ends:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()


@pytest.fixture()
def proxied(app: Flask, ctx: Flask) -> Iterator[tuple[Flask, LosingProxy]]:
    """A second app on the same database, reached through a `LosingProxy`."""
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = LosingProxy(url.host or "127.0.0.1", url.port or 5432)
    config = {
        key: app.config[key]
        for key in (
            "TESTING",
            "SECRET_KEY",
            "INITIAL_BONUS",
            "NUBAN_BANK_CODE",
            "MAIL_CAPTURE",
            "KYC_STORAGE_DIR",
            "PASSWORD_HASH_METHOD",
            "REDIS_URL",
        )
    }
    through = url.set(host="127.0.0.1", port=proxy.port, query={"sslmode": "disable"})
    other = create_app(
        {**config, "SQLALCHEMY_DATABASE_URI": through.render_as_string(hide_password=False)}
    )
    try:
        yield other, proxy
    finally:
        with other.app_context():
            db.engine.dispose()
        proxy.close()


def transfers_of(user_id: int) -> int:
    db.session.expire_all()
    return int(
        db.session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.sender_id == user_id)
        )
        or 0
    )


def balance(wallet_id: int) -> int:
    db.session.expire_all()
    return db.session.get_one(Account, wallet_id).balance


def lose_the_answer_of_one_transfer(
    other: Flask, proxy: LosingProxy, sender: tuple[Any, ...], to: str, amount: int, key: str
) -> Any:
    """Send once through `other` (its statement prepared on its pooled connection), then send
    `amount` with `key` while the proxy loses the answer of the statement that posts it."""
    with other.app_context():
        send_transfer(
            sender[0], sender[1], to, 100, "warm", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
        db.session.remove()
        proxy.arm("EXECUTE lumipay_transfer_claimed(")
        try:
            return send_transfer(
                sender[0], sender[1], to, amount, "lost", idempotency_key=key, origin=SYSTEM
            )
        finally:
            db.session.remove()


def test_a_transfer_whose_answer_was_lost_after_its_commit_is_retried_into_a_replay(
    proxied: tuple[Flask, LosingProxy],
):
    """The statement commits, its answer never arrives; `run_alone` sends it again on a new
    connection and its claim finds the key taken: the first transfer's reference, money once."""
    other, proxy = proxied
    ada, bayo = customers(2)
    key = new_idempotency_key()
    sent = lose_the_answer_of_one_transfer(other, proxy, ada, bayo[2], 5_000, key)
    assert proxy.lost.is_set()
    assert sent.replayed
    assert transfers_of(ada[0]) == 2  # the warm-up and this one
    assert db.session.scalar(select(Transfer.reference).where(Transfer.amount == 5_000)) == (
        sent.reference
    )
    assert balance(ada[1]) == WELCOME - 100 - 5_000
    assert verify_ledger().ok


def test_a_transfer_of_all_that_is_left_whose_answer_was_lost_is_not_refused_as_short(
    proxied: tuple[Flask, LosingProxy],
):
    """As above, but the transfer took all that was available: the retry's own read finds the
    balance short. It must still replay the first transfer, not tell the customer their money
    is short while it has gone."""
    other, proxy = proxied
    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    key = new_idempotency_key()
    sent = lose_the_answer_of_one_transfer(other, proxy, ada, bayo[2], WELCOME - 100, key)
    assert proxy.lost.is_set()
    assert sent.replayed
    assert transfers_of(ada[0]) == 2
    assert balance(ada[1]) == 0
    assert verify_ledger().ok


def test_a_repeat_of_a_key_that_took_the_whole_balance_replays_it(app: Flask, ctx: Flask):
    """A repeat of the same key returns the first transfer (send_transfer's promise), even once
    that transfer has left too little for the repeat's own read to pass."""
    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    key = new_idempotency_key()
    first = send_transfer(
        ada[0], ada[1], bayo[2], WELCOME, "all", idempotency_key=key, origin=SYSTEM
    )
    again = send_transfer(
        ada[0], ada[1], bayo[2], WELCOME, "all", idempotency_key=key, origin=SYSTEM
    )
    assert (again.reference, again.replayed) == (first.reference, True)
    assert transfers_of(ada[0]) == 1
    # A fresh key for the same request is refused as short, with the plan's words.
    with pytest.raises(TransferError) as refused:
        send_transfer(
            ada[0], ada[1], bayo[2], WELCOME, "all", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
    assert refused.value.code == INSUFFICIENT_FUNDS
    assert "you have ₦0.00 available" in refused.value.message


def test_a_repeat_of_a_key_with_other_details_after_its_money_left_is_refused_as_reused(
    app: Flask, ctx: Flask
):
    from lumipay.idempotency.service import KeyReused

    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    key = new_idempotency_key()
    send_transfer(ada[0], ada[1], bayo[2], WELCOME, "all", idempotency_key=key, origin=SYSTEM)
    with pytest.raises(KeyReused):
        send_transfer(ada[0], ada[1], bayo[2], 5, "other", idempotency_key=key, origin=SYSTEM)
    assert transfers_of(ada[0]) == 1


def test_the_statement_weighs_the_recipients_maximum_balance_from_its_own_read(
    app: Flask, ctx: Flask
):
    """The recipient's wallet reaches the limits through jsonb_set from the statement's read
    (no test clock: the one-statement path). Tier 1 holds at most ₦300,000."""
    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    funded(ada[0], "NGN", 50_000_000)
    with pytest.raises(LimitExceeded) as refused:
        send_transfer(
            ada[0], ada[1], bayo[2], 20_000_001, "", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
    assert "maximum balance" in refused.value.message
    sent = send_transfer(
        ada[0], ada[1], bayo[2], 20_000_000, "", idempotency_key=new_idempotency_key(),
        origin=SYSTEM,
    )  # fmt: skip
    assert not sent.replayed
    assert balance(bayo[1]) == 30_000_000
    assert verify_ledger().ok


def test_a_dollar_transfer_asks_for_rates_and_counts_at_its_naira_value(app: Flask, ctx: Flask):
    """A USD transfer's limits need the FX rates (`_NeedsRates`): the first statement is refused
    whole (its claim too), the second with rates posts once; the audit row says USD."""
    ada, bayo = customers(2)
    fx.update_rates()
    db.session.remove()
    ada_usd, bayo_usd = funded(ada[0], "USD", 100_000), funded(bayo[0], "USD", 0)
    key = new_idempotency_key()
    sent = send_transfer(ada[0], ada_usd, bayo[2], 1_000, "usd", idempotency_key=key, origin=SYSTEM)
    again = send_transfer(
        ada[0], ada_usd, bayo[2], 1_000, "usd", idempotency_key=key, origin=SYSTEM
    )
    assert (again.reference, again.replayed) == (sent.reference, True)
    assert (balance(ada_usd), balance(bayo_usd)) == (99_000, 1_000)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.subject == sent.reference))
    assert event is not None
    assert event.details == {"amount": 1_000, "currency": "USD", "to_account_number": bayo[2]}
    transfer = db.session.scalar(select(Transfer).where(Transfer.reference == sent.reference))
    assert transfer is not None
    assert (transfer.currency, transfer.to_account_id, transfer.recipient_id) == (
        "USD",
        bayo_usd,
        bayo[0],
    )
    # $900 is past Tier 1's ₦50,000 only at its naira value (900 cents-as-kobo would be ₦900).
    with pytest.raises(LimitExceeded) as refused:
        send_transfer(
            ada[0], ada_usd, bayo[2], 90_000, "", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
    assert "Tier 1 limit of ₦50,000.00 per transaction" in refused.value.message
    assert verify_ledger().ok


def test_a_transfer_from_a_clean_session_holds_one_connection_at_a_time(app: Flask, ctx: Flask):
    """`run_alone` borrows a connection of its own: nothing in a transfer may ask the pool for
    a second one while it holds it (15 threads a worker on a pool sized for them would wait on
    each other). A malformed request is refused by the plan, which reads through the session."""
    ada, bayo = customers(2)
    peak = 0
    pool = db.engine.pool

    def seen(*_args: Any) -> None:
        nonlocal peak
        peak = max(peak, pool.checkedout())  # type: ignore[attr-defined]

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for number, amount, narration in (
            (bayo[2], 1_000, "x" * 101),
            ("12345", 1_000, ""),
            (bayo[2], 0, ""),
            (bayo[2], 1_000, ""),
        ):
            db.session.remove()
            with contextlib.suppress(TransferError):
                send_transfer(
                    ada[0], ada[1], number, amount, narration,
                    idempotency_key=new_idempotency_key(), origin=SYSTEM,
                )  # fmt: skip
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert peak == 1
    assert transfers_of(ada[0]) == 1


def test_run_alone_gives_its_connection_back_transactional(app: Flask, ctx: Flask):
    """The pool takes back a connection `run_alone` put in autocommit as it was, whether the
    statement posted or was refused."""
    from lumipay.database import run_alone

    ada, bayo = customers(2)
    db.engine.dispose()
    send_transfer(
        ada[0], ada[1], bayo[2], 1_000, "", idempotency_key=new_idempotency_key(), origin=SYSTEM
    )
    with pytest.raises(TransferError):
        send_transfer(
            ada[0], ada[1], bayo[2], WELCOME, "", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
    assert run_alone(lambda conn: conn.connection.dbapi_connection.autocommit) is True
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
        conn.execute(sa.text("CREATE TEMP TABLE left_open (id int)"))
        conn.rollback()
    with db.engine.connect() as conn:
        # A transactional connection rolled the temp table back with its transaction.
        assert conn.execute(sa.text("SELECT to_regclass('pg_temp.left_open')")).scalar() is None


def test_a_web_confirm_runs_its_transfer_alone_and_audits_it_as_readers_expect(
    app: Flask, register, ctx
):
    """The confirm step leaves no transaction open after the PIN check (the replay check rides
    in the step-up weighing), so the page form's transfer runs alone, in autocommit; its audit
    row's details, the currency filled in by the statement, are what the audit pages and the
    first-payee check read."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "2,500").forms["confirm-form"]
    sent: list[bool] = []

    def seen(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("EXECUTE lumipay_transfer_claimed"):
            sent.append(conn.connection.dbapi_connection.autocommit)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert confirm.submit().status_int == 303
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert sent == [True]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "transfer"))
    assert event is not None
    assert event.details == {
        "amount": 250_000,
        "currency": "NGN",
        "to_account_number": bayo.account_number,
    }


def test_opening_a_wallet_after_the_plan_cannot_misroute_a_transfer(app: Flask, ctx: Flask):
    """The recipient's wallet in the currency is the statement's own read, so a wallet opened
    just before the transfer is the one credited (never account 0, the placeholder)."""
    ada, bayo = customers(2)
    ada_usd = funded(ada[0], "USD", 5_000)
    fx.update_rates()
    db.session.remove()
    with pytest.raises(TransferError):
        send_transfer(
            ada[0], ada_usd, bayo[2], 1_000, "", idempotency_key=new_idempotency_key(),
            origin=SYSTEM,
        )  # fmt: skip
    bayo_usd = open_wallet(bayo[0], "USD", origin=SYSTEM).id
    db.session.remove()
    send_transfer(
        ada[0], ada_usd, bayo[2], 1_000, "", idempotency_key=new_idempotency_key(), origin=SYSTEM
    )
    assert balance(bayo_usd) == 1_000


def test_a_confirm_twin_that_posts_after_the_first_committed_all_of_it_shows_its_receipt(
    app: Flask, register, ctx: Flask, monkeypatch: pytest.MonkeyPatch
):
    """Two submits of one confirm form: the second passes the debit check (the key not yet
    completed) while the first is still in flight, and its statement runs once the first has
    committed, taking all Ada had. The second must lead to the first's receipt, not say the
    money is short."""
    monkeypatch.setitem(app.config, "INITIAL_BONUS", 500_000)  # ₦5,000: below step-up
    ada = register("Ada Obi")
    monkeypatch.setitem(app.config, "INITIAL_BONUS", 10_000_000)
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
    confirm["pin"] = ada.pin
    fields, cookies = dict(confirm.submit_fields()), dict(ada.browser.cookies)
    second_thread: list[int] = []
    second_at_its_statement, first_done = threading.Event(), threading.Event()

    def hold_the_second(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("EXECUTE lumipay_transfer_claimed") and (
            threading.get_ident() in second_thread
        ):
            second_at_its_statement.set()
            assert first_done.wait(30)

    def submit() -> Any:
        browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.20"})
        for name, value in cookies.items():
            browser.set_cookie(name, value)
        return browser.post("/transfers/confirm", fields, expect_errors=True)

    def second() -> Any:
        second_thread.append(threading.get_ident())
        return submit()

    sa.event.listen(db.engine, "before_cursor_execute", hold_the_second)
    try:
        with ThreadPoolExecutor(1) as pool:
            late = pool.submit(second)
            assert second_at_its_statement.wait(30)
            try:
                first = submit()
            finally:
                first_done.set()
            twin = late.result(30)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", hold_the_second)
    assert first.status_int == 303
    assert twin.status_int == 303, twin.text
    assert twin.headers["Location"] == first.headers["Location"]
    assert transfers_of(db.session.scalar(select(User.id).where(User.email == ada.email))) == 1
    assert verify_ledger().ok


def test_a_connection_killed_while_the_posting_waits_for_a_lock_is_retried_once(
    app: Flask, ctx: Flask
):
    """The statement waits on Ada's wallet lock (held elsewhere) when its backend is killed: in
    autocommit the server rolls it all back (the claim too), `run_alone` sends it again on a new
    connection, and it posts once when the lock is let go."""
    ada, bayo = customers(2)
    db.engine.dispose()  # one pooled connection, on which the warm-up prepares the statement
    send_transfer(
        ada[0], ada[1], bayo[2], 100, "warm", idempotency_key=new_idempotency_key(), origin=SYSTEM
    )
    db.session.remove()
    other = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    waiting = (
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE 'EXECUTE lumipay_transfer_claimed%' AND pid <> ALL(:gone)"
    )

    def waiter(gone: list[int]) -> int:
        def found() -> int | None:
            # A connection per look: a transaction sees pg_stat_activity as it first read it.
            with other.connect() as conn:
                return conn.execute(sa.text(waiting), {"gone": gone}).scalar()

        return int(wait_for(found, what="the transfer waiting for Ada's wallet"))

    key = new_idempotency_key()
    try:
        with other.connect() as blocker:
            blocker.begin()
            blocker.execute(
                sa.text("SELECT 1 FROM ledger_accounts WHERE id = :id FOR UPDATE"), {"id": ada[1]}
            )

            def send() -> Any:
                with app.app_context():
                    return send_transfer(
                        ada[0], ada[1], bayo[2], 5_000, "", idempotency_key=key, origin=SYSTEM
                    )

            with ThreadPoolExecutor(1) as pool:
                sent = pool.submit(send)
                first = waiter([])
                with other.connect() as killer:
                    killer.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
                waiter([first])  # the retry, on a new connection, waits for the same lock
                blocker.rollback()
                result = sent.result(30)
    finally:
        other.dispose()
    assert not result.replayed
    assert transfers_of(ada[0]) == 2
    assert balance(ada[1]) == WELCOME - 100 - 5_000
    assert verify_ledger().ok


def test_a_transfer_refused_by_the_posting_leaves_its_key_free(app: Flask, ctx: Flask):
    """The claim and the posting are one autocommit statement: a freeze refusing the posting
    rolls the claim back with it, so the same form goes through once the freeze is lifted."""
    ada, bayo = customers(2)
    admin = customers(1)[0][0]
    freeze.freeze(ada[0], "fraud review", admin_id=admin, origin=SYSTEM)
    db.session.remove()
    key = new_idempotency_key()
    with pytest.raises(AccountFrozen):
        send_transfer(ada[0], ada[1], bayo[2], 1_000, "", idempotency_key=key, origin=SYSTEM)
    assert db.session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    freeze.unfreeze(ada[0], "review done", admin_id=admin, origin=SYSTEM)
    db.session.remove()
    sent = send_transfer(ada[0], ada[1], bayo[2], 1_000, "", idempotency_key=key, origin=SYSTEM)
    assert not sent.replayed
    assert balance(bayo[1]) == WELCOME + 1_000
