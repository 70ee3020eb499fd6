"""Growth: how the dashboard, history paging and `ledger verify` behave as one customer's
history grows to 1k, 10k, 100k and 1M entries.

Entries come from real ledger postings (`setup_data.add_wallet_entries`: large balanced
postings of alternating credits and debits). Pages are requested through Flask's test client,
signed in through the real login form, so the time measured is the server's own time for the
whole request (routing, login check, queries, template) without any network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from bench.common import PASSWORD, ms, percentile, verify
from bench.http_load import parse_form
from bench.setup_data import Customer, add_wallet_entries, middle_entry_id
from lumipay.extensions import db

WARMUP = 1
MIN_REQUESTS = 5
BUDGET_SECONDS = 20.0


def signed_in_client(app: Flask, email: str) -> FlaskClient:
    """A test client signed in through the login form (so 'strong' session protection holds)."""
    client = app.test_client()
    page = client.get("/auth/login")
    token = parse_form(page.get_data(as_text=True), "login-form").fields["csrf_token"]
    response = client.post(
        "/auth/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    if response.status_code != 303:
        raise RuntimeError(f"growth: login for {email} answered {response.status_code}")
    if client.get("/dashboard").status_code != 200:
        raise RuntimeError("growth: signed in, but /dashboard did not answer 200")
    return client


def time_requests(
    client: FlaskClient, url: str, count: int, *, budget_seconds: float
) -> dict[str, Any]:
    """p50/p95 of up to `count` GETs of `url` after one warm-up; every answer must be 200.

    Stops early (after at least `MIN_REQUESTS`) once `budget_seconds` are spent, so a page
    that takes seconds at 1M entries can't stretch the run by many minutes.
    """
    timings: list[float] = []
    spent = 0.0
    for i in range(WARMUP + count):
        t0 = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise RuntimeError(f"growth: GET {url} answered {response.status_code}")
        spent += elapsed
        if i >= WARMUP:
            timings.append(elapsed)
            if spent > budget_seconds and len(timings) >= MIN_REQUESTS:
                break
    return {
        "p50_ms": ms(percentile(timings, 50)),
        "p95_ms": ms(percentile(timings, 95)),
        "requests": len(timings),
    }


def analyze(app: Flask) -> None:
    """Refresh planner statistics after a bulk build, as autovacuum would in time."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(text("ANALYZE ledger_entries, ledger_transactions, ledger_accounts"))
        conn.commit()


def run_growth(
    app: Flask,
    *,
    customer: Customer,
    small_customer: Customer,
    stages: list[int],
    requests: int,
    verify_from: int,
    legs_per_posting: int,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Grow `customer`'s wallet stage by stage and measure at each stage.

    `small_customer` (a customer with one entry) shows what the same pages cost for everyone
    else while the ledger grows. `ledger verify` is timed at stages of `verify_from` entries or
    more.
    """
    client = signed_in_client(app, customer.email)
    small_client = signed_in_client(app, small_customer.email)
    have, _ = middle_entry_id(app, customer.wallet_id)  # the funding entry
    curve = []
    for target in stages:
        build_seconds = add_wallet_entries(
            app, customer.wallet_id, max(target - have, 0), legs=legs_per_posting
        )
        analyze(app)
        have, middle = middle_entry_id(app, customer.wallet_id)
        log(f"  growth: {have:,} entries (built in {build_seconds:.1f} s), measuring")
        point: dict[str, Any] = {
            "customer_entries": have,
            "build_seconds": round(build_seconds, 2),
            "history_cursor": middle,
            "dashboard": time_requests(
                client, "/dashboard", requests, budget_seconds=BUDGET_SECONDS
            ),
            "history": time_requests(
                client,
                f"/dashboard/history?before={middle}",
                requests,
                budget_seconds=BUDGET_SECONDS,
            ),
            "small_customer_dashboard": time_requests(
                small_client, "/dashboard", requests, budget_seconds=BUDGET_SECONDS
            ),
        }
        if target >= verify_from:
            report = verify(app)
            point["verify"] = {
                "seconds": report["seconds"],
                "ok": report["ok"],
                "problems": report["problems"],
                "ledger_entries": report["entries"],
                "ledger_transactions": report["transactions"],
            }
        curve.append(point)
    return curve
