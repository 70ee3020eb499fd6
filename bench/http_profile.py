"""Where a browser transfer's time goes: the three requests of phase 5, in one process.

`python bench/http_profile.py [N] [--dump FILE] [--production]` (after a bench run left
`lumipay_bench` behind): signs one
bench customer in through the login form with Flask's test client, then sends N transfers
(GET /transfers/new, POST /transfers/new, POST /transfers/confirm) and prints, per request,
the statements and round trips sent (as bench/statements.py counts them) and a cProfile of the
whole loop grouped by where the time went: the session guard, Flask-Login's user load, the
limiter, CSRF, templates, metrics, the transfer service and the database driver. `--dump`
also writes the raw profile (`python -m pstats FILE` reads it function by function).

The app runs as the harness's development app (no Redis, sandbox providers) unless
`--production` gives it phase 5's environment (`http_load.production_env`: LUMIPAY_ENV=production,
Redis at BENCH_REDIS_URL, flushed first, for jobs and the limiter, providers at unreachable
hosts); no RQ worker runs, so the jobs the transfers enqueue wait in Redis.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from collections import Counter
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.common import BENCH_DB, PASSWORD, PIN, make_app  # noqa: E402
from bench.http_load import (  # noqa: E402
    BENCH_REDIS_URL,
    free_port,
    parse_form,
    production_env,
    server_env,
    set_pins,
)

# Where the time goes: the cumulative time of the one function each part of the request runs
# through (they nest: the transfer service runs inside the view, the driver inside everything).
PARTS = {
    "session guard (before_request)": ("lumipay/auth/guard.py", "enforce"),
    "user load (Flask-Login)": ("lumipay/__init__.py", "load_user"),
    "limiter": ("flask_limiter/_extension.py", "_check_request_limit"),
    "CSRF check": ("flask_wtf/csrf.py", "protect"),
    "templates (render_template)": ("flask/templating.py", "render_template"),
    "bank list (payout provider)": ("lumipay/bank/service.py", "banks"),
    "debit check (PIN, step-up)": ("lumipay/auth/debits.py", "authorise_debit"),
    "transfer plan (step one)": ("lumipay/transfers/service.py", "plan_transfer"),
    "transfer send (confirm)": ("lumipay/transfers/service.py", "send_transfer"),
    "metrics and access log (after_request)": ("lumipay/observability.py", "count_request"),
    "psycopg2 execute (the database)": ("~", "<method 'execute' of 'psycopg2.extensions.cursor'"),
}


def _app(production: bool) -> Any:
    if not production:
        # As phase 5: measure the bank, not the per-customer limit on name enquiries.
        os.environ.setdefault("LIMIT_NAME_ENQUIRY", "1000000 per minute")
        return make_app()
    import redis

    from lumipay import create_app

    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    os.environ.update(server_env(BENCH_DB, production_env(free_port())))
    return create_app()


def main(transfers: int = 50, dump: str | None = None, *, production: bool = False) -> None:
    from sqlalchemy import event, select

    from lumipay.auth.models import User
    from lumipay.extensions import db

    app = _app(production)
    with app.app_context():
        # Production's PIN key is not the development app's: its sender is phase 5's first
        # client (customer 1), whose PIN phase 5 sets under that key.
        first = 1 if production else 0
        sender, recipient = db.session.scalars(
            select(User).order_by(User.id).offset(first).limit(2)
        ).all()
        email, to_account, sender_id = sender.email, recipient.account_number, sender.id
        db.session.remove()
    set_pins(app, [sender_id])
    client = app.test_client()
    login = parse_form(client.get("/auth/login").get_data(as_text=True), "login-form")
    client.post(
        "/auth/login",
        data={"csrf_token": login.fields["csrf_token"], "email": email, "password": PASSWORD},
    )
    counts: Counter[str] = Counter()
    current = {"request": ""}
    in_txn = {"open": False}

    def before(conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        counts[f"{current['request']} statements"] += 1
        counts[f"{current['request']} round trips"] += 1
        if not conn.connection.dbapi_connection.autocommit and not in_txn["open"]:
            in_txn["open"] = True
            counts[f"{current['request']} round trips"] += 1

    def ended(_conn: Any) -> None:
        if in_txn["open"]:
            counts[f"{current['request']} round trips"] += 1
        in_txn["open"] = False

    def one() -> None:
        current["request"] = "GET /transfers/new"
        new = parse_form(client.get("/transfers/new").get_data(as_text=True), "transfer-form")
        current["request"] = "POST /transfers/new"
        page = client.post(
            "/transfers/new",
            data={
                "csrf_token": new.fields["csrf_token"],
                "idempotency_key": new.fields["idempotency_key"],
                "from_wallet_id": new.options["from_wallet_id"][0],
                "to_account_number": to_account,
                "amount": "10",
                "narration": "profile",
            },
        ).get_data(as_text=True)
        current["request"] = "POST /transfers/confirm"
        confirm = {**parse_form(page, "confirm-form").fields, "pin": PIN}
        done = client.post("/transfers/confirm", data=confirm)
        assert done.status_code == 303, done.status_code

    with app.app_context():
        engine = db.engine
    one()  # warm-up: compiled statements, templates
    counts.clear()
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "commit", ended)
    event.listen(engine, "rollback", ended)
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for _ in range(transfers):
            one()
        profiler.disable()
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "commit", ended)
        event.remove(engine, "rollback", ended)
    print(f"{transfers} browser transfers, per transfer:")
    for name, value in sorted(counts.items()):
        print(f"  {name:45} {value / transfers:6.2f}")
    stats = pstats.Stats(profiler)
    if dump:
        stats.dump_stats(dump)
    rows = stats.stats  # type: ignore[attr-defined]
    total = max(row[3] for row in rows.values())
    print(f"cumulative time per transfer (of {total / transfers * 1000:.1f} ms in all):")
    for part, (path, function) in PARTS.items():
        seconds = sum(
            row[3]
            for (filename, _line, name), row in rows.items()
            if filename.endswith(path) and name.startswith(function)
        )
        print(f"  {part:45} {seconds / transfers * 1000:7.2f} ms  {seconds / total:6.1%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transfers", nargs="?", type=int, default=50)
    parser.add_argument("--dump", metavar="FILE", help="also write the raw profile here")
    parser.add_argument("--production", action="store_true", help="phase 5's environment")
    args = parser.parse_args()
    main(args.transfers, args.dump, production=args.production)
