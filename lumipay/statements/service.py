"""Statements: a wallet's entries over a date range with opening and closing balances.

A year of a busy wallet must not sit in memory: entries are read in keyset batches on
`ledger_entries(account_id, id)` and handed on batch by batch.

Days are Lagos days, cut by the entries' time (`lumipay.clock.day_start`), and the ledger takes a
posting's time under the wallet's lock, so per wallet time order is entry order and a day once
over never gains an entry: a closed day's statement never changes. The balances come from the
same cut: the opening is `balance_after` of the last entry before the period's first entry (by
entry order), and the closing is the opening plus the period's lines, so the two always agree.
The period's totals come from one SUM, so the summary is known before the first line is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import lazyload

from lumipay.accounts.service import HistoryRow, history_rows, wallet_for
from lumipay.auth.models import User
from lumipay.clock import day_after, day_start
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger.models import Entry, LedgerTransaction
from lumipay.refusals import Refused

BATCH = 500
MAX_DAYS = 366


class StatementError(Refused):
    """A statement that cannot be made; `field` names the form field the message is for."""


@dataclass(frozen=True)
class Statement:
    wallet_id: int
    currency: str
    holder_name: str
    account_number: str
    start: date
    end: date
    opening: int
    closing: int
    total_in: int
    total_out: int
    """Positive: the sum of the period's debits."""
    generated_at: datetime


def _opening(wallet_id: int, first_entry_id: int | None, start: datetime) -> int:
    """The wallet's posted balance before the period: `balance_after` of the entry just before
    the period's first entry, or (no entry in the period) of the last one before `start`."""
    before = Entry.id < first_entry_id if first_entry_id is not None else Entry.created_at < start
    balance = db.session.scalar(
        select(Entry.balance_after)
        .where(Entry.account_id == wallet_id, before)
        .order_by(Entry.id.desc())
        .limit(1)
    )
    return int(balance or 0)


def statement_for(user_id: int, wallet_id: int, start: date, end: date) -> Statement:
    """The summary of one of the customer's wallets from `start` to `end` (both inclusive)."""
    wallet = wallet_for(user_id, wallet_id)
    if wallet is None:
        raise StatementError("wallet", "Choose one of your wallets.")
    if end < start:
        raise StatementError("end", "The end date must be on or after the start date.")
    if (end - start).days >= MAX_DAYS:
        raise StatementError("end", f"A statement covers at most {MAX_DAYS} days.")
    holder = db.session.get(User, user_id)
    totals = db.session.execute(
        select(
            func.coalesce(func.sum(case((Entry.amount > 0, Entry.amount), else_=0)), 0),
            func.coalesce(func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)), 0),
            func.min(Entry.id),
        ).where(
            Entry.account_id == wallet.id,
            Entry.created_at >= day_start(start),
            Entry.created_at < day_after(end),
        )
    ).one()
    total_in, total_out = int(totals[0]), int(totals[1])
    opening = _opening(wallet.id, totals[2], day_start(start))
    return Statement(
        wallet_id=wallet.id,
        currency=wallet.currency,
        holder_name=holder.full_name if holder else "",
        account_number=(holder.account_number or "") if holder else "",
        start=start,
        end=end,
        opening=opening,
        closing=opening + total_in - total_out,
        total_in=total_in,
        total_out=total_out,
        generated_at=utcnow(),
    )


def statement_lines(statement: Statement, *, batch: int = BATCH) -> Iterator[list[HistoryRow]]:
    """The statement's entries, oldest first, `batch` at a time (keyset on the entry id)."""
    last_id = 0
    while True:
        rows = db.session.execute(
            select(Entry, LedgerTransaction)
            .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
            .where(
                Entry.account_id == statement.wallet_id,
                Entry.created_at >= day_start(statement.start),
                Entry.created_at < day_after(statement.end),
                Entry.id > last_id,
            )
            .order_by(Entry.id)
            .limit(batch)
            .options(lazyload(LedgerTransaction.entries))
        ).all()
        if not rows:
            return
        last_id = rows[-1][0].id
        # The session's identity map holds unchanged rows weakly: a batch is freed once read.
        yield history_rows(rows)
        if len(rows) < batch:
            return
