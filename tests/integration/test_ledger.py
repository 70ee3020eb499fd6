"""The ledger on PostgreSQL: postings, holds, append-only entries and `flask ledger verify`."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from lumipay.audit.service import SYSTEM
from lumipay.auth.service import register_customer
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.errors import HoldNotActive, InsufficientFunds, LedgerError
from lumipay.ledger.models import Account, DailyFlow, Entry, Hold
from lumipay.ledger.verify import verify_ledger
from tests.conftest import unique_details


def customer_wallet(name: str = "Ledger Customer") -> Account:
    details = unique_details(name)
    user = register_customer(**details, origin=SYSTEM)
    return db.session.scalar(select(Account).where(Account.user_id == user.id))


def balances(*wallets: Account) -> list[tuple[int, int]]:
    db.session.expire_all()
    return [
        (db.session.get(Account, w.id).balance, db.session.get(Account, w.id).held) for w in wallets
    ]


def test_posting_moves_money_and_keeps_balance_after(ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    txn = run_in_transaction(lambda: ledger.transfer("transfer", a.id, b.id, 250_000))
    assert balances(a, b) == [(9_750_000, 0), (10_250_000, 0)]
    entries = db.session.scalars(select(Entry).where(Entry.transaction_id == txn.id)).all()
    assert sorted((e.amount, e.balance_after) for e in entries) == [
        (-250_000, 9_750_000),
        (250_000, 10_250_000),
    ]
    assert verify_ledger().ok


def test_unbalanced_or_zero_postings_are_refused_and_write_nothing(ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    before = db.session.scalar(select(sa.func.count(Entry.id)))
    bad_postings = (
        [ledger.Leg(a.id, -100), ledger.Leg(b.id, 99)],
        [ledger.Leg(a.id, 0), ledger.Leg(b.id, 0)],
        [ledger.Leg(a.id, -100)],
        [ledger.Leg(a.id, -1.5), ledger.Leg(b.id, 1.5)],  # type: ignore[arg-type]
    )
    for legs in bad_postings:
        with pytest.raises(LedgerError):
            run_in_transaction(lambda legs=legs: ledger.post("transfer", legs))
    assert db.session.scalar(select(sa.func.count(Entry.id))) == before
    assert balances(a, b) == [(10_000_000, 0), (10_000_000, 0)]


def test_postings_across_currencies_must_balance_in_each(ctx):
    a = customer_wallet("Ada Obi")
    usd = ledger.system_account("fx_position", "USD")
    with pytest.raises(ledger.UnbalancedTransaction):
        run_in_transaction(
            lambda: ledger.post("fx", [ledger.Leg(a.id, -1000), ledger.Leg(usd.id, 1000)])
        )


def test_overdraft_is_refused(ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    with pytest.raises(InsufficientFunds):
        run_in_transaction(lambda: ledger.transfer("transfer", a.id, b.id, 10_000_001))
    assert balances(a, b) == [(10_000_000, 0), (10_000_000, 0)]


def test_system_account_balance_comes_from_entries_and_row_is_never_updated(ctx):
    customer_wallet("Ada Obi")
    customer_wallet("Bayo Ade")
    funding = ledger.system_account(ledger.BONUS_FUNDING, "NGN")
    assert ledger.account_balance(funding.id) == -20_000_000
    db.session.expire_all()
    row = db.session.get(Account, funding.id)
    assert (row.balance, row.held) == (0, 0)


def test_hold_counts_against_available_then_partial_capture_releases_the_rest(ctx):
    a = customer_wallet("Ada Obi")
    clearing = ledger.system_account("bills_clearing", "NGN")
    hold = run_in_transaction(
        lambda: ledger.place_hold(
            a.id,
            3_000_000,
            owner="test",
            reference="hold-1",
            expires_at=utcnow() + timedelta(minutes=5),
        )
    )
    assert balances(a) == [(10_000_000, 3_000_000)]
    with pytest.raises(InsufficientFunds):
        run_in_transaction(lambda: ledger.transfer("transfer", a.id, clearing.id, 7_000_001))
    run_in_transaction(
        lambda: ledger.capture_hold(hold.id, 2_500_000, clearing.id, kind="bill_payment")
    )
    assert balances(a) == [(7_500_000, 0)]
    stored = db.session.get(Hold, hold.id)
    assert (stored.status, stored.captured_amount) == ("captured", 2_500_000)
    with pytest.raises(HoldNotActive):
        run_in_transaction(lambda: ledger.release_hold(hold.id))
    assert verify_ledger().ok


def test_capture_above_hold_needs_explicit_tolerance(ctx):
    a = customer_wallet("Ada Obi")
    clearing = ledger.system_account("card_clearing", "NGN")
    expires = utcnow() + timedelta(minutes=5)
    hold = run_in_transaction(
        lambda: ledger.place_hold(
            a.id, 100_000, owner="test", reference="card-auth-1", expires_at=expires
        )
    )
    with pytest.raises(LedgerError):
        run_in_transaction(lambda: ledger.capture_hold(hold.id, 100_001, clearing.id, kind="card"))
    run_in_transaction(
        lambda: ledger.capture_hold(hold.id, 115_000, clearing.id, kind="card", tolerance=20_000)
    )
    assert balances(a) == [(9_885_000, 0)]


def test_expiry_hands_holds_to_their_owner_and_releases_none_itself(ctx, monkeypatch):  # type: ignore[no-untyped-def]
    """Issue 16: the ledger's expiry asks each hold's owner; an owner that registered no
    handler keeps its holds (nothing is released blindly)."""
    a = customer_wallet("Ada Obi")
    now = utcnow()
    h1 = run_in_transaction(
        lambda: ledger.place_hold(
            a.id, 1_000, owner="quote", reference="h1", expires_at=now + timedelta(hours=1)
        )
    )
    run_in_transaction(
        lambda: ledger.place_hold(
            a.id, 2_000, owner="quote", reference="h2", expires_at=now - timedelta(seconds=1)
        )
    )
    orphan = run_in_transaction(
        lambda: ledger.place_hold(
            a.id, 4_000, owner="nobody", reference="h3", expires_at=now - timedelta(seconds=1)
        )
    )
    seen: list[list[int]] = []

    def expire_quotes(hold_ids: list[int], cutoff) -> int:  # type: ignore[no-untyped-def]
        seen.append(hold_ids)
        for hold_id in hold_ids:
            ledger.release_hold(hold_id, status="expired")
        return len(hold_ids)

    monkeypatch.setitem(ledger.HOLD_OWNERS, "quote", expire_quotes)
    assert balances(a) == [(10_000_000, 7_000)]
    assert run_in_transaction(lambda: ledger.expire_holds(now)) == 1
    assert len(seen) == 1 and len(seen[0]) == 1
    assert balances(a) == [(10_000_000, 5_000)]
    run_in_transaction(lambda: ledger.release_hold(h1.id))
    assert balances(a) == [(10_000_000, 4_000)]
    statuses = db.session.scalars(select(Hold.status).order_by(Hold.id)).all()
    assert statuses == ["released", "expired", "active"]
    assert db.session.get(Hold, orphan.id).status == "active"
    assert verify_ledger().ok


def test_entries_are_append_only_on_postgresql(ctx):
    customer_wallet("Ada Obi")
    for statement in (
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text(statement))
        db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events"))
    db.session.rollback()


def test_verify_names_a_wallet_that_drifted_from_its_entries(ctx, app):
    a = customer_wallet("Ada Obi")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ledger OK" in ok.output
    db.session.execute(
        sa.text("UPDATE ledger_accounts SET balance = balance + 1 WHERE id = :id"), {"id": a.id}
    )
    db.session.commit()
    report = verify_ledger()
    assert report.problems == [f"wallet {a.id} balance 10000001 != sum of its entries 10000000"]
    bad = runner.invoke(args=["ledger", "verify"])
    assert bad.exit_code == 1
    assert f"DRIFT: wallet {a.id} balance 10000001" in bad.output


def test_verify_names_an_unbalanced_transaction(ctx):
    a = customer_wallet("Ada Obi")
    entry = db.session.scalar(select(Entry).where(Entry.account_id == a.id))
    # Bypass the append-only trigger the way only a superuser could, to plant the drift.
    db.session.execute(
        sa.text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
    )
    db.session.execute(
        sa.text("DELETE FROM ledger_entries WHERE id <> :id AND transaction_id = :t"),
        {"id": entry.id, "t": entry.transaction_id},
    )
    db.session.execute(
        sa.text("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
    )
    db.session.commit()
    problems = verify_ledger().problems
    reference = entry.transaction.reference
    assert f"transaction {reference} does not balance in NGN: 10000000" in problems
    assert f"transaction {reference} has 1 entries (needs 2 or more)" in problems
    assert "NGN: all accounts together sum to 10000000, not 0" in problems


def test_daily_flows_follow_every_wallet_posting_and_verify_checks_them(ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    for amount in (250_000, 100_000):
        run_in_transaction(lambda amount=amount: ledger.transfer("transfer", a.id, b.id, amount))
    run_in_transaction(lambda: ledger.transfer("transfer", b.id, a.id, 50_000))
    flows = {
        (f.account_id, f.kind): (f.money_in, f.money_out, f.entries)
        for f in db.session.scalars(select(DailyFlow))
    }
    assert flows == {
        (a.id, "welcome_bonus"): (10_000_000, 0, 1),
        (b.id, "welcome_bonus"): (10_000_000, 0, 1),
        (a.id, "transfer"): (50_000, 350_000, 3),
        (b.id, "transfer"): (350_000, 50_000, 3),
    }
    assert verify_ledger().ok
    db.session.execute(
        sa.text("UPDATE ledger_daily_flows SET money_in = money_in + 1 WHERE account_id = :id"),
        {"id": a.id},
    )
    db.session.commit()
    problems = verify_ledger().problems
    assert len(problems) == 1 and problems[0].startswith(f"wallet {a.id} daily flows")


def test_debit_or_owe_books_the_shortfall_and_verify_refuses_a_receivable_in_credit(ctx):
    from lumipay.ledger import receivables

    a = customer_wallet("Ada Obi")
    clearing = run_in_transaction(lambda: ledger.system_account("card_clearing", "NGN"))
    debit = run_in_transaction(
        lambda: receivables.debit_or_owe(a.id, 12_000_000, clearing.id, kind="card_purchase")
    )
    assert (debit.covered, debit.owed) == (10_000_000, 2_000_000)
    assert balances(a) == [(0, 0)]
    assert receivables.owed(a.user_id, "NGN") == 2_000_000
    assert verify_ledger().ok
    # A receivable in the customer's favour (the bank owing through it) is drift.
    receivable = receivables.receivable_account(a.user_id, "NGN")
    run_in_transaction(
        lambda: ledger.post(
            "manual", [ledger.Leg(clearing.id, -2_000_001), ledger.Leg(receivable.id, 2_000_001)]
        )
    )
    problems = verify_ledger().problems
    assert problems == [
        f"receivable customer_receivable:{a.user_id}:NGN is 1 in the customer's favour "
        "(a receivable only owes us)"
    ]


def test_the_expiry_job_ends_each_hold_in_its_own_transaction(ctx, monkeypatch):  # type: ignore[no-untyped-def]
    """One owner that can't end its hold now (its handler fails) rolls back that hold alone:
    the job still ends the others, and no owner's locks are held while the next is asked."""
    from lumipay.ledger.jobs import expire_holds

    a = customer_wallet("Ada Obi")
    past = utcnow() - timedelta(seconds=1)
    holds = [
        run_in_transaction(
            lambda owner=owner, n=n: ledger.place_hold(
                a.id, 1_000, owner=owner, reference=f"job-h{n}", expires_at=past
            )
        ).id
        for n, owner in enumerate(("quote", "broken", "quote"))
    ]
    transactions: list[int] = []

    def expire_quotes(hold_ids: list[int], cutoff) -> int:  # type: ignore[no-untyped-def]
        transactions.append(db.session.scalar(sa.text("SELECT txid_current()")))
        for hold_id in hold_ids:
            ledger.release_hold(hold_id, status="expired")
        return len(hold_ids)

    def broken(hold_ids: list[int], cutoff) -> int:  # type: ignore[no-untyped-def]
        ledger.release_hold(hold_ids[0], status="expired")
        raise RuntimeError("the owner's provider is down")

    monkeypatch.setitem(ledger.HOLD_OWNERS, "quote", expire_quotes)
    monkeypatch.setitem(ledger.HOLD_OWNERS, "broken", broken)
    assert expire_holds() == 2
    db.session.expire_all()
    statuses = [db.session.get(Hold, hold_id).status for hold_id in holds]
    assert statuses == ["expired", "active", "expired"]
    assert len(set(transactions)) == 2, "two holds ended in one transaction"
    assert verify_ledger().ok
