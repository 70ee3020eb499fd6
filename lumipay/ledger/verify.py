"""`flask ledger verify`: the ledger proves itself, or names what drifted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select

from lumipay.clock import lagos_day_sql
from lumipay.extensions import db
from lumipay.ledger.models import (
    WALLET,
    Account,
    DailyFlow,
    Entry,
    Hold,
    HoldStatus,
    LedgerTransaction,
    VerificationRun,
)
from lumipay.ledger.receivables import positive_receivables
from lumipay.ledger.seal import check_chain


@dataclass
class Report:
    transactions: int = 0
    entries: int = 0
    wallets: int = 0
    sealed_blocks: int = 0
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_ledger(limit: int = 50) -> Report:
    """Check every invariant of the money rules; at most `limit` problems of each kind listed."""
    report = Report()
    session = db.session
    report.transactions = session.scalar(select(func.count(LedgerTransaction.id))) or 0
    report.entries = session.scalar(select(func.count(Entry.id))) or 0
    report.wallets = (
        session.scalar(select(func.count(Account.id)).where(Account.kind == WALLET)) or 0
    )

    unbalanced = session.execute(
        select(LedgerTransaction.reference, Entry.currency, func.sum(Entry.amount))
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.reference, Entry.currency)
        .having(func.sum(Entry.amount) != 0)
        .limit(limit)
    ).all()
    for reference, currency, total in unbalanced:
        report.problems.append(f"transaction {reference} does not balance in {currency}: {total}")

    entry_count = func.count(Entry.id)
    too_few = session.execute(
        select(LedgerTransaction.reference, entry_count)
        .outerjoin(Entry, Entry.transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.reference)
        .having(entry_count < 2)
        .limit(limit)
    ).all()
    for reference, count in too_few:
        report.problems.append(f"transaction {reference} has {count} entries (needs 2 or more)")

    wrong_currency = session.execute(
        select(Entry.id, Entry.currency, Account.currency)
        .join(Account, Account.id == Entry.account_id)
        .where(Entry.currency != Account.currency)
        .limit(limit)
    ).all()
    for entry_id, entry_cur, account_cur in wrong_currency:
        report.problems.append(
            f"entry {entry_id} is in {entry_cur} but its account is in {account_cur}"
        )

    sums = (
        select(Entry.account_id, func.sum(Entry.amount).label("total"))
        .group_by(Entry.account_id)
        .subquery()
    )
    active_holds = (
        select(Hold.account_id, func.sum(Hold.amount).label("total"))
        .where(Hold.status == HoldStatus.ACTIVE)
        .group_by(Hold.account_id)
        .subquery()
    )
    posted = func.coalesce(sums.c.total, 0)
    held = func.coalesce(active_holds.c.total, 0)
    drifted = session.execute(
        select(Account.id, Account.balance, Account.held, posted, held)
        .outerjoin(sums, sums.c.account_id == Account.id)
        .outerjoin(active_holds, active_holds.c.account_id == Account.id)
        .where(Account.kind == WALLET)
        .where(
            (Account.balance != posted)
            | (Account.held != held)
            | (Account.balance - Account.held < 0)
            | (Account.held < 0)
        )
        .limit(limit)
    ).all()
    for account_id, balance, held_col, posted_sum, held_sum in drifted:
        if balance != posted_sum:
            report.problems.append(
                f"wallet {account_id} balance {balance} != sum of its entries {posted_sum}"
            )
        if held_col != held_sum:
            report.problems.append(
                f"wallet {account_id} held {held_col} != its active holds {held_sum}"
            )
        if balance - held_col < 0 or held_col < 0:
            report.problems.append(
                f"wallet {account_id} available balance is negative ({balance - held_col})"
            )

    # The daily flows against the entries they sum, per wallet and Lagos day.
    entry_day = lagos_day_sql(Entry.created_at)
    entry_flows = (
        select(
            Entry.account_id.label("account_id"),
            entry_day.label("day"),
            func.sum(case((Entry.amount > 0, Entry.amount), else_=0)).label("money_in"),
            func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)).label("money_out"),
            func.count(Entry.id).label("entries"),
        )
        .join(Account, Account.id == Entry.account_id)
        .where(Account.kind == WALLET)
        .group_by(Entry.account_id, entry_day)
        .subquery()
    )
    kept_flows = (
        select(
            DailyFlow.account_id.label("account_id"),
            DailyFlow.day.label("day"),
            func.sum(DailyFlow.money_in).label("money_in"),
            func.sum(DailyFlow.money_out).label("money_out"),
            func.sum(DailyFlow.entries).label("entries"),
        )
        .group_by(DailyFlow.account_id, DailyFlow.day)
        .subquery()
    )
    columns = ("money_in", "money_out", "entries")
    ours = [func.coalesce(entry_flows.c[name], 0) for name in columns]
    kept = [func.coalesce(kept_flows.c[name], 0) for name in columns]
    flow_drift: Sequence[Any] = session.execute(
        select(
            func.coalesce(entry_flows.c.account_id, kept_flows.c.account_id),
            func.coalesce(entry_flows.c.day, kept_flows.c.day),
            *ours,
            *kept,
        )
        .select_from(entry_flows)
        .join(
            kept_flows,
            (kept_flows.c.account_id == entry_flows.c.account_id)
            & (kept_flows.c.day == entry_flows.c.day),
            full=True,
        )
        .where(or_(*(a != b for a, b in zip(ours, kept, strict=True))))
        .limit(limit)
    ).all()
    for account_id, day, e_in, e_out, e_count, f_in, f_out, f_count in flow_drift:
        report.problems.append(
            f"wallet {account_id} daily flows on {day} (in {f_in}, out {f_out} over {f_count} "
            f"entries) != its entries (in {e_in}, out {e_out} over {e_count})"
        )

    by_kind = session.execute(
        select(Account.currency, Account.kind, func.coalesce(func.sum(Entry.amount), 0))
        .join(Entry, Entry.account_id == Account.id)
        .group_by(Account.currency, Account.kind)
    ).all()
    for currency, kind, total in by_kind:
        report.totals.setdefault(currency, {})[kind] = int(total)
    for currency, kinds in report.totals.items():
        net = sum(kinds.values())
        if net != 0:
            report.problems.append(f"{currency}: all accounts together sum to {net}, not 0")
    for code, balance in positive_receivables(limit):
        report.problems.append(
            f"receivable {code} is {balance} in the customer's favour (a receivable only owes us)"
        )
    report.sealed_blocks, chain_problems = check_chain(limit)
    report.problems.extend(chain_problems)
    return report


def record_run(report: Report) -> VerificationRun:
    """Keep a verify's outcome for the back office's ledger health (committed by the caller)."""
    run = VerificationRun(
        ok=report.ok,
        transactions=report.transactions,
        entries=report.entries,
        sealed_blocks=report.sealed_blocks,
        problems=report.problems[:200],
    )
    db.session.add(run)
    return run
