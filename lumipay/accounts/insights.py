"""The dashboard's picture of a wallet: money in and out per day, spending by category.

Sums are computed by the database (GROUP BY over the wallet's entries in the window), so the
picture costs one small result set however busy the wallet is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select

from lumipay.accounts.categories import CATEGORIES, Category, category_of
from lumipay.accounts.service import day_after, day_start
from lumipay.extensions import db
from lumipay.ledger.models import WALLET, Account, Entry, LedgerTransaction


@dataclass(frozen=True)
class DayFlow:
    day: date
    money_in: int
    money_out: int
    """Positive: the sum of the day's debits."""


@dataclass(frozen=True)
class Spending:
    category: Category
    amount: int


@dataclass(frozen=True)
class MoneyPicture:
    currency: str
    start: date
    end: date
    days: list[DayFlow]
    total_in: int
    total_out: int
    spending: list[Spending]
    """Largest first; categories with no spending are left out."""


def _utc_day(column: ColumnElement[datetime]) -> ColumnElement[str]:
    """The UTC calendar day of a timestamp, whatever the connection's time zone."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def money_picture(user_id: int, currency: str, *, today: date, days: int = 30) -> MoneyPicture:
    """Money in and out of the customer's `currency` wallet over the `days` ending `today`."""
    start = today - timedelta(days=days - 1)
    window = (
        Entry.account_id == Account.id,
        Account.user_id == user_id,
        Account.kind == WALLET,
        Account.currency == currency,
        Entry.created_at >= day_start(start),
        Entry.created_at < day_after(today),
    )
    day = _utc_day(Entry.created_at).label("day")
    per_day = db.session.execute(
        select(
            day,
            func.sum(case((Entry.amount > 0, Entry.amount), else_=0)),
            func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)),
        )
        .where(*window)
        .group_by(day)
    ).all()
    sums = {date.fromisoformat(d): (int(i or 0), int(o or 0)) for d, i, o in per_day}
    flows = [
        DayFlow(d, *sums.get(d, (0, 0))) for d in (start + timedelta(days=n) for n in range(days))
    ]

    by_kind = db.session.execute(
        select(LedgerTransaction.kind, func.sum(-Entry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
        .where(*window, Entry.amount < 0)
        .group_by(LedgerTransaction.kind)
    ).all()
    per_category: dict[str, int] = defaultdict(int)
    for kind, amount in by_kind:
        per_category[category_of(kind).key] += int(amount)
    order = list(CATEGORIES)
    spending = sorted(
        (Spending(CATEGORIES[key], amount) for key, amount in per_category.items() if amount),
        key=lambda s: (-s.amount, order.index(s.category.key)),
    )
    return MoneyPicture(
        currency=currency,
        start=start,
        end=today,
        days=flows,
        total_in=sum(f.money_in for f in flows),
        total_out=sum(f.money_out for f in flows),
        spending=spending,
    )
