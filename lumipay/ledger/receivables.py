"""Money a customer owes the bank: the part of a debit their wallet could not cover.

Some debits can't be refused: the card network has already paid the merchant (a clearing
after its authorisation expired), or a provider took back a top-up the customer has spent.
`debit_or_owe` is the one way to post such a debit: the wallet gives what it has available and
the shortfall is booked to the customer's receivable account, in the same ledger transaction,
so an available balance never goes below zero and what is owed is on the books. Money that
later comes into the customer's wallet from outside (a top-up) repays it first (`repay`).

One receivable account per customer and currency: a system account coded
`customer_receivable:<user id>:<currency>`. Its balance is negative while the customer owes
(an asset of the bank, like a provider's clearing account). Every posting to it also moves the
same customer's wallet in that currency, so that wallet's row lock serialises them: the
receivable is never a hot account. `flask ledger verify` checks that no receivable is ever
positive (the bank owing a customer through it).

The shortfall is posted through the wallet (receivable -> wallet, then wallet -> the creditor),
so the wallet's entries and daily flows show the whole debit: the KYC daily limit and the
customer's statement count all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import LedgerError
from lumipay.ledger.models import SYSTEM, Account, Entry, LedgerTransaction

RECEIVABLE = "customer_receivable"
REPAYMENT_KIND = "receivable_repayment"


@dataclass(frozen=True)
class Debit:
    """A posted debit: `covered` came from the wallet's available balance, `owed` is new debt."""

    transaction: LedgerTransaction
    covered: int
    owed: int


def receivable_code(user_id: int, currency: str) -> str:
    return f"{RECEIVABLE}:{user_id}:{currency}"


def receivable_account(user_id: int, currency: str) -> Account:
    """The customer's receivable account in `currency`, created on first use."""
    return ledger.system_account(f"{RECEIVABLE}:{user_id}", currency)


def debit_or_owe(
    wallet_id: int,
    amount: int,
    credit_account_id: int,
    *,
    kind: str,
    narration: str = "",
    parent_id: int | None = None,
) -> Debit:
    """Debit `amount` from a wallet up to its available balance and book the rest as owed by
    its owner, crediting `credit_account_id` with all of it, in one ledger transaction."""
    if type(amount) is not int or amount <= 0:
        raise LedgerError("A debit needs a positive whole amount.")
    wallet = ledger.lock_wallets([wallet_id]).get(wallet_id)
    if wallet is None or wallet.user_id is None:
        raise LedgerError("Only a customer's wallet can owe.")
    covered = min(max(wallet.available, 0), amount)
    owed = amount - covered
    legs = []
    if owed:
        receivable = receivable_account(wallet.user_id, wallet.currency)
        legs += [ledger.Leg(receivable.id, -owed), ledger.Leg(wallet.id, owed)]
    legs += [ledger.Leg(wallet.id, -amount), ledger.Leg(credit_account_id, amount)]
    txn = ledger.post(kind, legs, narration=narration, parent_id=parent_id)
    return Debit(txn, covered, owed)


def repay(wallet_id: int, *, narration: str = "") -> int:
    """Take what the wallet's owner owes in its currency out of its available balance, as far
    as it goes (money that just came in); returns how much was repaid."""
    wallet = ledger.lock_wallets([wallet_id]).get(wallet_id)
    if wallet is None or wallet.user_id is None:
        return 0
    debt = owed(wallet.user_id, wallet.currency)
    take = min(debt, max(wallet.available, 0))
    if take <= 0:
        return 0
    receivable = receivable_account(wallet.user_id, wallet.currency)
    ledger.post(
        REPAYMENT_KIND,
        [ledger.Leg(wallet.id, -take), ledger.Leg(receivable.id, take)],
        narration=narration or "Repayment of what you owed",
    )
    return take


def owed(user_id: int, currency: str) -> int:
    """What the customer owes the bank in `currency` (0 when nothing)."""
    account_id = db.session.scalar(
        select(Account.id).where(Account.code == receivable_code(user_id, currency))
    )
    return -ledger.account_balance(account_id) if account_id is not None else 0


def owed_by(user_id: int) -> dict[str, int]:
    """Every currency the customer owes in, with the amount (for the back office)."""
    rows = db.session.execute(
        select(Account.currency, func.coalesce(func.sum(Entry.amount), 0))
        .join(Entry, Entry.account_id == Account.id)
        .where(Account.kind == SYSTEM, Account.code.like(f"{RECEIVABLE}:{user_id}:%"))
        .group_by(Account.currency)
        .order_by(Account.currency)
    )
    return {currency: -int(total) for currency, total in rows if total}


def positive_receivables(limit: int) -> list[tuple[str, int]]:
    """Receivable accounts whose balance is above zero (the bank owing through one): drift."""
    total = func.coalesce(func.sum(Entry.amount), 0)
    rows = db.session.execute(
        select(Account.code, total)
        .join(Entry, Entry.account_id == Account.id)
        .where(Account.kind == SYSTEM, Account.code.like(f"{RECEIVABLE}:%"))
        .group_by(Account.code)
        .having(total > 0)
        .limit(limit)
    )
    return [(str(code), int(amount)) for code, amount in rows]
