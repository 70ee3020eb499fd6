"""The posting function (issue 21): `ledger_post` on PostgreSQL against a slow reference model,
and under concurrency (threads released together by a barrier, through the real services)."""

from __future__ import annotations

import json
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
from lumipay.accounts import freeze
from lumipay.accounts.service import open_wallet, wallets_for
from lumipay.audit.service import SYSTEM
from lumipay.auth.models import User
from lumipay.auth.service import register_customer
from lumipay.clock import lagos_day
from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.forms import new_idempotency_key
from lumipay.kyc import limits
from lumipay.kyc import service as kyc
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import InsufficientFunds, LimitRefused
from lumipay.ledger.models import Account, Entry, LedgerTransaction
from lumipay.ledger.verify import verify_ledger
from lumipay.transfers.models import Transfer
from lumipay.transfers.service import send_transfer
from tests.conftest import FakeClock, set_tier, unique_details
from tests.integration.helpers.bills import wait_for
from tests.integration.helpers.interleave import lock_waiters
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


# --- one customer, several wallets: the customer's own lock -----------------------------------

RATES = {"USD": "1000"}  # ₦1,000 a dollar: 1,000 cents are ₦10,000


def funded(user_id: int, currency: str, amount: int) -> int:
    """A wallet of the customer in `currency` (opened if needed) with `amount` more in it."""
    wallet = next((w for w in wallets_for(user_id) if w.currency == currency), None)
    if wallet is None:
        wallet = open_wallet(user_id, currency, origin=SYSTEM)
    wallet_id = wallet.id
    if amount:
        source = ledger.system_account(ledger.BONUS_FUNDING, currency).id
        legs = [ledger.Leg(source, -amount), ledger.Leg(wallet_id, amount)]
        run_in_transaction(lambda: ledger.post("transfer", legs))
    db.session.remove()
    return wallet_id


def valued_post(sender: int, debit: int, credit: int, currency: str, amount: int) -> str:
    """One transfer through `ledger_post` weighed with the KYC limits at the fixed rates."""
    weighed = {
        **limits.movement_limits(out=(sender, currency, amount, 0), incoming=[(credit, amount)]),
        "rates": RATES,
    }
    legs = [ledger.Leg(debit, -amount), ledger.Leg(credit, amount)]
    try:
        run_in_transaction(lambda: ledger.post("transfer", legs, limits=weighed))
    except LimitRefused as exc:
        return str(exc.refusal["code"])
    return "posted"


def _debits_from_naira_and_dollars_at_once(app: Flask) -> None:
    ada, bayo = customers(2)  # Ada is on Tier 1: ₦50,000 a day
    set_tier(bayo[3], 3)
    ada_usd, bayo_usd = funded(ada[0], "USD", 100_000), funded(bayo[0], "USD", 0)

    def debit(i: int) -> str:
        if i % 2:
            return valued_post(ada[0], ada_usd, bayo_usd, "USD", 1_000)
        return valued_post(ada[0], ada[1], bayo[1], "NGN", 1_000_000)

    outcomes = together(app, 10, debit)
    assert sorted(outcomes) == ["daily"] * 5 + ["posted"] * 5
    db.session.expire_all()
    left_ngn = WELCOME - db.session.get(Account, ada[1]).balance
    left_usd = 100_000 - db.session.get(Account, ada_usd).balance
    assert left_ngn + left_usd * 1000 == 5_000_000


def test_concurrent_debits_from_two_wallets_of_one_customer_never_pass_the_daily_limit(
    app: Flask, ctx
):
    """The wallets' locks don't serialise a customer's naira and dollar debits; the daily limit
    counts both, so the customer's own lock must."""
    for _ in range(3):  # a race lost once in a while is still lost: three rounds
        _debits_from_naira_and_dollars_at_once(app)
    assert verify_ledger().ok


def test_concurrent_credits_to_two_wallets_of_one_customer_never_pass_the_maximum_balance(
    app: Flask, ctx
):
    """Naira and dollar credits lock different wallets; the maximum balance weighs both."""
    payer, bayo = customers(2)  # Bayo is on Tier 1: at most ₦300,000, ₦100,000 in now
    set_tier(payer[3], 3)
    payer_ngn = funded(payer[0], "NGN", 50_000_000)
    payer_usd = funded(payer[0], "USD", 100_000)
    bayo_usd = funded(bayo[0], "USD", 0)

    def credit(i: int) -> str:
        if i % 2:
            return valued_post(payer[0], payer_usd, bayo_usd, "USD", 5_000)
        return valued_post(payer[0], payer_ngn, bayo[1], "NGN", 5_000_000)

    outcomes = together(app, 10, credit)
    assert sorted(outcomes) == ["max_balance"] * 6 + ["posted"] * 4
    db.session.expire_all()
    worth = db.session.get(Account, bayo[1]).balance
    worth += db.session.get(Account, bayo_usd).balance * 1000
    assert worth == 30_000_000
    assert verify_ledger().ok


def test_a_freeze_arriving_during_a_movement_waits_for_it(app: Flask, ctx):
    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    admin = customers(1)[0][0]
    posting = db.engine.connect()
    in_flight = posting.begin()
    posting.execute(
        sa.text(
            "SELECT * FROM ledger_post('transfer', 'FREEZE-RACE-1', '', NULL, "
            "ARRAY[:a, :b]::bigint[], ARRAY[-1000, 1000]::bigint[], CAST(:limits AS jsonb), "
            "NULL, NULL)"
        ),
        {
            "a": ada[1],
            "b": bayo[1],
            "limits": json.dumps(
                limits.movement_limits(out=(ada[0], "NGN", 1_000, 0), incoming=[(bayo[1], 1_000)])
            ),
        },
    )
    done: list[str] = []

    def freeze_ada() -> None:
        with app.app_context():
            freeze.freeze(ada[0], "suspected fraud", admin_id=admin, origin=SYSTEM)
            done.append("frozen")
            db.session.remove()

    thread = threading.Thread(target=freeze_ada)
    thread.start()
    try:
        wait_for(lambda: lock_waiters("%") or bool(done))
        assert done == [], "the freeze went ahead of a movement in flight"
    finally:
        in_flight.commit()
        posting.close()
        thread.join(30)
    assert done == ["frozen"]
    db.session.expire_all()
    assert db.session.get(Account, ada[1]).balance == WELCOME - 1_000
    assert verify_ledger().ok


def test_a_movement_arriving_during_a_freeze_waits_and_is_refused(app: Flask, ctx):
    ada, bayo = customers(2)
    set_tier(ada[3], 3)
    admin = customers(1)[0][0]
    # The freeze is paused after it took the customer: the sign-outs it makes wait on this.
    blocker = db.engine.connect()
    held = blocker.begin()
    blocker.execute(sa.text("LOCK TABLE user_sessions IN EXCLUSIVE MODE"))
    outcomes: list[str] = []

    def freeze_ada() -> None:
        with app.app_context():
            freeze.freeze(ada[0], "suspected fraud", admin_id=admin, origin=SYSTEM)
            db.session.remove()

    def send_from_ada() -> None:
        with app.app_context():
            outcomes.append(valued_post(ada[0], ada[1], bayo[1], "NGN", 1_000))
            db.session.remove()

    freezing = threading.Thread(target=freeze_ada)
    sending = threading.Thread(target=send_from_ada)
    freezing.start()
    try:
        wait_for(lambda: lock_waiters("%user_sessions%"))
        sending.start()
        wait_for(lambda: lock_waiters("%lumipay_post%") or bool(outcomes))
        assert outcomes == [], "the movement went ahead of a freeze in flight"
    finally:
        held.commit()
        blocker.close()
        freezing.join(30)
        if sending.is_alive() or outcomes:
            sending.join(30)
    assert outcomes == ["frozen"]
    db.session.expire_all()
    assert db.session.get(Account, ada[1]).balance == WELCOME
    assert verify_ledger().ok


def test_a_transfer_s_statements_are_planned_once_per_connection(app: Flask, ctx):
    """The transfer's one statement is PREPAREd the first time it runs on a pooled connection
    and EXECUTEd by name after; a connection the pool replaces prepares it anew."""
    ada, bayo = customers(2)
    db.engine.dispose()  # start from new connections
    for _ in range(3):
        assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"
    with db.engine.connect() as conn:  # the pool hands back the connection the sends used
        prepared = conn.execute(
            sa.text("SELECT name, statement FROM pg_prepared_statements ORDER BY name")
        ).all()
    names = [name for name, _ in prepared]
    assert names == ["lumipay_transfer_claimed"]
    assert all(statement.startswith("PREPARE ") for _, statement in prepared)
    db.engine.dispose()
    assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"
    db.session.expire_all()
    assert db.session.get(Account, bayo[1]).balance == WELCOME + 4_000
    assert verify_ledger().ok


def test_a_transfer_from_a_clean_session_is_one_statement_in_autocommit(app: Flask, ctx):
    """With no transaction open, a transfer sends one statement on a connection in autocommit:
    no BEGIN, no COMMIT, one round trip (lumipay.database.run_alone)."""
    ada, bayo = customers(2)
    assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"  # prepares its statement
    sent: list[tuple[str, bool]] = []

    def seen(conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement.split("(")[0], conn.connection.dbapi_connection.autocommit))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert sent == [("EXECUTE lumipay_transfer_claimed", True)]
    db.session.expire_all()
    assert db.session.get(Account, bayo[1]).balance == WELCOME + 2_000


def test_one_key_sent_from_ten_threads_at_once_moves_money_once(app: Flask, ctx):
    """Ten sends of one key at once, each on a connection of its own in autocommit: the claim
    in the statement lets one post; the others wait on it and replay its reference."""
    ada, bayo = customers(2)
    key = new_idempotency_key()

    def send_same(_: int) -> str:
        sent = send_transfer(
            ada[0], ada[1], bayo[2], 1_000, "once", idempotency_key=key, origin=SYSTEM
        )
        return sent.reference

    references = together(app, 10, send_same)
    assert len(set(references)) == 1
    assert db.session.scalar(select(sa.func.count(Transfer.id))) == 1
    db.session.expire_all()
    assert db.session.get(Account, ada[1]).balance == WELCOME - 1_000
    assert db.session.get(Account, bayo[1]).balance == WELCOME + 1_000
    assert verify_ledger().ok


def test_a_prepared_statement_keeps_an_operator_written_with_a_percent_sign(app: Flask, ctx):
    """The driver formats every statement SQLAlchemy sends, the PREPARE too: a `%` in the
    statement (the modulo operator) must reach PostgreSQL as `%`, not break the PREPARE."""
    remainder = database.PreparedStatement(
        "lumipay_test_modulo",
        select(sa.bindparam("dividend", type_=sa.BigInteger) % sa.literal(7, sa.BigInteger)),
    )
    assert remainder.execute({"dividend": 23}).scalar_one() == 2
    assert remainder.execute({"dividend": 30}).scalar_one() == 2
    db.session.rollback()


def widen_full_names(length: int) -> None:
    """What a migration run while the app serves does (the release phase of a deploy): the
    customers' names column changed to `varchar(length)`, on a connection of its own."""
    engine = sa.create_engine(db.engine.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(f"ALTER TABLE users ALTER COLUMN full_name TYPE varchar({length})")
            )
    finally:
        engine.dispose()


def test_transfers_go_on_after_a_migration_changes_a_column_the_plan_reads(app: Flask, ctx):
    """A column the prepared plan returns changing type makes PostgreSQL refuse the prepared
    statement ("cached plan must not change result type") on every connection that prepared
    it: the statement is prepared again, and the transfer goes through."""
    ada, bayo = customers(2)
    db.engine.dispose()  # start from new connections, several of them preparing the plan
    assert together(app, 6, lambda _: send(app, ada[0], ada[1], bayo[2], 1_000)) == ["sent"] * 6
    length = User.__table__.c.full_name.type.length
    widen_full_names(length + 80)
    try:
        after = together(app, 6, lambda _: send(app, ada[0], ada[1], bayo[2], 1_000))
        assert after == ["sent"] * 6
        assert send(app, ada[0], ada[1], bayo[2], 1_000) == "sent"
    finally:
        db.session.remove()
        db.engine.dispose()
        widen_full_names(length)
    db.session.expire_all()
    assert db.session.get(Account, bayo[1]).balance == WELCOME + 13_000
    assert verify_ledger().ok


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def test_a_credit_in_flight_is_weighed_with_one_a_tier_change_made_capped(
    app: Flask, ctx, monkeypatch
):
    """Limits are configuration: here Tier 2 has no maximum balance and Tier 3 has one. A credit
    to a Tier 2 customer is in flight when their Tier 3 approval commits; a second credit, to
    their dollar wallet, must wait for the first and weigh it against the Tier 3 cap."""
    monkeypatch.setitem(app.config["KYC_LIMITS"][2], "MAX_BALANCE", 0)
    monkeypatch.setitem(app.config["KYC_LIMITS"][3], "MAX_BALANCE", 30_000_000)
    payer, other_payer, bayo = customers(3)  # two payers: neither waits for the other
    admin = customers(1)[0][0]
    set_tier(payer[3], 3)
    set_tier(other_payer[3], 3)
    set_tier(bayo[3], 2)
    payer_ngn = funded(payer[0], "NGN", 50_000_000)
    payer_usd = funded(other_payer[0], "USD", 100_000)
    bayo_usd = funded(bayo[0], "USD", 0)
    submission = kyc.submit_address(bayo[0], PNG, origin=SYSTEM).id
    db.session.remove()

    posting = db.engine.connect()
    in_flight = posting.begin()
    posting.execute(  # ₦150,000 to Bayo's naira wallet, not committed yet
        sa.text(
            "SELECT * FROM ledger_post('transfer', 'TIER-RACE-1', '', NULL, "
            "ARRAY[:a, :b]::bigint[], ARRAY[-15000000, 15000000]::bigint[], "
            "CAST(:limits AS jsonb), NULL, NULL)"
        ),
        {
            "a": payer_ngn,
            "b": bayo[1],
            "limits": json.dumps(
                {
                    **limits.movement_limits(
                        out=(payer[0], "NGN", 15_000_000, 0), incoming=[(bayo[1], 15_000_000)]
                    ),
                    "rates": RATES,
                }
            ),
        },
    )
    approved: list[str] = []
    outcomes: list[str] = []

    def approve() -> None:
        with app.app_context():
            kyc.approve(submission, admin, origin=SYSTEM)
            approved.append("tier 3")
            db.session.remove()

    def credit_dollars() -> None:  # ₦150,000 in dollars to Bayo's dollar wallet
        with app.app_context():
            outcomes.append(valued_post(other_payer[0], payer_usd, bayo_usd, "USD", 15_000))
            db.session.remove()

    approving = threading.Thread(target=approve)
    crediting = threading.Thread(target=credit_dollars)
    try:
        approving.start()
        wait_for(lambda: bool(approved) or lock_waiters("%"))
        crediting.start()
        wait_for(lambda: bool(outcomes) or lock_waiters("%_post%"))
    finally:
        in_flight.commit()
        posting.close()
        approving.join(30)
        crediting.join(30)
    assert approved == ["tier 3"]
    assert outcomes == ["max_balance"]
    db.session.expire_all()
    worth = db.session.get(Account, bayo[1]).balance
    worth += db.session.get(Account, bayo_usd).balance * 1000
    assert worth == 25_000_000
    assert verify_ledger().ok
