"""A Hypothesis state machine over register / open wallet / transfer / refused transfer / fund,
checking every ledger invariant and a model of every balance after each step (PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from lumipay.accounts.service import WalletError, open_wallet, wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.service import register_customer
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.ledger import service as ledger
from lumipay.ledger.models import WALLET, Account
from lumipay.ledger.verify import verify_ledger
from lumipay.refusals import Refused
from lumipay.transfers.service import TransferError, send_transfer
from tests.conftest import TABLES, unique_details

BONUS = 10_000_000
CURRENCIES = ("NGN", "USD", "EUR", "GBP")


def make_machine(app: Flask) -> type[RuleBasedStateMachine]:
    class Bank(RuleBasedStateMachine):
        customers = Bundle("customers")

        def __init__(self) -> None:
            super().__init__()
            self.context = app.app_context()
            self.context.push()
            # model: (user_id, currency) -> balance the bank owes that customer
            self.model: dict[tuple[int, str], int] = {}
            self.accounts: dict[int, str] = {}

        @precondition(lambda self: len(self.accounts) < 4)
        @rule(target=customers)
        def register(self) -> int:
            user = register_customer(**unique_details("State Machine"), origin=SYSTEM)
            self.model[(user.id, "NGN")] = BONUS
            self.accounts[user.id] = user.account_number
            return user.id

        @rule(user_id=customers, currency=st.sampled_from(CURRENCIES))
        def open_wallet(self, user_id: int, currency: str) -> None:
            try:
                open_wallet(user_id, currency, origin=SYSTEM)
            except WalletError:
                assert (user_id, currency) in self.model
                return
            assert (user_id, currency) not in self.model
            self.model[(user_id, currency)] = 0

        @rule(
            user_id=customers,
            currency=st.sampled_from(CURRENCIES),
            amount=st.integers(1, 5_000_000),
        )
        def fund(self, user_id: int, currency: str, amount: int) -> None:
            wallet = self._wallet(user_id, currency)
            if wallet is None:
                return
            source = ledger.system_account("test_funding", currency)
            run_in_transaction(lambda: ledger.transfer("test_funding", source.id, wallet, amount))
            self.model[(user_id, currency)] += amount

        @rule(
            sender=customers,
            recipient=customers,
            currency=st.sampled_from(CURRENCIES),
            amount=st.one_of(st.integers(1, 3_000_000), st.integers(3_000_001, 40_000_000)),
        )
        def transfer(self, sender: int, recipient: int, currency: str, amount: int) -> None:
            wallet = self._wallet(sender, currency)
            if wallet is None:
                return
            should_work = (
                sender != recipient
                and (recipient, currency) in self.model
                and self.model[(sender, currency)] >= amount
            )
            try:
                send_transfer(
                    sender,
                    wallet,
                    self.accounts[recipient],
                    amount,
                    "state machine",
                    idempotency_key=new_idempotency_key(),
                    origin=SYSTEM,
                )
            except Refused:
                assert not should_work
                return
            assert should_work
            self.model[(sender, currency)] -= amount
            self.model[(recipient, currency)] += amount

        @rule(sender=customers, amount=st.integers(1, 1_000))
        def transfer_to_unknown_account(self, sender: int, amount: int) -> None:
            try:
                send_transfer(
                    sender,
                    self._wallet(sender, "NGN"),
                    "0000000000",
                    amount,
                    "",
                    idempotency_key=new_idempotency_key(),
                    origin=SYSTEM,
                )
            except TransferError as exc:
                assert exc.field == "to_account_number"
            else:
                raise AssertionError("a transfer to an unknown account went through")

        def _wallet(self, user_id: int, currency: str) -> int | None:
            for wallet in wallets_for(user_id):
                if wallet.currency == currency:
                    return wallet.id
            return None

        @invariant()
        def ledger_proves_itself(self) -> None:
            report = verify_ledger()
            assert report.ok, report.problems

        @invariant()
        def balances_match_the_model(self) -> None:
            db.session.expire_all()
            rows = db.session.execute(
                select(Account.user_id, Account.currency, Account.balance, Account.held).where(
                    Account.kind == WALLET
                )
            ).all()
            actual = {(uid, cur): bal for uid, cur, bal, held in rows}
            assert actual == self.model
            assert all(held == 0 and bal >= 0 for _, _, bal, held in rows)

        def teardown(self) -> None:
            db.session.remove()
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            self.context.pop()

    return Bank


def test_bank_state_machine_keeps_every_invariant(app: Flask, db_clean: None) -> None:
    run_state_machine_as_test(
        make_machine(app),
        settings=settings(
            max_examples=15,
            stateful_step_count=12,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
