"""The seal chain on PostgreSQL: blocks of entries hash-chained, tampering found and named,
sealers racing never fork the chain, and a posting still in flight is never skipped."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from lumipay.database import run_in_transaction
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import GENESIS_HASH, Entry, SealBlock, VerificationRun
from lumipay.ledger.seal import check_chain, seal
from lumipay.ledger.verify import verify_ledger
from tests.integration.helpers.bills import wait_for
from tests.integration.test_ledger import customer_wallet


def pay(a: int, b: int, amount: int) -> None:
    run_in_transaction(lambda: ledger.transfer("transfer", a, b, amount))


def as_owner(statement: str, **params: object) -> None:
    """Change the ledger as its table owner would, bypassing the append-only trigger."""
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement), params)
    db.session.expire_all()


@pytest.fixture()
def two_blocks(ctx):  # type: ignore[no-untyped-def]
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    pay(a.id, b.id, 100_000)
    first = seal()
    pay(b.id, a.id, 40_000)
    pay(a.id, b.id, 7_500)
    second = seal()
    assert (first.blocks, second.blocks) == (1, 1)
    blocks = db.session.scalars(select(SealBlock).order_by(SealBlock.id)).all()
    assert verify_ledger().ok
    return blocks


def test_seal_chains_blocks_of_new_entries(ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    pay(a.id, b.id, 250_000)
    entries = db.session.scalar(select(sa.func.count(Entry.id)))
    result = seal()
    assert (result.blocks, result.entries) == (1, entries)
    assert seal().blocks == 0, "nothing new, nothing sealed"
    pay(b.id, a.id, 1_000)
    assert seal().entries == 2
    first, second = db.session.scalars(select(SealBlock).order_by(SealBlock.id)).all()
    assert first.previous_hash == GENESIS_HASH
    assert second.previous_hash == first.hash
    assert second.first_entry_id == first.last_entry_id + 1
    report = verify_ledger()
    assert report.ok, report.problems
    assert report.sealed_blocks == 2


def test_tampered_entry_is_named_by_its_block(two_blocks):
    _, second = two_blocks
    # balance_after is seen by no other check: only the seal can tell it changed.
    as_owner(
        "UPDATE ledger_entries SET balance_after = balance_after + 1 WHERE id = :id",
        id=second.first_entry_id,
    )
    report = verify_ledger()
    assert not report.ok
    assert report.problems == [
        f"seal block {second.id} (entries {second.first_entry_id}-{second.last_entry_id}) "
        "does not match its hash: a sealed entry was changed"
    ]


def test_tampered_amount_in_the_first_block_is_named_first(two_blocks):
    first, _ = two_blocks
    as_owner(
        "UPDATE ledger_entries SET amount = amount + 100 WHERE id = :id", id=first.last_entry_id
    )
    _, problems = check_chain()
    assert problems[0].startswith(f"seal block {first.id} ")
    assert not verify_ledger().ok


def test_deleted_entry_breaks_the_chain(two_blocks, app):
    _, second = two_blocks
    as_owner("DELETE FROM ledger_entries WHERE id = :id", id=second.last_entry_id)
    _, problems = check_chain()
    assert problems == [
        f"seal block {second.id} (entries {second.first_entry_id}-{second.last_entry_id}) "
        f"sealed {second.entry_count} entries but {second.entry_count - 1} are there now"
    ]
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert f"seal block {second.id}" in result.output


def test_changed_block_is_named(two_blocks):
    first, second = two_blocks
    as_owner("UPDATE ledger_seal_blocks SET hash = :h WHERE id = :id", h="f" * 64, id=first.id)
    _, problems = check_chain()
    assert problems[0].startswith(f"seal block {first.id} ")
    assert problems[0].endswith("does not match its hash: a sealed entry was changed")
    assert problems[1] == (
        f"seal block {second.id} (entries {second.first_entry_id}-{second.last_entry_id}) "
        "does not follow the block before it"
    )


def test_a_fork_is_refused_by_the_database(two_blocks):
    first, _ = two_blocks
    with pytest.raises(sa.exc.IntegrityError):
        run_in_transaction(
            lambda: db.session.add(
                SealBlock(
                    first_entry_id=999,
                    last_entry_id=1000,
                    entry_count=2,
                    previous_hash=first.hash,
                    hash="e" * 64,
                )
            )
        )


def test_two_sealers_at_once_keep_one_chain(app, ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    for amount in range(1, 21):
        pay(a.id, b.id, amount * 100)
    start = threading.Barrier(2)
    results, errors = [], []

    def sealer() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(seal())
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(r.blocks for r in results) == [0, 1]
    assert db.session.scalar(select(sa.func.count(SealBlock.id))) == 1
    assert verify_ledger().ok


def sealer_is_waiting() -> bool:
    """Asked on a fresh connection each time: a transaction sees one snapshot of the stats."""
    with db.engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE ledger_entries%'"
                )
            )
        )


def test_a_posting_in_flight_is_waited_for_not_skipped(app, ctx):
    """A posting takes its entry ids, then another commits higher ids before it: the sealer
    waits for the first to commit, so the lower ids are sealed too and verify stays green."""
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    c, d = customer_wallet("Cy Okafor"), customer_wallet("Dee Musa")
    posted, release = threading.Event(), threading.Event()
    outcomes: list[object] = []

    def slow_posting() -> None:
        with app.app_context():

            def work() -> None:
                ledger.transfer("transfer", a.id, b.id, 5_000)
                db.session.flush()
                posted.set()
                release.wait(30)

            run_in_transaction(work)

    def sealer() -> None:
        with app.app_context():
            try:
                outcomes.append(seal())
            except Exception as exc:  # surfaced by the assertion below
                outcomes.append(exc)

    slow = threading.Thread(target=slow_posting)
    slow.start()
    assert posted.wait(30)
    pay(c.id, d.id, 3_000)  # higher entry ids, committed first
    sealing = threading.Thread(target=sealer)
    sealing.start()
    wait_for(sealer_is_waiting, what="the sealer to wait for the posting in flight")
    db.session.rollback()
    release.set()
    slow.join(30)
    sealing.join(30)
    assert len(outcomes) == 1 and not isinstance(outcomes[0], Exception), outcomes
    assert outcomes[0].entries == db.session.scalar(select(sa.func.count(Entry.id)))
    assert verify_ledger().ok


def test_cli_seals_and_verify_keeps_its_outcome(app, ctx):
    a, b = customer_wallet("Ada Obi"), customer_wallet("Bayo Ade")
    pay(a.id, b.id, 1_000)
    runner = app.test_cli_runner()
    sealed = runner.invoke(args=["ledger", "seal"])
    assert sealed.exit_code == 0 and "in 1 block(s)" in sealed.output
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "1 sealed blocks" in verified.output
    run = db.session.scalar(select(VerificationRun))
    assert run.ok and run.sealed_blocks == 1 and run.problems == []
