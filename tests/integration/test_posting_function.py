"""The posting function (issue 21): `ledger_post` on PostgreSQL against a slow reference model,
and under concurrency (threads released together by a barrier, through the real services)."""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Flask, current_app
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lumipay import database
from lumipay.accounts.service import wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.models import User
from lumipay.auth.service import register_customer
from lumipay.clock import lagos_day
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.kyc import limits
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds, LimitRefused
from lumipay.ledger.models import Account, Entry, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from tests.conftest import FakeClock, set_tier, unique_details
from tests.integration.test_posting_clock import send

WELCOME = 10_000_000


def customers(n: int) -> list[tuple[int, int, str, str]]:
    """(user id, wallet id, account number, email) of `n` new customers."""
    made = []
    for _ in range(n):
        user = register_customer(**unique_details(), origin=SYSTEM)
        made.append((user.id, wallets_for(user.id)[0].id, user.account_number, user.email))
    db.session.remove()
    return made


# --- the differential test ------------------------------------------------------------------


@dataclass
class Model:
    """The slow reference: balances, tiers, frozen customers and each Lagos day's money out,
    with the rules written out plainly in Python, in the order the ledger weighs them."""

    balance: dict[int, int]
    owner: dict[int, int]
    tier: dict[int, int]
    frozen: set[int]
    out_by_day: dict[tuple[int, object], int] = field(default_factory=lambda: defaultdict(int))

    def refusal(self, debit: int, credit: int, amount: int, day: object) -> str | None:
        caps = current_app.config["KYC_LIMITS"]
        sender, recipient = self.owner[debit], self.owner[credit]
        if sender in self.frozen:
            return "frozen"
        mine = caps[self.tier[sender]]
        if amount > mine["TRANSACTION_LIMIT"]:
            return "per_transaction"
        spent = sum(
            out for (wallet, on), out in self.out_by_day.items() if on == day and wallet == debit
        )
        if spent + amount > mine["DAILY_LIMIT"]:
            return "daily"
        cap = caps[self.tier[recipient]]["MAX_BALANCE"]
        if cap and self.balance[credit] + amount > cap:
            return "max_balance"
        if self.balance[debit] < amount:
            return "insufficient"
        return None

    def post(self, debit: int, credit: int, amount: int, day: object) -> None:
        self.balance[debit] -= amount
        self.balance[credit] += amount
        self.out_by_day[(debit, day)] += amount


def posted(debit: int, credit: int, amount: int) -> str | None:
    """Post through the ledger's function with the KYC limits; the refusal code, or None."""
    limits_for = limits.movement_limits(
        out=(db.session.get(Account, debit).user_id, "NGN", amount, 0),
        incoming=[(credit, amount)],
    )

    def work() -> None:
        ledger.post(
            "transfer", [ledger.Leg(debit, -amount), ledger.Leg(credit, amount)], limits=limits_for
        )

    try:
        run_in_transaction(work)
    except LimitRefused as exc:
        return str(exc.refusal["code"])
    except InsufficientFunds:
        return "insufficient"
    return None


POSTINGS = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 2),
        st.one_of(st.integers(1, 6_000_000), st.sampled_from([5_000_000, 5_000_001])),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


def test_random_postings_match_the_reference_model(app: Flask, ctx, clock: FakeClock):
    people = customers(4)
    for (_, _, _, email), tier in zip(people, (1, 1, 2, 3), strict=True):
        set_tier(email, tier)
    frozen_user = people[1][0]
    with db.engine.begin() as conn:
        conn.execute(sa.update(User).where(User.id == frozen_user).values(frozen_at=sa.func.now()))
    wallets = [wallet for _, wallet, _, _ in people]
    model = Model(
        balance={wallet: WELCOME for wallet in wallets},
        owner={wallet: user for user, wallet, _, _ in people},
        tier=dict(zip((user for user, *_ in people), (1, 1, 2, 3), strict=True)),
        frozen={frozen_user},
    )

    seen: set[str | None] = set()

    @seed(20261201)
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(postings=POSTINGS)
    def check(postings: list[tuple[int, int, int, bool]]) -> None:
        for debit_at, credit_at, amount, next_day in postings:
            if next_day:
                clock.advance(6 * 3600)
            debit, credit = wallets[debit_at], wallets[(debit_at + 1 + credit_at) % 4]
            day = lagos_day(clock())
            expected = model.refusal(debit, credit, amount, day)
            assert posted(debit, credit, amount) == expected, (debit, credit, amount)
            seen.add(expected)
            if expected is None:
                model.post(debit, credit, amount, day)
        db.session.expire_all()
        balances = {a.id: a.balance for a in db.session.scalars(select(Account))}
        assert {wallet: balances[wallet] for wallet in wallets} == model.balance
        db.session.remove()

    check()
    # The fixed seed reaches every rule, so a rule the function forgot would be caught.
    assert seen == {None, "frozen", "per_transaction", "daily", "max_balance", "insufficient"}
    # Every entry's running balance is its wallet's balance after it, in entry order.
    running = dict.fromkeys(wallets, WELCOME)
    for entry in db.session.scalars(
        select(Entry)
        .join(LedgerTransaction)
        .where(Entry.account_id.in_(wallets), LedgerTransaction.kind == "transfer")
        .order_by(Entry.id)
    ):
        running[entry.account_id] += entry.amount
        assert entry.balance_after == running[entry.account_id]
    assert running == model.balance
    assert verify_ledger().ok


# --- concurrency ---------------------------------------------------------------------------


def together(app: Flask, n: int, work) -> list[str]:  # type: ignore[no-untyped-def]
    """Run `work(i)` in `n` threads released at once; each returns an outcome."""
    barrier = threading.Barrier(n)

    def run(i: int) -> str:
        with app.app_context():
            barrier.wait(30)
            try:
                return work(i)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_concurrent_debits_of_one_wallet_never_overdraw_it(app: Flask, ctx):
    (payer, *payees) = customers(9)
    set_tier(payer[3], 3)

    def debit(i: int) -> str:
        amount = 3_000_000
        legs = [ledger.Leg(payer[1], -amount), ledger.Leg(payees[i][1], amount)]
        try:
            run_in_transaction(lambda: ledger.post("transfer", legs))
        except InsufficientFunds:
            return "refused"
        return "posted"

    outcomes = together(app, 8, debit)
    assert sorted(outcomes) == ["posted"] * 3 + ["refused"] * 5
    db.session.expire_all()
    assert db.session.get(Account, payer[1]).balance == WELCOME - 9_000_000
    assert verify_ledger().ok


def test_concurrent_transfers_never_pass_the_daily_limit(app: Flask, ctx):
    (sender, *recipients) = customers(9)  # Tier 1: ₦50,000 a day

    def send_one(i: int) -> str:
        return send(app, sender[0], sender[1], recipients[i][2], 1_000_000)

    outcomes = together(app, 8, send_one)
    assert sorted(outcomes) == ["refused"] * 3 + ["sent"] * 5
    db.session.expire_all()
    assert db.session.get(Account, sender[1]).balance == WELCOME - 5_000_000
    assert verify_ledger().ok


def test_opposite_transfers_never_deadlock(app: Flask, ctx, monkeypatch):
    ada, bayo = customers(2)
    for person in (ada, bayo):
        set_tier(person[3], 3)
    deadlocks: list[str] = []
    seen = database.is_retryable

    def spy(exc: BaseException) -> bool:
        if getattr(getattr(exc, "orig", None), "pgcode", None) == "40P01":
            deadlocks.append(str(exc))
        return seen(exc)

    monkeypatch.setattr(database, "is_retryable", spy)

    def to_and_fro(i: int) -> str:
        (me, other) = (ada, bayo) if i % 2 else (bayo, ada)
        for _ in range(25):
            assert send(app, me[0], me[1], other[2], 1_000) == "sent"
        return "done"

    assert together(app, 8, to_and_fro) == ["done"] * 8
    assert deadlocks == []
    db.session.expire_all()
    assert db.session.get(Account, ada[1]).balance == WELCOME
    assert db.session.get(Account, bayo[1]).balance == WELCOME
    assert verify_ledger().ok


def test_a_pooled_connection_found_dead_is_replaced_and_the_transfer_goes_through(app: Flask, ctx):
    """No pre-ping: a unit of work whose first statement finds its pooled connection dead (a
    server restart, a proxy's timeout) runs again on a new one."""
    ada, bayo = customers(2)
    # Fill the pool with connections, then end every one of them on the server's side.
    held = [db.engine.connect() for _ in range(3)]
    for conn in held:
        conn.execute(sa.text("SELECT 1"))
        conn.close()
    killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as other:
        ended = other.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
        )
    killer.dispose()
    assert ended >= 3
    assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"
    db.session.expire_all()
    assert db.session.get(Account, bayo[1]).balance == WELCOME + 1_000
