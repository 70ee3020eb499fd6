"""The dashboard's picture of a wallet: money in and out per day, spending by category.

Sums come from the ledger's daily flows (one row per wallet, Lagos day and transaction kind,
kept by `ledger.apply`), so the picture reads at most a few hundred rows however busy the
wallet is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from lumipay.accounts.categories import CATEGORIES, Category, category_of
from lumipay.extensions import db
from lumipay.ledger.models import WALLET, Account, DailyFlow

NOT_SPENDING = frozenset({"fx"})
"""Money moved between the customer's own wallets: out of one wallet, but not spent."""


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


def money_picture(user_id: int, currency: str, *, today: date, days: int = 30) -> MoneyPicture:
    """Money in and out of the customer's `currency` wallet over the `days` ending `today`."""
    start = today - timedelta(days=days - 1)
    window = (
        DailyFlow.account_id == Account.id,
        Account.user_id == user_id,
        Account.kind == WALLET,
        Account.currency == currency,
        DailyFlow.day >= start,
        DailyFlow.day <= today,
    )
    per_day = db.session.execute(
        select(DailyFlow.day, func.sum(DailyFlow.money_in), func.sum(DailyFlow.money_out))
        .where(*window)
        .group_by(DailyFlow.day)
    ).all()
    sums = {d: (int(i or 0), int(o or 0)) for d, i, o in per_day}
    flows = [
        DayFlow(d, *sums.get(d, (0, 0))) for d in (start + timedelta(days=n) for n in range(days))
    ]

    by_kind = db.session.execute(
        select(DailyFlow.kind, func.sum(DailyFlow.money_out))
        .where(*window, DailyFlow.money_out > 0)
        .group_by(DailyFlow.kind)
    ).all()
    per_category: dict[str, int] = defaultdict(int)
    for kind, amount in by_kind:
        key = category_of(kind).key
        if key not in NOT_SPENDING:
            per_category[key] += int(amount)
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
