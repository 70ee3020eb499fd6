"""The seal chain: new ledger entries gathered into hash-chained blocks, and the check of it.

A block's hash is SHA-256 over the previous block's hash and, in id order, each entry's
canonical line (id, transaction id, account id, amount, currency, balance_after, created_at).
Changing, deleting or inserting a sealed entry, or editing a block, breaks the chain from that
block on, and `check_chain` names the first block that no longer matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from lumipay.database import as_utc, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger.models import GENESIS_HASH, Entry, SealBlock

# pg_advisory_xact_lock key: one sealer at a time ("LUMISEAL" as a number).
SEAL_LOCK_KEY = 0x4C554D495345414C
BLOCK_LIMIT = 10_000


@dataclass(frozen=True)
class SealResult:
    blocks: int
    entries: int
    last_hash: str | None


def canonical_line(
    entry_id: int,
    transaction_id: int,
    account_id: int,
    amount: int,
    currency: str,
    balance_after: int | None,
    created_at: datetime,
) -> str:
    """One entry as the hash sees it; UTC with microseconds, whatever the session's TimeZone."""
    stamp = as_utc(created_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    after = "" if balance_after is None else str(balance_after)
    return f"{entry_id}|{transaction_id}|{account_id}|{amount}|{currency}|{after}|{stamp}"


def block_hash(previous_hash: str, lines: Iterable[str]) -> str:
    digest = hashlib.sha256(previous_hash.encode())
    for line in lines:
        digest.update(b"\n")
        digest.update(line.encode())
    return digest.hexdigest()


def _entry_lines(after_id: int, up_to_id: int, limit: int | None = None) -> list[tuple[int, str]]:
    query = (
        select(
            Entry.id,
            Entry.transaction_id,
            Entry.account_id,
            Entry.amount,
            Entry.currency,
            Entry.balance_after,
            Entry.created_at,
        )
        .where(Entry.id > after_id, Entry.id <= up_to_id)
        .order_by(Entry.id)
    )
    if limit:
        query = query.limit(limit)
    return [(row[0], canonical_line(*row)) for row in db.session.execute(query)]


def _committed_watermark() -> int:
    """The highest entry id below which every entry has committed.

    Entry ids come from a sequence, so a posting that took a low id can commit after one that
    took a higher id. A SHARE lock on the entries table waits for every posting
    in flight to commit (and holds new ones for that instant); the max id read under it is
    final. The lock is released at once by committing this short transaction.
    """

    def read() -> int:
        db.session.execute(text("SET LOCAL lock_timeout = '30s'"))
        db.session.execute(text("LOCK TABLE ledger_entries IN SHARE MODE"))
        return int(db.session.scalar(select(func.coalesce(func.max(Entry.id), 0))) or 0)

    return run_in_transaction(read)


def last_block() -> SealBlock | None:
    return db.session.scalar(select(SealBlock).order_by(SealBlock.id.desc()).limit(1))


def seal() -> SealResult:
    """Seal every committed entry not yet in a block (in blocks of at most BLOCK_LIMIT)."""
    watermark = _committed_watermark()

    def work() -> SealResult:
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAL_LOCK_KEY})
        tip = last_block()
        previous = tip.hash if tip else GENESIS_HASH
        after = tip.last_entry_id if tip else 0
        blocks = entries = 0
        while True:
            lines = _entry_lines(after, watermark, BLOCK_LIMIT)
            if not lines:
                break
            block = SealBlock(
                first_entry_id=lines[0][0],
                last_entry_id=lines[-1][0],
                entry_count=len(lines),
                previous_hash=previous,
                hash=block_hash(previous, (line for _, line in lines)),
                created_at=utcnow(),
            )
            db.session.add(block)
            db.session.flush()
            previous, after = block.hash, block.last_entry_id
            blocks += 1
            entries += len(lines)
        return SealResult(blocks, entries, previous if blocks else None)

    return run_in_transaction(work)


def seal_quietly() -> SealResult | None:
    """The scheduler's seal: a posting that holds the entries table too long skips one minute."""
    try:
        return seal()
    except (DBAPIError, IntegrityError) as exc:
        if "lock timeout" in str(exc) or isinstance(exc, IntegrityError):
            return None
        raise


def check_chain(limit: int = 50) -> tuple[int, list[str]]:
    """(blocks checked, problems): recompute every block; the first mismatch is named first."""
    problems: list[str] = []
    blocks: Sequence[SealBlock] = db.session.scalars(select(SealBlock).order_by(SealBlock.id)).all()
    previous, after = GENESIS_HASH, 0
    for block in blocks:
        where = f"seal block {block.id} (entries {block.first_entry_id}-{block.last_entry_id})"
        if block.previous_hash != previous:
            problems.append(f"{where} does not follow the block before it")
        lines = _entry_lines(after, block.last_entry_id)
        ids = [entry_id for entry_id, _ in lines]
        if len(ids) != block.entry_count or (ids and ids[0] != block.first_entry_id):
            problems.append(
                f"{where} sealed {block.entry_count} entries but {len(ids)} are there now"
            )
        elif block_hash(block.previous_hash, (line for _, line in lines)) != block.hash:
            problems.append(f"{where} does not match its hash: a sealed entry was changed")
        previous, after = block.hash, block.last_entry_id
        if len(problems) >= limit:
            break
    return len(blocks), problems
