"""What a transfer costs in CPU, not seconds: the backend's own time per call, read from
/proc/<backend pid>/stat (user + system ticks) around a run of calls on one connection, and the
calling process's own CPU time. Unlike throughput it hardly moves when something else runs on
the machine, so it is the figure to lead a change by; it needs the server on this machine.

- TPC-B: pgbench's five statements (prepared) and a commit, on pgbench's own tables;
- the bare posting: bench.bare_posting's one statement, prepared, from plain psycopg2;
  then the same without the KYC limits, and the same on a copy of the database without the
  foreign keys and non-unique indexes of the tables a transfer writes (`strip`): what the
  limits and that integrity cost, the floor of this schema's posting;
- the service: `transfers.service.send_transfer`, one after another in this process.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import USER_AGENT, send_random

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def _per_call(pid: int, calls: int, one: Callable[[int], None]) -> dict[str, Any]:
    for n in range(50):  # warm: plans, caches, prepared statements
        one(-n - 1)
    before, cpu = _ticks(pid), time.process_time()
    for n in range(calls):
        one(n)
    after, cpu = _ticks(pid), time.process_time() - cpu
    if before is None or after is None:
        return {"available": False, "reason": "the server's processes are not readable here"}
    return {
        "available": True,
        "calls": calls,
        "backend_ms": round((after - before) * TICK_MS / calls, 3),
        "client_ms": round(cpu * 1000 / calls, 3),
    }


def tpcb(dsn: str, *, scale: int, calls: int, seed: int) -> dict[str, Any]:
    """pgbench's TPC-B-like transaction, on a database `pgbench -i` made."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    (pid,) = cur.fetchone()
    for statement in (
        "PREPARE a (int, int) AS UPDATE pgbench_accounts SET abalance = abalance + $2 "
        "WHERE aid = $1",
        "PREPARE s (int) AS SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        "PREPARE t (int, int) AS UPDATE pgbench_tellers SET tbalance = tbalance + $2 "
        "WHERE tid = $1",
        "PREPARE b (int, int) AS UPDATE pgbench_branches SET bbalance = bbalance + $2 "
        "WHERE bid = $1",
        "PREPARE h (int, int, int, int) AS INSERT INTO pgbench_history "
        "(tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
    ):
        cur.execute(statement)
    conn.commit()
    rng = random.Random(seed)

    def one(_n: int) -> None:
        aid, tid = rng.randint(1, 100_000 * scale), rng.randint(1, 10 * scale)
        bid, delta = rng.randint(1, scale), rng.randint(-5000, 5000)
        cur.execute("EXECUTE a(%s, %s)", (aid, delta))
        cur.execute("EXECUTE s(%s)", (aid,))
        cur.fetchone()
        cur.execute("EXECUTE t(%s, %s)", (tid, delta))
        cur.execute("EXECUTE b(%s, %s)", (bid, delta))
        cur.execute("EXECUTE h(%s, %s, %s, %s)", (tid, bid, aid, delta))
        conn.commit()

    try:
        return _per_call(pid, calls, one)
    finally:
        conn.close()


# What a transfer writes: the tables whose foreign keys and non-unique indexes `strip` drops.
WRITTEN = (
    "idempotency_keys",
    "ledger_transactions",
    "ledger_entries",
    "ledger_daily_flows",
    "ledger_accounts",
    "transfers",
    "audit_events",
)


def strip(dsn: str) -> list[str]:
    """Drop the foreign keys and non-unique indexes of the tables a transfer writes, in the
    database at `dsn` (a copy: never the app's); the statements run."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(
        "SELECT format('ALTER TABLE %%I DROP CONSTRAINT %%I', conrelid::regclass, conname)"
        " FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY (%s)"
        " UNION ALL SELECT format('DROP INDEX %%I', indexrelid::regclass) FROM pg_index"
        " WHERE NOT indisunique AND indrelid::regclass::text = ANY (%s)",
        (list(WRITTEN), list(WRITTEN)),
    )
    statements = [row[0] for row in cur.fetchall()]
    for statement in statements:
        cur.execute(statement)
    cur.execute("ANALYZE")
    conn.close()
    return statements


def bare_posting(
    dsn: str, customers: Sequence[Any], *, calls: int, seed: int, limits: bool = True
) -> dict[str, Any]:
    """The bare posting's statement (bench.bare_posting), one transfer after another."""
    import psycopg2

    from bench.bare_posting import POST, prepared, transfer

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT pg_backend_pid()")
    (pid,) = cur.fetchone()
    post = prepared(cur, "cpu_post", POST)
    rng = random.Random(seed)

    def one(n: int) -> None:
        sender, recipient = rng.sample(list(customers), 2)
        amount, key = rng.randint(100, 10_000), f"cpu-{seed}-{n}"
        transfer(cur, post, sender, recipient, amount, key, limits=limits)

    try:
        return _per_call(pid, calls, one)
    finally:
        conn.close()


def service(app: Any, customers: Sequence[Any], *, calls: int, seed: int) -> dict[str, Any]:
    """`send_transfer` in this process: its Python (client) and its backend's CPU."""
    from sqlalchemy import text

    from lumipay.audit.service import Origin
    from lumipay.extensions import db

    rng = random.Random(seed)
    origin = Origin(ip="127.0.0.1", user_agent=USER_AGENT)
    with app.app_context():

        def one(n: int) -> None:
            send_random(rng, customers, f"cpu-{seed}-{n + 100:012d}", origin)

        one(-100)
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
        result = _per_call(pid, calls, one)
        # One process, one pooled connection: the backend measured is the one the sends used.
        still = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()
    if still != pid:
        return {"available": False, "reason": "the pool changed connections during the run"}
    return result
