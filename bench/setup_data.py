"""Bulk customers and their funding, fast and honest.

Users and wallets are inserted in bulk (one precomputed scrypt hash for everyone, since
`register_customer` would spend ~50 ms of CPU per customer on hashing alone). Every kobo they
hold still arrives through the ledger: `ledger.post("welcome_bonus", ...)` from the bonus
funding system account, one posting per batch of wallets, inside `run_in_transaction`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import func, insert, select

from lumipay.auth.models import User
from lumipay.auth.nuban import make_account_number
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import WALLET, Account, Entry

# Serials 1xxxxxxxx are the harness's; registration picks random serials and skips taken ones.
SERIAL_BASE = 100_000_000
FUNDING_PER_WALLET = 100_000_000  # ₦1,000,000.00 in kobo: far more than a 20 s run can spend


@dataclass(frozen=True)
class Customer:
    """A benchmark customer: who they are and their NGN wallet."""

    user_id: int
    wallet_id: int
    account_number: str
    email: str


def bulk_customers(app: Flask, count: int, *, start: int, password_hash: str) -> list[Customer]:
    """Insert `count` customers numbered from `start`, each with an empty NGN wallet.

    Emails, phones and NUBAN serials are derived from the number, so they are unique as long
    as the ranges given to successive calls don't overlap.
    """
    with app.app_context():
        bank_code = current_app.config["NUBAN_BANK_CODE"]
        numbers = range(start, start + count)
        user_rows = [
            {
                "full_name": f"Bench Customer {n}",
                "email": f"bench{n}@example.com",
                "phone": f"+2347{n:09d}",
                "password_hash": password_hash,
                "role": "customer",
                # Tier 3: the bench measures throughput, not KYC limits (its wallets hold ₦1m).
                "kyc_tier": 3,
                "account_number": make_account_number(bank_code, f"{SERIAL_BASE + n:09d}"),
            }
            for n in numbers
        ]
        users = db.session.execute(
            insert(User).returning(
                User.id, User.account_number, User.email, sort_by_parameter_order=True
            ),
            user_rows,
        ).all()
        wallet_rows = [
            {
                "kind": WALLET,
                "user_id": user.id,
                "currency": "NGN",
                "name": "NGN wallet",
                "balance": 0,
                "held": 0,
            }
            for user in users
        ]
        wallets = db.session.execute(
            insert(Account).returning(Account.id, sort_by_parameter_order=True), wallet_rows
        ).all()
        db.session.commit()
        db.session.remove()
    return [
        Customer(user.id, wallet.id, user.account_number, user.email)
        for user, wallet in zip(users, wallets, strict=True)
    ]


def fund_wallets(
    app: Flask, wallet_ids: list[int], *, amount: int = FUNDING_PER_WALLET, batch: int = 1000
) -> int:
    """Credit every wallet `amount` through the ledger, `batch` wallets per posting.

    Returns the number of postings made.
    """
    postings = 0
    with app.app_context():
        for i in range(0, len(wallet_ids), batch):
            chunk = wallet_ids[i : i + batch]

            def work(chunk: list[int] = chunk) -> None:
                funding = ledger.system_account(ledger.BONUS_FUNDING, "NGN")
                legs = [ledger.Leg(funding.id, -amount * len(chunk))]
                legs += [ledger.Leg(wallet_id, amount) for wallet_id in chunk]
                ledger.post("welcome_bonus", legs, narration="Benchmark funding")

            run_in_transaction(work)
            postings += 1
        db.session.remove()
    return postings


def add_wallet_entries(app: Flask, wallet_id: int, count: int, *, legs: int = 5000) -> float:
    """Give one wallet `count` more entries through real, balanced ledger postings.

    Each posting has up to `legs - 1` wallet legs, alternating a credit of ₦3.00 and a debit
    of ₦1.00 (credit first, so the running balance never dips below zero), and one leg on the
    bonus funding system account that balances it. Returns the seconds taken.
    """
    started = time.perf_counter()
    with app.app_context():
        remaining = count
        while remaining > 0:
            size = min(remaining, legs - 1)
            amounts = [300 if k % 2 == 0 else -100 for k in range(size)]

            def work(amounts: list[int] = amounts) -> None:
                funding = ledger.system_account(ledger.BONUS_FUNDING, "NGN")
                wallet_legs = [ledger.Leg(wallet_id, a) for a in amounts]
                ledger.post(
                    "bench_activity",
                    [*wallet_legs, ledger.Leg(funding.id, -sum(amounts))],
                    narration="Benchmark activity",
                )

            run_in_transaction(work)
            remaining -= size
        db.session.remove()
    return time.perf_counter() - started


def middle_entry_id(app: Flask, wallet_id: int) -> tuple[int, int]:
    """(number of the wallet's entries, id of the one in the middle): a history cursor."""
    with app.app_context():
        count = db.session.scalar(select(func.count(Entry.id)).where(Entry.account_id == wallet_id))
        middle = db.session.scalar(
            select(Entry.id)
            .where(Entry.account_id == wallet_id)
            .order_by(Entry.id)
            .offset((count or 0) // 2)
            .limit(1)
        )
        db.session.remove()
    return int(count or 0), int(middle or 0)
