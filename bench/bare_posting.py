"""The posting's ceiling: the same work as one transfer, from plain psycopg2, no app code.

8 threads in one process, each with its own autocommit connection, each transfer the two
statements the service sends (see lumipay.transfers.service): the plan (the sender's wallet,
the recipient and their wallet in one read) and one statement that claims the idempotency key,
calls `ledger_post` with the same limits argument (Tier 3 caps, as the bench's customers have)
and writes the transfer and audit rows. Like the app (lumipay.database.PreparedStatement), each
connection PREPAREs both once and EXECUTEs them by name. Random pairs, fixed seeds, as phase 2.
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

PLAN = """
SELECT w.currency, w.balance - w.held, u.id, u.full_name, r.id
FROM ledger_accounts w
LEFT JOIN users u ON u.account_number = %(number)s
LEFT JOIN ledger_accounts r ON r.user_id = u.id AND r.currency = w.currency AND r.kind = 'wallet'
WHERE w.id = %(wallet)s AND w.user_id = %(user)s AND w.kind = 'wallet'
"""

POST = """
WITH claim AS (
    INSERT INTO idempotency_keys (owner_id, key, scope, fingerprint, outcome, created_at)
    VALUES (%(user)s, %(key)s, 'transfer', %(print)s, %(reference)s, now())
    ON CONFLICT (owner_id, key) DO NOTHING RETURNING id
), posted AS (
    SELECT p.transaction_id, p.created_at
    FROM ledger_post('transfer', %(reference)s, %(narration)s, NULL,
                     %(accounts)s::bigint[], %(amounts)s::bigint[], %(limits)s::jsonb,
                     NULL, NULL) p
    WHERE EXISTS (SELECT 1 FROM claim)
), transfer AS (
    INSERT INTO transfers (reference, sender_id, recipient_id, from_account_id, to_account_id,
                           currency, amount, narration, status, transaction_id, created_at)
    SELECT %(reference)s, %(user)s, %(recipient)s, %(wallet)s, %(to_wallet)s, 'NGN',
           %(amount)s, %(narration)s, 'succeeded', transaction_id, created_at FROM posted
    RETURNING id
), audited AS (
    INSERT INTO audit_events (actor_id, action, subject, details, ip, user_agent, created_at)
    SELECT %(user)s, 'transfer', %(reference)s, %(details)s::json, '127.0.0.1', %(agent)s,
           created_at FROM posted
    RETURNING id
)
SELECT posted.transaction_id, (SELECT id FROM transfer), (SELECT id FROM audited) FROM posted
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
    sender: Any,
    recipient: Any,
    recipient_id: int,
    to_wallet: int,
    amount: int,
    key: str,
    *,
    limits: bool = True,
) -> dict[str, Any]:
    """POST's parameters for one transfer of `amount` kobo (`key` makes its idempotency key);
    without `limits` the posting weighs none (phase 12's measure of what they cost)."""
    out = {"user_id": sender.user_id, "currency": "NGN", "amount": amount, "reserved": 0}
    return {
        "user": sender.user_id,
        "key": f"bare-{key}",
        "print": uuid.uuid4().hex * 2,
        "reference": "BP" + uuid.uuid4().hex[:18].upper(),
        "narration": "Benchmark transfer",
        "accounts": [sender.wallet_id, to_wallet],
        "amounts": [-amount, amount],
        "limits": json.dumps(
            {
                "tiers": TIERS,
                "rates": None,
                "out": out,
                "in": [{"account_id": to_wallet, "amount": amount}],
            }
        )
        if limits
        else None,
        "recipient": recipient_id,
        "wallet": sender.wallet_id,
        "to_wallet": to_wallet,
        "amount": amount,
        "details": json.dumps(
            {"amount": amount, "currency": "NGN", "to_account_number": recipient.account_number}
        ),
        "agent": USER_AGENT,
    }


def transfer(
    cur: Any,
    plan: str,
    post: str,
    sender: Any,
    recipient: Any,
    amount: int,
    key: str,
    *,
    limits: bool = True,
) -> None:
    """One transfer: the plan's read, then the posting statement (`prepared` ones)."""
    cur.execute(
        plan,
        {"number": recipient.account_number, "wallet": sender.wallet_id, "user": sender.user_id},
    )
    _, _, recipient_id, _, to_wallet = cur.fetchone()
    params = statement_params(
        sender, recipient, recipient_id, to_wallet, amount, key, limits=limits
    )
    cur.execute(post, params)
    cur.fetchone()


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
        plan, post = prepared(cur, "bare_plan", PLAN), prepared(cur, "bare_post", POST)
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
                transfer(cur, plan, post, sender, recipient, amount, f"{seed}-{w:02d}-{n:010d}")
            except psycopg2.Error:
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
