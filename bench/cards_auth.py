"""Card authorisation latency: `python bench/cards_auth.py [--requests 1000]`.

A fresh `lumipay_bench_cards` database (migrations), one customer with a multi-use card issued
by the sandbox issuer, gunicorn started from the Procfile's `web:` line, then `--requests`
signed `authorization.request` deliveries POSTed one after another over one keep-alive
connection to /api/lumipay/v1/webhooks/cards, as an issuer would send them. Each is timed from
sending the request to reading the whole answer: that is what the issuer's deadline measures.
Every answer must be a decision (approve or decline); the ledger is verified afterwards, and
the approvals must equal the holds placed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
import uuid
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import common  # noqa: E402
from bench.common import CARDS_DB, PASSWORD, database_url, ms, percentile  # noqa: E402

SECRET = "bench-cards-webhook-secret-0123456789"  # noqa: S105 - local only
AMOUNT = 1_000  # ₦10.00: 1,000 of them fit the welcome bonus many times over


def setup(app: Any) -> str:
    """One customer and an active multi-use card; returns the card's issuer token."""
    from lumipay.audit.service import SYSTEM
    from lumipay.auth import service as auth
    from lumipay.cards import service as cards

    with app.app_context():
        user = auth.register_customer(
            "Bench Cardholder", "cards@example.com", "08030000001", PASSWORD, origin=SYSTEM
        )
        return issue_card(user.id, cards.card_wallets(user.id)[0].id, month_limit=50_000_000)


def issue_card(user_id: int, wallet_id: int, *, month_limit: int) -> str:
    """An active multi-use card from the sandbox issuer (in an app context); its issuer token."""
    from lumipay.audit.service import SYSTEM
    from lumipay.cards import service as cards

    reference, _ = cards.create_card(
        user_id,
        wallet_id,
        "Bench card",
        False,
        cards.Limits(10_000_000, month_limit, ("retail", "food", "other")),
        idempotency_key=uuid.uuid4().hex,
        origin=SYSTEM,
    )
    if cards.issue(reference) != "active":
        raise RuntimeError("the bench card was not issued")
    card = cards.card_for(user_id, reference)
    assert card is not None and card.provider_token
    return card.provider_token


def signed_request(token: str, n: int) -> tuple[bytes, dict[str, str]]:
    from lumipay.providers import signing

    body = {
        "id": f"evt_bench_{n}_{uuid.uuid4().hex[:8]}",
        "type": "authorization.request",
        "data": {
            "authorization_id": f"iauth_bench_{n}_{uuid.uuid4().hex[:8]}",
            "card_token": token,
            "amount": AMOUNT,
            "currency": "NGN",
            "merchant": {"name": "Bench Merchant", "mcc": "5411"},
        },
    }
    raw = json.dumps(body).encode()
    return raw, signing.signed_headers(SECRET, int(time.time()), raw)


def run(requests: int) -> dict[str, Any]:
    from bench.http_load import start_gunicorn, stop_gunicorn

    common.recreate_database(CARDS_DB)
    app = common.make_app(database_url(CARDS_DB))
    app.config["WEBHOOK_SECRETS"] = {**app.config["WEBHOOK_SECRETS"], "cards": SECRET}
    common.reset_schema(app)
    token = setup(app)
    os.environ["CARDS_WEBHOOK_SECRET"] = SECRET
    log_path = os.path.join(tempfile.gettempdir(), f"{CARDS_DB}-gunicorn.log")
    server = start_gunicorn(log_path, database=CARDS_DB)
    times: list[float] = []
    outcomes: dict[str, int] = {}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for n in range(-20, requests):  # 20 warm-up requests, not counted
            raw, headers = signed_request(token, n)
            started = time.perf_counter()
            conn.request("POST", "/api/lumipay/v1/webhooks/cards", body=raw, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            elapsed = time.perf_counter() - started
            if response.status != 200 or "approved" not in answer:
                raise RuntimeError(f"no decision: {response.status} {answer}")
            if n >= 0:
                times.append(elapsed)
                outcomes[answer["code"]] = outcomes.get(answer["code"], 0) + 1
        conn.close()
    finally:
        stop_gunicorn(server)
    verify = common.verify(app)
    holds = _count_holds(app)
    return {
        "requests": len(times),
        "p50_ms": ms(percentile(times, 50)),
        "p90_ms": ms(percentile(times, 90)),
        "p99_ms": ms(percentile(times, 99)),
        "max_ms": ms(max(times)),
        "mean_ms": ms(sum(times) / len(times)),
        "outcomes": outcomes,
        "holds_placed": holds,
        "gunicorn_command": " ".join(server.command),
        "verify": verify,
    }


def _count_holds(app: Any) -> int:
    from sqlalchemy import func, select

    from lumipay.extensions import db
    from lumipay.ledger.models import Hold

    with app.app_context():
        count = int(db.session.scalar(select(func.count(Hold.id))) or 0)
        db.session.remove()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000)
    args = parser.parse_args(argv)
    result = run(args.requests)
    print(json.dumps({k: v for k, v in result.items() if k != "verify"}, indent=2))
    print("ledger verify:", "ok" if result["verify"]["ok"] else result["verify"]["problems"][:3])
    return 0 if result["verify"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
