"""The back office's read side: totals, searches and pages of records.

Long lists page by keyset (`before` = the last id shown), never by offset, so a page costs the
same however deep it is and rows added meanwhile don't shift what comes next.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, distinct, func, or_, select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.auth.phone import InvalidPhone, normalise_phone
from lumipay.clock import day_after, day_start
from lumipay.database import newest
from lumipay.extensions import db
from lumipay.ledger.models import (
    SYSTEM,
    WALLET,
    Account,
    Entry,
    LedgerTransaction,
    SealBlock,
    VerificationRun,
)

PAGE_SIZE = 25


@dataclass
class Page:
    """One page of a keyset-paged list; `next_before` is the cursor for the next page, if any."""

    rows: list[Any]
    next_before: int | None


def _page(
    query: Select[*tuple[Any, ...]],
    id_column: Any,
    before: int | None,
    size: int = PAGE_SIZE,
) -> Page:
    if before:
        query = query.where(id_column < before)
    rows = list(db.session.execute(query.order_by(id_column.desc()).limit(size + 1)).all())
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, rows[-1][0].id if more and rows else None)


def day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """The instants from the start of `start` to the end of `end` (inclusive Lagos days)."""
    return (day_start(start) if start else None, day_after(end) if end else None)


# --- overview -----------------------------------------------------------------------------


@dataclass
class CurrencyTotals:
    customer_balances: int = 0
    held: int = 0
    wallets: int = 0
    system: dict[str, int] = field(default_factory=dict)


def totals_by_currency() -> dict[str, CurrencyTotals]:
    """Customer money (posted and held) and each system account's balance, per currency."""
    totals: dict[str, CurrencyTotals] = defaultdict(CurrencyTotals)
    for currency, balance, held, count in db.session.execute(
        select(
            Account.currency,
            func.coalesce(func.sum(Account.balance), 0),
            func.coalesce(func.sum(Account.held), 0),
            func.count(Account.id),
        )
        .where(Account.kind == WALLET)
        .group_by(Account.currency)
    ):
        row = totals[currency]
        row.customer_balances, row.held, row.wallets = int(balance), int(held), int(count)
    for currency, name, balance in db.session.execute(
        select(Account.currency, Account.name, func.coalesce(func.sum(Entry.amount), 0))
        .join(Entry, Entry.account_id == Account.id)
        .where(Account.kind == SYSTEM)
        .group_by(Account.currency, Account.name)
        .order_by(Account.name)
    ):
        totals[currency].system[name] = int(balance)
    return dict(sorted(totals.items()))


@dataclass(frozen=True)
class Volume:
    kind: str
    currency: str
    transactions: int
    amount: int


def volumes_on(day: date) -> list[Volume]:
    """Per kind and currency: how many transactions and how much was credited on the Lagos `day`."""
    lower, upper = day_bounds(day, day)
    rows = db.session.execute(
        select(
            LedgerTransaction.kind,
            Entry.currency,
            func.count(distinct(LedgerTransaction.id)),
            func.coalesce(func.sum(Entry.amount), 0),
        )
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .where(
            LedgerTransaction.created_at >= lower,
            LedgerTransaction.created_at < upper,
            Entry.amount > 0,
        )
        .group_by(LedgerTransaction.kind, Entry.currency)
        .order_by(LedgerTransaction.kind, Entry.currency)
    )
    return [Volume(kind, cur, int(n), int(total)) for kind, cur, n, total in rows]


def count(query: Select[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


@dataclass(frozen=True)
class LedgerHealth:
    last_run: VerificationRun | None
    last_block: SealBlock | None
    unsealed_entries: int


def ledger_health() -> LedgerHealth:
    last_run = db.session.scalar(
        select(VerificationRun).order_by(VerificationRun.id.desc()).limit(1)
    )
    last_block = db.session.scalar(select(SealBlock).order_by(SealBlock.id.desc()).limit(1))
    sealed_up_to = last_block.last_entry_id if last_block else 0
    unsealed = db.session.scalar(select(func.count(Entry.id)).where(Entry.id > sealed_up_to))
    return LedgerHealth(last_run, last_block, int(unsealed or 0))


def recent_runs(limit: int = 10) -> list[VerificationRun]:
    return list(
        db.session.scalars(select(VerificationRun).order_by(VerificationRun.id.desc()).limit(limit))
    )


def recent_blocks(limit: int = 10) -> list[SealBlock]:
    return list(db.session.scalars(select(SealBlock).order_by(SealBlock.id.desc()).limit(limit)))


@dataclass(frozen=True)
class TrialLine:
    currency: str
    account: str
    kind: str
    debits: int
    credits: int

    @property
    def net(self) -> int:
        return self.credits - self.debits


def trial_balance() -> dict[str, list[TrialLine]]:
    """Per currency: each system account, and customer wallets together, with their debits and
    credits from the entries. Each currency's lines net to zero when the ledger is whole."""
    label = func.coalesce(Account.code, "customer wallets")
    debits = func.coalesce(func.sum(func.least(Entry.amount, 0)), 0)
    credits = func.coalesce(func.sum(func.greatest(Entry.amount, 0)), 0)
    lines: dict[str, list[TrialLine]] = defaultdict(list)
    for currency, account, kind, debit, credit in db.session.execute(
        select(Account.currency, label, Account.kind, debits, credits)
        .join(Entry, Entry.account_id == Account.id)
        .group_by(Account.currency, label, Account.kind)
        .order_by(Account.currency, Account.kind, label)
    ):
        lines[currency].append(TrialLine(currency, account, kind, -int(debit), int(credit)))
    return dict(lines)


def escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern: its %, _ and \\ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- customers ----------------------------------------------------------------------------


def search_customers(q: str, before: int | None) -> Page:
    query = select(User).where(User.role == "customer")
    text = (q or "").strip()
    if text:
        like = f"%{escape_like(text.lower())}%"
        terms = [
            func.lower(User.full_name).like(like, escape="\\"),
            func.lower(User.email).like(like, escape="\\"),
            User.account_number == text.replace(" ", ""),
        ]
        with contextlib.suppress(InvalidPhone):
            terms.append(User.phone == normalise_phone(text))
        query = query.where(or_(*terms))
    return _page(query, User.id, before)


def customer(public_id: uuid.UUID) -> User | None:
    """A customer by the public id their back-office page is named by."""
    user = db.session.scalar(select(User).where(User.public_id == public_id))
    return user if user is not None and not user.is_admin else None


def wallets_of(user_id: int) -> list[Account]:
    return list(
        db.session.scalars(
            select(Account)
            .where(Account.user_id == user_id, Account.kind == WALLET)
            .order_by(Account.id)
        )
    )


def transactions_of(account_ids: list[int], limit: int = 20) -> list[LedgerTransaction]:
    if not account_ids:
        return []
    ids = (
        select(Entry.transaction_id)
        .where(Entry.account_id.in_(account_ids))
        .order_by(Entry.id.desc())
        .limit(limit * 2)
        .scalar_subquery()
    )
    return newest(LedgerTransaction, LedgerTransaction.id.in_(ids), limit=limit)


def audit_trail_of(user_id: int, limit: int = 50) -> list[AuditEvent]:
    """What the customer did, and what admins did to them."""
    return newest(
        AuditEvent,
        or_(AuditEvent.actor_id == user_id, AuditEvent.subject == f"user:{user_id}"),
        limit=limit,
    )


# --- transactions -------------------------------------------------------------------------


def transaction_kinds() -> list[str]:
    return list(
        db.session.scalars(
            select(LedgerTransaction.kind).distinct().order_by(LedgerTransaction.kind)
        )
    )


def search_transactions(
    *,
    reference: str = "",
    kind: str = "",
    status: str = "",
    start: date | None = None,
    end: date | None = None,
    amount: int | None = None,
    before: int | None = None,
) -> Page:
    query = select(LedgerTransaction)
    if reference.strip():
        prefix = escape_like(reference.strip().upper())
        query = query.where(LedgerTransaction.reference.like(f"{prefix}%", escape="\\"))
    if kind:
        query = query.where(LedgerTransaction.kind == kind)
    if status:
        query = query.where(LedgerTransaction.status == status)
    lower, upper = day_bounds(start, end)
    if lower:
        query = query.where(LedgerTransaction.created_at >= lower)
    if upper:
        query = query.where(LedgerTransaction.created_at < upper)
    if amount:
        query = query.where(
            select(Entry.id)
            .where(
                Entry.transaction_id == LedgerTransaction.id,
                Entry.amount.in_((amount, -amount)),
            )
            .exists()
        )
    return _page(query, LedgerTransaction.id, before)


def transaction(reference: str) -> LedgerTransaction | None:
    return db.session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.reference == reference)
    )


def related_transactions(txn: LedgerTransaction) -> list[LedgerTransaction]:
    """The transaction it corrects or follows (parent) and those that follow it (children)."""
    ids = [txn.parent_id] if txn.parent_id else []
    children = select(LedgerTransaction.id).where(LedgerTransaction.parent_id == txn.id)
    return list(
        db.session.scalars(
            select(LedgerTransaction)
            .where(or_(LedgerTransaction.id.in_(ids), LedgerTransaction.id.in_(children)))
            .order_by(LedgerTransaction.id)
        )
    )


# --- audit --------------------------------------------------------------------------------


def search_audit(
    *,
    action: str = "",
    actor: str = "",
    subject: str = "",
    start: date | None = None,
    end: date | None = None,
    before: int | None = None,
) -> Page:
    query = select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_id)
    if action.strip():
        prefix = escape_like(action.strip())
        query = query.where(AuditEvent.action.like(f"{prefix}%", escape="\\"))
    if actor.strip():
        query = query.where(func.lower(User.email) == actor.strip().lower())
    if subject.strip():
        query = query.where(AuditEvent.subject == subject.strip())
    lower, upper = day_bounds(start, end)
    if lower:
        query = query.where(AuditEvent.created_at >= lower)
    if upper:
        query = query.where(AuditEvent.created_at < upper)
    return _page(query, AuditEvent.id, before)
