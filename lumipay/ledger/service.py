"""The only code that changes balances.

Every function here works inside the caller's database transaction and never commits: the
caller's unit of work (`run_in_transaction`) commits the postings together with the business
record they belong to, or rolls all of it back.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from lumipay import clock
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.ledger.errors import HoldNotActive, InsufficientFunds, LedgerError
from lumipay.ledger.errors import UnbalancedTransaction as UnbalancedTransaction
from lumipay.ledger.models import (
    SYSTEM,
    WALLET,
    Account,
    DailyFlow,
    Entry,
    Hold,
    HoldStatus,
    LedgerTransaction,
    TransactionStatus,
)
from lumipay.ledger.references import new_reference
from lumipay.money import CURRENCIES

BONUS_FUNDING = "bonus_funding"

log = logging.getLogger(__name__)

# Who ends a hold whose time is up: owner -> handler(hold ids, now) -> how many it ended.
# The ledger never releases a hold by time on its own: a hold is for an operation (a bill at a
# provider, a payout awaiting approval, a card authorisation) and only that operation's owner
# knows whether time ends it. Owners register in the composition root (lumipay.create_app);
# a hold whose owner registered no handler is left active and logged.
ExpiryHandler = Callable[[list[int], datetime], int]
HOLD_OWNERS: dict[str, ExpiryHandler] = {}


def register_hold_owner(owner: str, expire: ExpiryHandler) -> None:
    """Name the handler that expires `owner`'s holds (one per owner; a second replaces it)."""
    HOLD_OWNERS[owner] = expire


@dataclass(frozen=True)
class Leg:
    """One side of a posting: `amount` > 0 credits the account, < 0 debits it."""

    account_id: int
    amount: int


def lock_wallets(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock wallet rows in ascending id order, so two opposite transfers can't deadlock.

    The lock is FOR NO KEY UPDATE: it excludes every other balance change but not the FOR KEY
    SHARE locks that inserting a row with a foreign key to the wallet takes (a transfer, a
    hold), which a plain FOR UPDATE would wait on, deadlocking two transfers between the same
    wallets. `populate_existing` refreshes rows this session already holds, so the balance
    read is the one under the lock, not a stale copy.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Account)
        .where(Account.id.in_(ids), Account.kind == WALLET)
        .order_by(Account.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def system_account(purpose: str, currency: str) -> Account:
    """The bank's own account for `purpose` in `currency`, created on first use."""
    code = f"{purpose}:{currency}"
    account = db.session.scalar(select(Account).where(Account.code == code))
    if account is not None:
        return account
    if currency not in CURRENCIES:
        raise LedgerError(f"Unknown currency {currency}.")
    try:
        with db.session.begin_nested():
            account = Account(
                kind=SYSTEM,
                code=code,
                currency=currency,
                name=f"{purpose.replace('_', ' ').capitalize()} ({currency})",
                balance=0,
                held=0,
            )
            db.session.add(account)
    except IntegrityError:
        # Another transaction created it first; theirs is as good as ours.
        account = db.session.scalars(select(Account).where(Account.code == code)).one()
    return account


def begin(
    kind: str,
    *,
    narration: str = "",
    reference: str | None = None,
    parent_id: int | None = None,
) -> LedgerTransaction:
    """Write the transaction's header row, before any wallet is locked.

    Callers that record a business row (a transfer, a bill) pointing at the transaction add it
    after `begin` and before `apply`, so that the wallet row locks taken by `apply` are held for
    as short a time as possible: only the balance updates, the entries and the commit. The time
    written here is provisional: `apply` takes the posting's time again under the locks.
    """
    txn = LedgerTransaction(
        reference=reference or new_reference(),
        kind=kind,
        status=TransactionStatus.POSTED,
        narration=narration[:140],
        parent_id=parent_id,
        created_at=clock.now(),
    )
    db.session.add(txn)
    db.session.flush()
    return txn


def _system_currencies(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(Account.id, Account.currency).where(Account.id.in_(ids), Account.kind == SYSTEM)
    )
    return {account_id: currency for account_id, currency in rows}


PostingCheck = Callable[[date], None]
"""A caller's check run under the posting's wallet locks with the posting's Lagos day (the KYC
limits: the ledger sits below them, so it takes them as a callback). It refuses by raising."""


def apply(
    txn: LedgerTransaction, legs: Sequence[Leg], *, check: PostingCheck | None = None
) -> LedgerTransaction:
    """Post `legs` under `txn`: lock the wallets, check, move the balances, write the entries.

    The posting's time is taken here, once the wallets are locked, and stamped on the header
    and every entry: per wallet, time order is entry order, so a day once over never gains an
    entry, and the day a posting counts in (its Lagos day) is the day `check` is asked about.

    Raises UnbalancedTransaction when debits and credits differ in any currency, and
    InsufficientFunds when a debit would take a wallet's available balance below zero; the
    caller's transaction then rolls back, header row included.
    """
    if len(legs) < 2:
        raise UnbalancedTransaction("A transaction needs at least two entries.")
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise UnbalancedTransaction("Every entry needs a non-zero whole amount in minor units.")

    ids = {leg.account_id for leg in legs}
    # Only wallets are locked; system accounts are hot and never serialise postings.
    wallets = lock_wallets(ids)
    currency_of = {aid: w.currency for aid, w in wallets.items()}
    currency_of.update(_system_currencies(ids - wallets.keys()))
    if len(currency_of) != len(ids):
        raise LedgerError("Unknown ledger account.")
    txn.created_at = clock.now()
    if check is not None:
        check(clock.lagos_day(txn.created_at))

    per_currency: dict[str, int] = defaultdict(int)
    per_account: dict[int, int] = defaultdict(int)
    for leg in legs:
        per_currency[currency_of[leg.account_id]] += leg.amount
        per_account[leg.account_id] += leg.amount
    unbalanced = {cur: total for cur, total in per_currency.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"Debits and credits differ: {unbalanced}.")
    for account_id, delta in per_account.items():
        wallet = wallets.get(account_id)
        if wallet is not None and delta < 0 and wallet.balance + delta - wallet.held < 0:
            raise InsufficientFunds(account_id, wallet.available, -delta)

    moves = {aid: delta for aid, delta in per_account.items() if aid in wallets and delta}
    if moves:
        # One statement for every wallet of the posting: fewer round trips under the locks.
        db.session.execute(
            update(Account)
            .where(Account.id.in_(moves))
            .values(balance=Account.balance + case(moves, value=Account.id))
            .execution_options(synchronize_session=False)
        )
    running = {aid: w.balance for aid, w in wallets.items()}
    rows = []
    for leg in legs:
        balance_after = None
        if leg.account_id in running:
            running[leg.account_id] += leg.amount
            balance_after = running[leg.account_id]
        rows.append(
            {
                "transaction_id": txn.id,
                "account_id": leg.account_id,
                "currency": currency_of[leg.account_id],
                "amount": leg.amount,
                "balance_after": balance_after,
                "created_at": txn.created_at,
            }
        )
    db.session.execute(insert(Entry), rows)
    _add_daily_flows(txn, [leg for leg in legs if leg.account_id in wallets])
    for aid, wallet in wallets.items():
        set_committed_value(wallet, "balance", running[aid])
    return txn


def _add_daily_flows(txn: LedgerTransaction, wallet_legs: Sequence[Leg]) -> None:
    """Add the wallet legs to their Lagos day's totals (the wallets are locked by the caller)."""
    if not wallet_legs:
        return
    day = clock.lagos_day(txn.created_at)
    totals: dict[int, list[int]] = {}
    for leg in wallet_legs:
        flow = totals.setdefault(leg.account_id, [0, 0, 0])
        flow[0 if leg.amount > 0 else 1] += abs(leg.amount)
        flow[2] += 1
    statement = postgresql.insert(DailyFlow).values(
        [
            {
                "account_id": account_id,
                "day": day,
                "kind": txn.kind,
                "money_in": money_in,
                "money_out": money_out,
                "entries": entries,
            }
            for account_id, (money_in, money_out, entries) in sorted(totals.items())
        ]
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "day", "kind"],
            set_={
                "money_in": DailyFlow.money_in + statement.excluded.money_in,
                "money_out": DailyFlow.money_out + statement.excluded.money_out,
                "entries": DailyFlow.entries + statement.excluded.entries,
            },
        )
    )


def post(
    kind: str,
    legs: Sequence[Leg],
    *,
    narration: str = "",
    reference: str | None = None,
    parent_id: int | None = None,
    check: PostingCheck | None = None,
) -> LedgerTransaction:
    """Write one balanced transaction and apply it to wallet balances (`begin` + `apply`)."""
    txn = begin(kind, narration=narration, reference=reference, parent_id=parent_id)
    return apply(txn, legs, check=check)


def transfer(
    kind: str,
    debit_account_id: int,
    credit_account_id: int,
    amount: int,
    *,
    narration: str = "",
    reference: str | None = None,
) -> LedgerTransaction:
    """Move `amount` from one account to another in the same currency."""
    if type(amount) is not int or amount <= 0:
        raise LedgerError("Amount must be a positive whole number of minor units.")
    return post(
        kind,
        [Leg(debit_account_id, -amount), Leg(credit_account_id, amount)],
        narration=narration,
        reference=reference,
    )


def place_hold(
    account_id: int,
    amount: int,
    *,
    owner: str,
    reference: str,
    expires_at: datetime,
    reason: str = "",
) -> Hold:
    """Reserve `amount` on a wallet under the same row lock as the balance check, for an
    operation of kind `owner` (see HOLD_OWNERS)."""
    if type(amount) is not int or amount <= 0:
        raise LedgerError("A hold needs a positive whole amount.")
    wallet = lock_wallets([account_id]).get(account_id)
    if wallet is None:
        raise LedgerError("Holds can only be placed on a wallet.")
    if wallet.available < amount:
        raise InsufficientFunds(account_id, wallet.available, amount)
    wallet.held += amount
    hold = Hold(
        account_id=account_id,
        amount=amount,
        owner=owner,
        reference=reference,
        reason=reason[:140],
        expires_at=expires_at,
        status=HoldStatus.ACTIVE,
    )
    db.session.add(hold)
    db.session.flush()
    return hold


def lock_hold(hold_id: int) -> Hold | None:
    """Lock a hold's row and read it under the lock (after its business row, before wallets).

    FOR NO KEY UPDATE, like the wallets: it excludes every other change to the hold but not the
    key-share lock a row referencing it takes.
    """
    return db.session.scalars(
        select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _locked_active_hold(hold_id: int) -> tuple[Hold, Account]:
    """The hold, then its wallet, locked in the one lock order (the caller has locked the
    business row first) and re-read under the locks."""
    hold = lock_hold(hold_id)
    if hold is None:
        raise HoldNotActive("No such hold.")
    if hold.status != HoldStatus.ACTIVE:
        raise HoldNotActive(f"This hold is already {hold.status}.")
    wallet = lock_wallets([hold.account_id])[hold.account_id]
    return hold, wallet


def capture_hold(
    hold_id: int,
    amount: int,
    credit_account_id: int,
    *,
    kind: str,
    narration: str = "",
    tolerance: int = 0,
    reference: str | None = None,
) -> LedgerTransaction:
    """Settle a hold: debit what was settled and release the rest, in one transaction.

    A capture above the hold is allowed only up to `tolerance` minor units, and only when the
    wallet's available balance covers the excess.
    """
    if type(amount) is not int or amount <= 0:
        raise LedgerError("A capture needs a positive whole amount.")
    hold, wallet = _locked_active_hold(hold_id)
    if amount > hold.amount + max(tolerance, 0):
        raise LedgerError("The capture is larger than the hold allows.")
    wallet.held -= hold.amount
    db.session.flush()
    txn = transfer(
        kind, wallet.id, credit_account_id, amount, narration=narration, reference=reference
    )
    hold.move_to(HoldStatus.CAPTURED)
    hold.captured_amount = amount
    hold.settled_at = utcnow()
    hold.transaction_id = txn.id
    db.session.flush()
    return txn


def release_hold(hold_id: int, *, status: str = HoldStatus.RELEASED) -> Hold:
    """Give a hold's money back to `available` (status `released` or `expired`)."""
    if status not in (HoldStatus.RELEASED, HoldStatus.EXPIRED):
        raise LedgerError("A hold ends as released or expired.")
    hold, wallet = _locked_active_hold(hold_id)
    wallet.held -= hold.amount
    hold.move_to(status)
    hold.settled_at = utcnow()
    db.session.flush()
    return hold


def holds_due(now: datetime | None = None) -> list[int]:
    """The active holds whose time is up, oldest first (read without locks)."""
    cutoff = now or utcnow()
    return list(
        db.session.scalars(
            select(Hold.id)
            .where(Hold.status == HoldStatus.ACTIVE, Hold.expires_at <= cutoff)
            .order_by(Hold.id)
        )
    )


def expire_holds(now: datetime | None = None, *, hold_ids: Sequence[int] | None = None) -> int:
    """Hand every active hold whose time is up (of `hold_ids`, when given) to its owner;
    returns how many owners ended.

    The candidates are read without locks: each owner locks its business row, then the hold,
    and decides under those locks (a hold whose operation is at a provider never ends by time).
    """
    cutoff = now or utcnow()
    query = select(Hold.owner, Hold.id).where(
        Hold.status == HoldStatus.ACTIVE, Hold.expires_at <= cutoff
    )
    if hold_ids is not None:
        query = query.where(Hold.id.in_(list(hold_ids)))
    rows = db.session.execute(query.order_by(Hold.id)).all()
    by_owner: dict[str, list[int]] = defaultdict(list)
    for owner, hold_id in rows:
        by_owner[owner].append(hold_id)
    ended = 0
    for owner, hold_ids in sorted(by_owner.items()):
        handler = HOLD_OWNERS.get(owner)
        if handler is None:
            log.warning("holds past expiry with no owner to end them", extra={"owner": owner})
            continue
        ended += handler(hold_ids, cutoff)
    return ended


def account_balance(account_id: int) -> int:
    """Posted balance from the entries: the source of truth for system accounts."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account_id)
    )
    return int(total or 0)
