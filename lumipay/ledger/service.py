"""The only code that changes balances.

Every function here works inside the caller's database transaction and never commits: the
caller's unit of work (`run_in_transaction`) commits the postings together with the business
record they belong to, or rolls all of it back.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import BigInteger, Date, String, bindparam, cast, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from lumipay import clock
from lumipay.database import PreparedStatement, UTCDateTime, as_utc, locked, utcnow
from lumipay.extensions import db
from lumipay.ledger.errors import HoldNotActive, InsufficientFunds, LedgerError, LimitRefused
from lumipay.ledger.errors import UnbalancedTransaction as UnbalancedTransaction
from lumipay.ledger.models import (
    SYSTEM,
    WALLET,
    Account,
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


PostingCheck = Callable[[date], None]
"""A caller's check run under the posting's wallet locks with the posting's Lagos day, for a
check the posting's limits can't express. It refuses by raising."""

Limits = dict[str, Any]
"""The numbers a posting weighs under its locks, decided by lumipay.kyc.limits (the ledger sits
below it, so it takes them as an argument): `tiers` (per tier: per_transaction, daily,
max_balance or None), `rates` (kobo per unit of each other currency at the mid-rate, or None),
`out` (the customer money leaves: user_id, currency, amount, reserved) and `in` (credits
weighed against their owner's maximum balance: account_id, amount). `ledger_limits_refusal` in
the posting-function migration is the one enforcement."""

# SQLSTATEs the posting functions raise (migration 5f3a9c21d7e4): class LP, detail in JSON.
_INSUFFICIENT, _LIMIT, _UNBALANCED, _UNKNOWN = "LP001", "LP002", "LP003", "LP004"


def posting_error(exc: BaseException) -> LedgerError | None:
    """The ledger's error for a refusal raised by `ledger_post`, or None for any other error."""
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None)
    if not isinstance(exc, DBAPIError) or code is None or not code.startswith("LP"):
        return None
    diag = getattr(orig, "diag", None)
    detail = json.loads(getattr(diag, "message_detail", None) or "{}")
    if code == _INSUFFICIENT:
        return InsufficientFunds(detail["account_id"], detail["available"], detail["needed"])
    if code == _LIMIT:
        return LimitRefused(detail)
    if code == _UNBALANCED and "differ" in detail:
        return UnbalancedTransaction(f"Debits and credits differ: {detail['differ']}.")
    if code == _UNBALANCED:
        return UnbalancedTransaction("A transaction needs at least two entries.")
    return LedgerError("Unknown ledger account.")


def _checked_legs(legs: Sequence[Leg]) -> tuple[list[int], list[int]]:
    if len(legs) < 2:
        raise UnbalancedTransaction("A transaction needs at least two entries.")
    for leg in legs:
        if type(leg.amount) is not int or leg.amount == 0:
            raise UnbalancedTransaction("Every entry needs a non-zero whole amount in minor units.")
    return [leg.account_id for leg in legs], [leg.amount for leg in legs]


def posting_call(
    *, accounts: ColumnElement[Any] | None = None, limits: ColumnElement[Any] | None = None
) -> TableValuedAlias:
    """`ledger_post(...)` as a table (transaction_id, created_at), with named parameters
    (`posting_params`), for a caller that puts the posting in a larger statement (a transfer
    writes its row and audit event in the same one). `accounts` and `limits` may instead be
    SQL of that statement (a transfer's recipient wallet comes from the statement's own read);
    the parameters they replace are then not bound."""
    return func.ledger_post(
        bindparam("post_kind", type_=String),
        bindparam("post_reference", type_=String),
        bindparam("post_narration", type_=String),
        cast(bindparam("post_parent_id", type_=BigInteger), BigInteger),
        accounts
        if accounts is not None
        else cast(bindparam("post_accounts", type_=ARRAY(BigInteger)), ARRAY(BigInteger)),
        cast(bindparam("post_amounts", type_=ARRAY(BigInteger)), ARRAY(BigInteger)),
        limits
        if limits is not None
        else cast(bindparam("post_limits", type_=JSONB(none_as_null=True)), JSONB),
        cast(bindparam("post_at", type_=UTCDateTime), UTCDateTime),
        cast(bindparam("post_transaction_id", type_=BigInteger), BigInteger),
    ).table_valued(column("transaction_id", BigInteger), column("created_at", UTCDateTime))


# Built once: every posting runs the same compiled statement (SQLAlchemy's cache), only the
# parameters change.
POSTING_CALL = posting_call()

_POST = PreparedStatement(
    "lumipay_post", select(POSTING_CALL.c.transaction_id, POSTING_CALL.c.created_at)
)


def posting_params(
    kind: str,
    legs: Sequence[Leg],
    *,
    reference: str,
    narration: str = "",
    parent_id: int | None = None,
    limits: Limits | None = None,
    at: datetime | None = None,
    transaction_id: int | None = None,
) -> dict[str, Any]:
    """The parameters of `POSTING_CALL` for `legs`.

    `at` None: the posting's time is taken by the function once its wallets are locked.
    Raises UnbalancedTransaction at once for a malformed leg; the function raises the rest
    (see `posting_error`)."""
    accounts, amounts = _checked_legs(legs)
    return {
        "post_kind": kind,
        "post_reference": reference,
        "post_narration": narration[:140],
        "post_parent_id": parent_id,
        "post_accounts": accounts,
        "post_amounts": amounts,
        "post_limits": limits,
        "post_at": at,
        "post_transaction_id": transaction_id,
    }


def forget_balances(account_ids: Iterable[int]) -> None:
    """Expire the balances the session holds for these accounts: the posting function moved
    them in SQL, so the next read of `wallet.balance` asks the database."""
    for account_id in set(account_ids):
        wallet = db.session.identity_map.get(identity_key(Account, account_id))
        if wallet is not None:
            db.session.expire(wallet, ["balance", "held"])


def locked_time(ids: Iterable[int], check: PostingCheck | None = None) -> datetime | None:
    """The posting's time taken from the app's clock under the wallet locks, when a caller's
    `check` must see its day first or a test clock (`CLOCK`) is set; None (the usual case)
    lets `ledger_post` take it under its own locks, without this extra round trip."""
    if check is None and current_app.config.get("CLOCK") is None:
        return None
    lock_wallets(ids)
    at = clock.now()
    if check is not None:
        check(clock.lagos_day(at))
    return at


def _run_posting(params: dict[str, Any]) -> tuple[int, datetime]:
    try:
        row = _POST.execute(params).one()
    except DBAPIError as exc:
        refused = posting_error(exc)
        if refused is None:
            raise
        raise refused from None
    return row.transaction_id, as_utc(row.created_at)


def apply(
    txn: LedgerTransaction,
    legs: Sequence[Leg],
    *,
    check: PostingCheck | None = None,
    limits: Limits | None = None,
) -> LedgerTransaction:
    """Post `legs` under the header `begin` wrote: one call of `ledger_post`, which locks the
    wallets, weighs `limits`, checks available balances, moves the balances and writes the
    entries and daily flows.

    The posting's time is taken under the wallet locks and stamped on the header and every
    entry: per wallet, time order is entry order, so a day once over never gains an entry, and
    the day a posting counts in (its Lagos day) is the day `limits` and `check` are weighed on.

    Raises UnbalancedTransaction when debits and credits differ in any currency,
    InsufficientFunds when a debit would take a wallet's available balance below zero and
    LimitRefused when `limits` refuse; the caller's transaction then rolls back.
    """
    at = locked_time([leg.account_id for leg in legs], check)
    _, created_at = _run_posting(
        posting_params(
            txn.kind,
            legs,
            reference=txn.reference,
            limits=limits,
            at=at,
            transaction_id=txn.id,
        )
    )
    set_committed_value(txn, "created_at", created_at)
    forget_balances(leg.account_id for leg in legs)
    return txn


def post(
    kind: str,
    legs: Sequence[Leg],
    *,
    narration: str = "",
    reference: str | None = None,
    parent_id: int | None = None,
    check: PostingCheck | None = None,
    limits: Limits | None = None,
) -> LedgerTransaction:
    """Write one balanced transaction and apply it to wallet balances, header included, in one
    call of `ledger_post`."""
    reference = reference or new_reference()
    narration = narration[:140]
    at = locked_time([leg.account_id for leg in legs], check)
    txn_id, created_at = _run_posting(
        posting_params(
            kind,
            legs,
            reference=reference,
            narration=narration,
            parent_id=parent_id,
            limits=limits,
            at=at,
        )
    )
    forget_balances(leg.account_id for leg in legs)
    txn = LedgerTransaction(
        id=txn_id,
        reference=reference,
        kind=kind,
        status="posted",
        narration=narration,
        parent_id=parent_id,
        created_at=created_at,
    )
    # Known from the call: the session takes it as loaded, without reading it back.
    make_transient_to_detached(txn)
    db.session.add(txn)
    return txn


def limits_refusal(limits: Limits, day: date) -> dict[str, Any] | None:
    """Ask the posting's own enforcement (`ledger_limits_refusal`) about a movement that is not
    a posting yet (a hold, an approval, a card clearing), under the caller's wallet locks; it
    locks the customers. The refusal, or None."""
    return db.session.scalar(
        select(
            func.ledger_limits_refusal(
                cast(bindparam(None, limits, JSONB), JSONB), bindparam(None, day, Date)
            )
        )
    )


def transaction_reference(transaction_id: int | None) -> str | None:
    """The reference of a posted transaction (its receipt's address), or None."""
    if transaction_id is None:
        return None
    return db.session.scalar(
        select(LedgerTransaction.reference).where(LedgerTransaction.id == transaction_id)
    )


def lock_customers(user_ids: Iterable[int]) -> None:
    """Hold off every movement of these customers until this transaction ends, and wait for the
    ones in flight: the customers' own lock, which `ledger_limits_refusal` takes after the
    wallets'. A freeze takes it, so no debit weighed before the freeze commits after it."""
    db.session.execute(
        select(func.ledger_lock_customers(bindparam(None, list(user_ids), ARRAY(BigInteger))))
    )


def spent_today(user_id: int, day: date, rates: dict[str, str]) -> int | None:
    """The kobo value of what left the customer's wallets on the Lagos `day`, plus their active
    holds, as the limits enforcement counts it (`ledger_spent`); None when a rate is missing."""
    return db.session.scalar(
        select(
            func.ledger_spent(
                bindparam(None, user_id, BigInteger),
                bindparam(None, day, Date),
                cast(bindparam(None, rates, JSONB), JSONB),
            )
        )
    )


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
    return locked(Hold, Hold.id == hold_id, key_share=True)


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
