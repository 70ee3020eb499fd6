"""The posting's ceiling: the same work as one transfer, from plain psycopg2, no app code.

8 threads in one process, each with its own autocommit connection, each transfer the one
statement the service sends (see lumipay.transfers.service `_posting_statement`): the plan's
read (the sender's wallet, the recipient and their wallet), then, when it allows the transfer,
the idempotency key's claim, `ledger_post` with the same limits argument (Tier 3 caps, as the
bench's customers have; the recipient's wallet and the currency filled in from the read) and
the transfer and audit rows. Like the app (lumipay.database.PreparedStatement), each
connection PREPAREs it once and EXECUTEs it by name. Random pairs, fixed seeds, as phase 2.
What the app adds on top of this is Python: SQLAlchemy, Flask, the service.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bench.common import USER_AGENT, ms, percentile

POST = """
WITH plan AS (
    SELECT w.currency, w.balance - w.held AS available, u.id AS recipient_id,
           u.full_name AS recipient_name, r.id AS to_wallet_id
    FROM ledger_accounts w
    LEFT JOIN users u ON u.account_number = %(number)s
    LEFT JOIN ledger_accounts r
        ON r.user_id = u.id AND r.currency = w.currency AND r.kind = 'wallet'
    WHERE w.id = %(wallet)s AND w.user_id = %(user)s AND w.kind = 'wallet'
), go AS (
    SELECT * FROM plan
    WHERE recipient_id IS NOT NULL AND recipient_id <> %(user)s AND to_wallet_id IS NOT NULL
        AND available >= %(amount)s
), claim AS (
    INSERT INTO idempotency_keys (owner_id, key, scope, fingerprint, outcome, created_at)
    SELECT %(user)s, %(key)s, 'transfer', %(print)s, %(reference)s, now() FROM go
    ON CONFLICT (owner_id, key) DO NOTHING RETURNING id
), posted AS (
    SELECT p.transaction_id, p.created_at
    FROM go, ledger_post('transfer', %(reference)s, %(narration)s, NULL,
                         ARRAY[%(wallet)s::bigint, go.to_wallet_id], %(amounts)s::bigint[],
                         jsonb_set(jsonb_set(%(limits)s::jsonb, '{out,currency}',
                                             to_jsonb(go.currency)),
                                   '{in,0,account_id}', to_jsonb(go.to_wallet_id)),
                         NULL, NULL) p
    WHERE EXISTS (SELECT 1 FROM claim)
), transfer AS (
    INSERT INTO transfers (reference, sender_id, recipient_id, from_account_id, to_account_id,
                           currency, amount, narration, status, transaction_id, created_at)
    SELECT %(reference)s, %(user)s, go.recipient_id, %(wallet)s, go.to_wallet_id, go.currency,
           %(amount)s, %(narration)s, 'succeeded', transaction_id, created_at FROM posted, go
    RETURNING id
), audited AS (
    INSERT INTO audit_events (actor_id, action, subject, details, ip, user_agent, created_at)
    SELECT %(user)s, 'transfer', %(reference)s,
           jsonb_set(%(details)s::jsonb, '{currency}', to_jsonb(go.currency))::json,
           '127.0.0.1', %(agent)s, created_at FROM posted, go
    RETURNING id
)
SELECT plan.*, posted.transaction_id, (SELECT id FROM transfer), (SELECT id FROM audited)
FROM (SELECT 1) one LEFT JOIN plan ON true LEFT JOIN posted ON true
"""


def prepared(cur: Any, name: str, sql: str) -> str:
    """PREPARE `sql` (named %(x)s parameters) as `name` on the cursor's connection; the
    EXECUTE statement that runs it with the same named parameters."""
    names: list[str] = []

    def positional(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    cur.execute(f"PREPARE {name} AS " + re.sub(r"%\((\w+)\)s", positional, sql))
    return f"EXECUTE {name}(" + ", ".join(f"%({n})s" for n in names) + ")"


TIER3 = {"per_transaction": 500_000_000, "daily": 500_000_000, "max_balance": None}
TIERS = {"1": TIER3, "2": TIER3, "3": TIER3}


def statement_params(
    sender: Any, recipient: Any, amount: int, key: str, *, limits: bool = True
) -> dict[str, Any]:
    """POST's parameters for one transfer of `amount` kobo (`key` makes its idempotency key);
    without `limits` the posting weighs none (phase 12's measure of what they cost). The
    recipient's wallet and the currency are the statement's own read, as in the service."""
    out = {"user_id": sender.user_id, "currency": "", "amount": amount, "reserved": 0}
    return {
        "number": recipient.account_number,
        "user": sender.user_id,
        "key": f"bare-{key}",
        "print": uuid.uuid4().hex * 2,
        "reference": "BP" + uuid.uuid4().hex[:18].upper(),
        "narration": "Benchmark transfer",
        "amounts": [-amount, amount],
        "limits": json.dumps(
            {
                "tiers": TIERS,
                "rates": None,
                "out": out,
                "in": [{"account_id": 0, "amount": amount}],
            }
        )
        if limits
        else None,
        "wallet": sender.wallet_id,
        "amount": amount,
        "details": json.dumps(
            {"amount": amount, "currency": "", "to_account_number": recipient.account_number}
        ),
        "agent": USER_AGENT,
    }


class NotPosted(Exception):
    """The statement's read refused the transfer (counted as an error: it should not)."""


def transfer(
    cur: Any, post: str, sender: Any, recipient: Any, amount: int, key: str, *, limits: bool = True
) -> None:
    """One transfer: the one posting statement (`prepared`)."""
    cur.execute(post, statement_params(sender, recipient, amount, key, limits=limits))
    row = cur.fetchone()
    if row[5] is None:
        raise NotPosted(f"the transfer was not posted: {row}")


def run(
    dsn: str, customers: Sequence[Any], *, threads: int, seconds: float, seed: int
) -> dict[str, Any]:
    import psycopg2

    barrier = threading.Barrier(threads + 1)
    results: list[dict[str, Any]] = [{} for _ in range(threads)]

    def worker(w: int) -> None:
        rng = random.Random(seed * 1000 + w)
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        cur = conn.cursor()
        post = prepared(cur, "bare_post", POST)
        latencies: list[float] = []
        errors = 0
        barrier.wait(60)
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            i, j = rng.sample(range(len(customers)), 2)
            sender, recipient = customers[i], customers[j]
            amount = rng.randint(100, 10_000)
            t0 = time.perf_counter()
            try:
                transfer(cur, post, sender, recipient, amount, f"{seed}-{w:02d}-{n:010d}")
            except (psycopg2.Error, NotPosted):
                errors += 1
            else:
                latencies.append(time.perf_counter() - t0)
            n += 1
        results[w] = {"ok": len(latencies), "errors": errors, "latencies": latencies}
        conn.close()

    pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait(60)
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = [lat for r in results for lat in r.get("latencies", [])]
    ok = sum(r.get("ok", 0) for r in results)
    return {
        "threads": threads,
        "ok": ok,
        "errors": sum(r.get("errors", 0) for r in results),
        "seconds": round(elapsed, 3),
        "per_second": round(ok / elapsed, 2) if elapsed else 0.0,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
