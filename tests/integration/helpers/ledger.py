"""Ledger checks every money test shares: the ledger proves itself, and "nothing changed"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from lumipay.database import PREPARED_BODIES
from lumipay.extensions import db
from lumipay.idempotency.models import IdempotencyRecord
from lumipay.ledger.models import Account, Entry, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.transfers.models import Transfer


def assert_ledger_ok() -> None:
    """`flask ledger verify`'s checks, on what is committed now."""
    db.session.expire_all()
    report = verify_ledger()
    assert report.ok, report


def _count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def money_state() -> tuple[Any, ...]:
    """Everything a money movement could change: row counts and every account's balance and
    hold, as committed now (compare before and after a refusal or a crash)."""
    db.session.expire_all()
    accounts = db.session.execute(
        select(Account.id, Account.balance, Account.held).order_by(Account.id)
    ).all()
    return (
        _count(Entry),
        _count(LedgerTransaction),
        _count(Transfer),
        _count(IdempotencyRecord),
        [tuple(row) for row in accounts],
    )


def receipt_linked(page: Any, amount: str) -> None:
    """The page links a receipt; following the link shows the posting with `amount`."""
    link = page.html.find("a", string="View receipt")
    assert link is not None, "no receipt link"
    receipt = page.click(description="View receipt")
    assert receipt.status_int == 200
    assert link["href"].startswith("/transactions/") and amount in receipt.text


def runs(statement: str, sql: str) -> bool:
    """Whether `statement`, as sent to the server, runs SQL containing `sql`: in itself, or in
    the prepared statement it EXECUTEs (lumipay.database.PreparedStatement)."""
    if statement.startswith("EXECUTE "):
        name = statement.removeprefix("EXECUTE ").split("(", 1)[0]
        return sql in PREPARED_BODIES.get(name, "")
    return sql in statement
