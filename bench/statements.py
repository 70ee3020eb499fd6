"""What one transfer costs on the wire: statements, round trips and the wallet lock's hold.

One process, one transfer after another through `transfers.service.send_transfer` (no
contention), counted by SQLAlchemy's events:

- statements: every `cursor.execute` the app sends;
- round trips: statements plus the BEGIN psycopg2 sends before a transaction's first statement
  and its COMMIT / ROLLBACK (in autocommit neither is sent);
- wallet lock hold: from the first statement that locks a wallet (the `FOR NO KEY UPDATE` of
  `ledger_accounts`, the call of `ledger_post`, which locks inside, or the EXECUTE of a
  statement PREPAREd with that call) to the end of the session's commit, or of that statement
  when it runs alone in autocommit (it is its own commit): an upper bound of how long the wallet
  rows stay locked.

It only uses the service's public signature, so the same file measures an older checkout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from bench.common import USER_AGENT, ms, percentile, send_random


def measure(app: Any, customers: Sequence[Any], *, transfers: int, seed: int) -> dict[str, Any]:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from lumipay.audit.service import Origin
    from lumipay.extensions import db

    counts = {"statements": 0, "round_trips": 0}
    state: dict[str, Any] = {"in_txn": False, "locked_at": None}
    posting_names: set[str] = set()  # prepared statements that call ledger_post
    holds: list[float] = []

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counts["statements"] += 1
        counts["round_trips"] += 1
        autocommit = conn.connection.dbapi_connection.autocommit
        if not autocommit and not state["in_txn"]:
            state["in_txn"] = True
            counts["round_trips"] += 1  # psycopg2's BEGIN
        words = statement.split(None, 2)
        if words[0] == "PREPARE":
            if "ledger_post(" in statement:
                posting_names.add(words[1])
            return  # planning a statement moves no money
        executes = words[0] == "EXECUTE" and words[1].split("(")[0] in posting_names
        locks = (
            executes
            or "ledger_post(" in statement
            or ("FROM ledger_accounts" in statement and "FOR NO KEY UPDATE" in statement)
        )
        if locks and state["locked_at"] is None:
            state["locked_at"] = time.perf_counter()

    def after(conn: Any, *_args: Any) -> None:
        if conn.connection.dbapi_connection.autocommit:
            after_commit(None)

    def ended(_conn: Any) -> None:
        if state["in_txn"]:
            counts["round_trips"] += 1  # COMMIT or ROLLBACK
        state["in_txn"] = False

    def after_commit(_session: Any) -> None:
        if state["locked_at"] is not None:
            holds.append(time.perf_counter() - state["locked_at"])
        state["locked_at"] = None

    rng = random.Random(seed)
    origin = Origin(ip="127.0.0.1", user_agent=USER_AGENT)
    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)
        event.listen(Session, "after_commit", after_commit)
        try:
            # Warm-up: the first call compiles and caches the statements.
            for n in range(-5, transfers):
                if n == 0:
                    counts.update(statements=0, round_trips=0)
                    holds.clear()
                send_random(rng, customers, f"stmts-{seed}-{n + 5:08d}", origin)
        finally:
            event.remove(engine, "before_cursor_execute", before)
            event.remove(engine, "after_cursor_execute", after)
            event.remove(engine, "commit", ended)
            event.remove(engine, "rollback", ended)
            event.remove(Session, "after_commit", after_commit)
    return {
        "transfers": transfers,
        "statements_per_transfer": round(counts["statements"] / transfers, 2),
        "round_trips_per_transfer": round(counts["round_trips"] / transfers, 2),
        "lock_hold_p50_ms": ms(percentile(holds, 50)),
        "lock_hold_p99_ms": ms(percentile(holds, 99)),
    }
