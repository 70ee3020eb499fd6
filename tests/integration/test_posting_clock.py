"""One clock for a posting (issue 17, case 1): a posting's time is taken under its wallet locks,
its day is the Lagos day of that time, and the KYC daily limit and statements count by that day.

The fake clock sits just before Lagos midnight while postings wait on a wallet lock that the
test holds from a connection of its own; the clock moves past midnight before the lock is let
go, so a posting that took its time before its locks books to the old day.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select

from lumipay.audit.service import SYSTEM
from lumipay.clock import day_after, day_start, lagos_day
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.ledger.models import Account, DailyFlow, Entry, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import Refused
from lumipay.statements import service as statements
from lumipay.transfers.service import send_transfer
from tests.conftest import FakeClock, set_tier
from tests.integration.helpers.bills import wait_for
from tests.integration.helpers.interleave import lock_waiters
from tests.integration.test_transfers import wallet

TIER1_DAILY = 5_000_000  # ₦50,000


@contextmanager
def row_locked(wallet_id: int, mode: str) -> Iterator[None]:
    """Hold `mode` (NO KEY UPDATE or UPDATE) on a wallet row from a connection of the test's own."""
    with db.engine.connect() as conn:
        conn.execute(
            sa.text(f"SELECT id FROM ledger_accounts WHERE id = :id FOR {mode}"), {"id": wallet_id}
        )
        yield
        conn.rollback()


def send(app: Flask, sender_id: int, from_wallet: int, to: str, amount: int) -> str:
    with app.app_context():
        try:
            send_transfer(
                sender_id,
                from_wallet,
                to,
                amount,
                "split",
                idempotency_key=new_idempotency_key(),
                origin=SYSTEM,
            )
        except Refused as exc:
            assert "Tier 1 daily limit" in exc.message, exc.message
            return "refused"
        return "sent"


def lagos_out(wallet_id: int) -> dict[date, int]:
    """What left the wallet per Lagos day of its entries' time."""
    out: dict[date, int] = {}
    for entry in db.session.scalars(
        select(Entry).where(Entry.account_id == wallet_id, Entry.amount < 0)
    ):
        day = lagos_day(entry.created_at)
        out[day] = out.get(day, 0) - entry.amount
    return out


def test_concurrent_transfers_just_before_lagos_midnight_keep_the_daily_limit(
    app, register, ctx, clock: FakeClock
):  # type: ignore[no-untyped-def]
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Okafor")
    set_tier(bayo.email, 3)
    set_tier(cy.email, 3)
    sender = wallet(ada)
    sender_id, from_wallet = sender.user_id, sender.id
    db.session.rollback()
    day = lagos_day(clock()) + timedelta(days=1)
    # Early in the Lagos day `day` (still the UTC day before): ₦30,000 leaves.
    clock.moment = day_start(day) + timedelta(minutes=30)
    assert send(app, sender_id, from_wallet, bayo.account_number, 3_000_000) == "sent"

    clock.moment = day_after(day) - timedelta(milliseconds=120)
    with ThreadPoolExecutor(8) as pool, row_locked(from_wallet, "NO KEY UPDATE"):
        futures: list[Future[str]] = [
            pool.submit(
                send, app, sender_id, from_wallet, (bayo if n % 2 else cy).account_number, 1_000_000
            )
            for n in range(8)
        ]
        wait_for(lambda: lock_waiters() >= 8, what="eight transfers waiting on the wallet")
        clock.moment = day_after(day) + timedelta(milliseconds=100)
    outcomes = [future.result() for future in futures]

    db.session.expire_all()
    # They were posted once the lock was theirs, after midnight: the new day's ₦50,000.
    assert outcomes.count("sent") == 5 and outcomes.count("refused") == 3
    next_day = day + timedelta(days=1)
    assert lagos_out(from_wallet) == {day: 3_000_000, next_day: TIER1_DAILY}
    flows = {
        f.day: f.money_out
        for f in db.session.scalars(
            select(DailyFlow).where(DailyFlow.account_id == from_wallet, DailyFlow.money_out > 0)
        )
    }
    assert flows == {day: 3_000_000, next_day: TIER1_DAILY}
    assert db.session.get(Account, from_wallet).balance == 10_000_000 - 3_000_000 - TIER1_DAILY
    assert verify_ledger().ok


def summary(user_id: int, wallet_id: int, day: date) -> dict[str, Any]:
    """A day's statement: its balances, totals and lines, checked against the running balance."""
    statement = statements.statement_for(user_id, wallet_id, day, day)
    lines = [row for batch in statements.statement_lines(statement) for row in batch]
    running = statement.opening
    for row in lines:
        running += row.amount
        assert row.balance_after == running, "a line's balance is not the one before plus it"
    assert (
        statement.closing
        == running
        == statement.opening + statement.total_in - (statement.total_out)
    )
    return {
        "opening": statement.opening,
        "closing": statement.closing,
        "in": statement.total_in,
        "out": statement.total_out,
        "lines": [(row.reference, row.amount, row.balance_after) for row in lines],
    }


def test_statements_around_lagos_midnight_add_up_and_a_closed_day_never_changes(
    app, register, ctx, clock: FakeClock
):  # type: ignore[no-untyped-def]
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Okafor")
    sender = wallet(ada)
    sender_id, from_wallet = sender.user_id, sender.id
    db.session.rollback()
    day = lagos_day(clock()) + timedelta(days=1)
    next_day = day + timedelta(days=1)
    clock.moment = day_start(day) + timedelta(hours=12)
    assert send(app, sender_id, from_wallet, cy.account_number, 500_000) == "sent"

    clock.moment = day_after(day) - timedelta(milliseconds=120)
    with ThreadPoolExecutor(1) as pool:
        # Ada's wallet row locked from outside: the transfer to Bayo starts before midnight and
        # waits for it; midnight passes while it waits.
        with row_locked(from_wallet, "NO KEY UPDATE"):
            late = pool.submit(send, app, sender_id, from_wallet, bayo.account_number, 100_000)
            wait_for(lambda: lock_waiters() >= 1, what="the transfer to Bayo waiting")
            clock.moment = day_after(day) + timedelta(milliseconds=100)
            db.session.expire_all()
            closed_before = summary(sender_id, from_wallet, day)
            next_before = summary(sender_id, from_wallet, next_day)
        assert late.result() == "sent"
    # After midnight, a transfer to Cy posts after it.
    assert send(app, sender_id, from_wallet, cy.account_number, 200_000) == "sent"

    db.session.expire_all()
    closed_after = summary(sender_id, from_wallet, day)
    next_after = summary(sender_id, from_wallet, next_day)
    assert closed_after == closed_before
    assert closed_after["closing"] == 10_000_000 - 500_000
    assert next_after["opening"] == closed_after["closing"] == next_before["opening"]
    assert next_before["lines"] == []
    assert [amount for _, amount, _ in next_after["lines"]] == [-100_000, -200_000]
    assert next_after["closing"] == db.session.get(Account, from_wallet).balance == 9_200_000
    # Per wallet, time order is entry order.
    times = db.session.execute(
        select(Entry.created_at).where(Entry.account_id == from_wallet).order_by(Entry.id)
    ).scalars()
    stamps = list(times)
    assert stamps == sorted(stamps)
    headers = db.session.scalar(
        select(func.count(LedgerTransaction.id)).where(
            LedgerTransaction.created_at >= day_after(day)
        )
    )
    assert headers == 2
    assert verify_ledger().ok
