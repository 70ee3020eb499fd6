"""Use cases for a customer's wallets and history."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, false, or_, select, union_all
from sqlalchemy.orm import lazyload

from lumipay.accounts.categories import category_filter, kind_label
from lumipay.audit import service as audit
from lumipay.audit.service import Origin
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.clock import day_after, day_start
from lumipay.database import as_utc, run_in_transaction
from lumipay.extensions import db
from lumipay.ledger.models import WALLET, Account, Entry, LedgerTransaction
from lumipay.money import CURRENCIES
from lumipay.refusals import Refused

CURRENCY_ORDER = ("NGN", "USD", "EUR", "GBP")


class WalletError(Refused):
    """A wallet could not be opened; `code` is "wallet-exists" for API clients, None for a bad
    currency."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(None, message, code=code)


# Read on every page that offers a wallet, so built once; the user id is bound per call.
_WALLETS = select(Account).where(Account.user_id == bindparam("user_id"), Account.kind == WALLET)


def wallets_for(user_id: int) -> list[Account]:
    """The customer's wallets, NGN first."""
    rows = db.session.scalars(_WALLETS, {"user_id": user_id}).all()
    return sorted(rows, key=lambda a: CURRENCY_ORDER.index(a.currency))


def wallet_for(user_id: int, wallet_id: int) -> Account | None:
    """The wallet if it belongs to the customer, else None (so others' ids look like 404s)."""
    return db.session.scalar(
        select(Account).where(
            Account.id == wallet_id, Account.user_id == user_id, Account.kind == WALLET
        )
    )


def wallet_by_public_id(user_id: int, public_id: str | uuid.UUID | None) -> Account | None:
    """The customer's wallet named by its public id (as in the API and page URLs), else None:
    also for a malformed id, or another customer's."""
    if public_id is not None and not isinstance(public_id, uuid.UUID):
        try:
            public_id = uuid.UUID(public_id)
        except ValueError:
            return None
    if public_id is None:
        return None
    return db.session.scalar(
        select(Account).where(
            Account.public_id == public_id, Account.user_id == user_id, Account.kind == WALLET
        )
    )


def currencies_to_open(user_id: int) -> list[str]:
    held = {w.currency for w in wallets_for(user_id)}
    return [c for c in CURRENCY_ORDER if c not in held]


def open_wallet(user_id: int, currency: str, *, origin: Origin) -> Account:
    """Open a wallet in another currency; one per currency per customer."""
    code = (currency or "").strip().upper()
    if code not in CURRENCIES:
        raise WalletError("Choose NGN, USD, EUR or GBP.")

    def work() -> Account:
        if db.session.scalar(
            select(Account.id).where(Account.user_id == user_id, Account.currency == code)
        ):
            raise WalletError(f"You already have a {code} wallet.", code="wallet-exists")
        wallet = Account(
            kind=WALLET, user_id=user_id, currency=code, name=f"{code} wallet", balance=0, held=0
        )
        db.session.add(wallet)
        db.session.flush()
        audit.record("wallet_opened", origin, actor_id=user_id, subject=code, wallet_id=wallet.id)
        return wallet

    return run_in_transaction(work)


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    reference: str
    kind: str
    description: str
    narration: str
    currency: str
    amount: int
    balance_after: int | None
    status: str
    created_at: datetime

    @classmethod
    def of(cls, entry: Entry, txn: LedgerTransaction, description: str) -> HistoryRow:
        """One wallet entry of a ledger transaction, as the customer's history shows it."""
        return cls(
            entry_id=entry.id,
            reference=txn.reference,
            kind=txn.kind,
            description=description,
            narration=txn.narration,
            currency=entry.currency,
            amount=entry.amount,
            balance_after=entry.balance_after,
            status=txn.status,
            created_at=as_utc(txn.created_at),
        )


@dataclass(frozen=True)
class Counterparties:
    """How the history names the other customer in a customer-to-customer movement.

    Registered by lumipay.transfers (a layer above) with `use_counterparties`, so this module
    never imports it. `parties(transaction ids)` maps each transfer's transaction id to
    (sender id, recipient id); `matching(user_id, text)` is a condition on LedgerTransaction
    for a transfer whose other party matches `text`; `record(transaction id)` is the transfer
    record itself, or None.
    """

    parties: Callable[[list[int]], dict[int, tuple[int, int]]]
    matching: Callable[[int, str], ColumnElement[bool]]
    record: Callable[[int], Any]


_counterparties: list[Counterparties] = []


def use_counterparties(counterparties: Counterparties) -> None:
    _counterparties[:] = [counterparties]


def _counterparty_names(transaction_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not transaction_ids or not _counterparties:
        return {}
    return _counterparties[0].parties(transaction_ids)


def _names(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))
    return {uid: mask_name(name) for uid, name in rows}


@dataclass(frozen=True)
class HistoryFilter:
    """What the customer asked the history to show; every field is optional."""

    wallet_id: int | None = None
    category: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None
    """Inclusive: the whole of that Lagos day."""
    text: str = ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _counterparty_matches(user_id: int, text: str) -> ColumnElement[bool]:
    """A transfer whose other party matches `text` (see Counterparties.matching)."""
    if not _counterparties:
        return false()
    return _counterparties[0].matching(user_id, text)


_EntryQuery = Select[Any]


def _filtered(query: _EntryQuery, user_id: int, filters: HistoryFilter) -> _EntryQuery:
    if filters.wallet_id is not None:
        query = query.where(Entry.account_id == filters.wallet_id)
    if filters.category:
        query = query.where(category_filter(LedgerTransaction.kind, filters.category))
    if filters.status:
        query = query.where(LedgerTransaction.status == filters.status)
    if filters.start is not None:
        query = query.where(Entry.created_at >= day_start(filters.start))
    if filters.end is not None:
        query = query.where(Entry.created_at < day_after(filters.end))
    text = filters.text.strip()
    if text:
        pattern = _like(text)
        query = query.where(
            or_(
                LedgerTransaction.narration.ilike(pattern, escape="\\"),
                LedgerTransaction.reference.ilike(pattern, escape="\\"),
                _counterparty_matches(user_id, text),
            )
        )
    return query


def history(
    user_id: int,
    *,
    before: int | None = None,
    limit: int = 20,
    filters: HistoryFilter | None = None,
) -> list[HistoryRow]:
    """The customer's entries across wallets, newest first; `before` is an entry id cursor.

    Keyset paging: each wallet's newest `limit` entries below the cursor are read by walking
    the index `ledger_entries(account_id, id)` backwards, and the walks are merged. A page costs
    the same however many entries the customer has and however deep they have scrolled (a
    join on the owner made PostgreSQL read and sort every entry: 1.6 s at 1M entries).
    """
    wallet_ids = list(
        db.session.scalars(
            select(Account.id).where(Account.user_id == user_id, Account.kind == WALLET)
        )
    )
    if filters is not None and filters.wallet_id is not None:
        wallet_ids = [w for w in wallet_ids if w == filters.wallet_id]
    if not wallet_ids:
        return []
    walks = []
    for wallet_id in wallet_ids:
        walk = (
            select(Entry.id)
            .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
            .where(Entry.account_id == wallet_id)
            .order_by(Entry.id.desc())
            .limit(limit)
        )
        if before is not None:
            walk = walk.where(Entry.id < before)
        if filters is not None:
            walk = _filtered(walk, user_id, filters)
        walks.append(select(walk.subquery().c.id))
    page_ids = union_all(*walks) if len(walks) > 1 else walks[0]
    query = (
        select(Entry, LedgerTransaction)
        .join(LedgerTransaction, LedgerTransaction.id == Entry.transaction_id)
        .where(Entry.id.in_(page_ids))
        .order_by(Entry.id.desc())
        .limit(limit)
        # The rows need each transaction, not all of its entries (selectin by default).
        .options(lazyload(LedgerTransaction.entries))
    )
    return history_rows(db.session.execute(query).all())


def history_rows(rows: Sequence[Row[Entry, LedgerTransaction]]) -> list[HistoryRow]:
    """(Entry, LedgerTransaction) pairs as the customer reads them, counterparties masked."""
    transfers = _counterparty_names([txn.id for _, txn in rows])
    names = _names({uid for parties in transfers.values() for uid in parties})
    result = []
    for entry, txn in rows:
        description = kind_label(txn.kind)
        parties = transfers.get(txn.id)
        if parties is not None:
            sender_id, recipient_id = parties
            if entry.amount < 0:
                description = f"Transfer to {names.get(recipient_id, 'customer')}"
            else:
                description = f"Transfer from {names.get(sender_id, 'customer')}"
        result.append(HistoryRow.of(entry, txn, description))
    return result


@dataclass(frozen=True)
class TransactionDetail:
    reference: str
    kind: str
    status: str
    narration: str
    created_at: datetime
    own_entries: list[HistoryRow]
    from_party: str
    to_party: str
    transfer: Any  # the transfer record, when the transaction is one


def transaction_for(user_id: int, reference: str) -> TransactionDetail | None:
    """A transaction that touched one of the customer's wallets, else None."""
    txn = db.session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.reference == reference)
    )
    if txn is None:
        return None
    own = [e for e in txn.entries if e.account.kind == WALLET and e.account.user_id == user_id]
    if not own:
        return None
    transfer = _counterparties[0].record(txn.id) if _counterparties else None
    if transfer is not None:
        sender = db.session.get_one(User, transfer.sender_id)
        recipient = db.session.get_one(User, transfer.recipient_id)
        from_party = f"{mask_name(sender.full_name)} · {sender.account_number}"
        to_party = f"{mask_name(recipient.full_name)} · {recipient.account_number}"
    else:
        debits = [e for e in txn.entries if e.amount < 0]
        credits = [e for e in txn.entries if e.amount > 0]
        from_party = ", ".join(_party(e, user_id) for e in debits)
        to_party = ", ".join(_party(e, user_id) for e in credits)
    rows = [HistoryRow.of(e, txn, e.account.name) for e in own]
    return TransactionDetail(
        reference=txn.reference,
        kind=kind_label(txn.kind),
        status=txn.status,
        narration=txn.narration,
        created_at=as_utc(txn.created_at),
        own_entries=rows,
        from_party=from_party,
        to_party=to_party,
        transfer=transfer,
    )


def _party(entry: Entry, user_id: int) -> str:
    account = entry.account
    if account.kind == WALLET and account.user_id == user_id:
        return f"Your {account.name}"
    if account.kind == WALLET:
        return "Another customer"
    return "Lumipay"
