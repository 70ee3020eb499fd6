"""Seeing it before customers do: errors reach a (fake) Sentry scrubbed and tagged, one request
id runs from the page through the job to the provider, and every series the alert rules and
the Grafana dashboard name is one the app really exports."""

from __future__ import annotations

import gzip
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import pytest
import sentry_sdk
import yaml
from sqlalchemy import select

from lumipay import sentry as lumipay_sentry
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.jobs.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.integration.helpers.api import api_register, new_key, ngn_wallet_id
from tests.integration.helpers.bills import run_worker
from tests.integration.helpers.cards import CARDS_SECRET
from tests.integration.helpers.cards import auth_data as card_auth
from tests.integration.helpers.cards import deliver as deliver_card_event
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_bills import buy_airtime
from tests.integration.test_transfers import step_one
from tests.integration.test_vtpass_bills import aggregator as aggregator

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "lumipay@test-release-1"

# What must never leave: each is planted in a request, an error message or a provider's data.
CARD = "4111 1111 1111 1111"
CVV = "737"
PIN = "4321"
TOTP = "492039"
BVN = "22212345678"
NIN = "70123456789"
RESET_TOKEN = "rsT0k3nQ8vJx2LmN4pRw6YzA1cE3gI5kM7oQ9sU"
RESET_LINK = f"http://127.0.0.1:5000/auth/reset/{RESET_TOKEN}"
LEAKY = (
    f"issuer refused card {CARD} cvv={CVV} pin={PIN} otp_code={TOTP} bvn={BVN} nin={NIN}; "
    f"reset at {RESET_LINK}"
)
SECRETS = (CARD, CARD.replace(" ", ""), PIN, TOTP, BVN, NIN, RESET_TOKEN, PASSWORD, f"cvv={CVV}")
# Ids and times the SDK makes up: a digit run in one of them is chance, not a leak.
GENERATED = {"event_id", "trace_id", "span_id", "parent_span_id", "timestamp", "start_timestamp"}


class FakeSentry:
    """Sentry's envelope endpoint over real HTTP on loopback; keeps every event it receives."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # The SDK compresses with brotli when it is installed (flask-compress brings
                # it), else gzip; Sentry takes both.
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                elif self.headers.get("Content-Encoding") == "br":
                    body = brotli.decompress(body)
                fake.receive(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public-key@127.0.0.1:{self.server.server_port}/1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def receive(self, envelope: bytes) -> None:
        """An envelope: a header line, then an item header line and its payload line, repeated
        (the SDK writes JSON payloads, which hold no raw newline)."""
        lines = [line for line in envelope.split(b"\n")[1:] if line.strip()]
        for header, payload in zip(lines[::2], lines[1::2], strict=True):
            if json.loads(header).get("type") == "event":
                with self.lock:
                    self.events.append(json.loads(payload))

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            events, self.events = self.events, []
        return events


@pytest.fixture()
def fake_sentry(app) -> Iterator[FakeSentry]:  # type: ignore[no-untyped-def]
    """Sentry started for this process (as create_app does with SENTRY_DSN) and for workers."""
    fake = FakeSentry()
    fake.thread.start()
    config = {
        **app.config,
        "SENTRY_DSN": fake.dsn,
        "SENTRY_RELEASE": RELEASE,
        "SENTRY_ENVIRONMENT": "test",
    }
    assert lumipay_sentry.init(config)
    assert not sentry_sdk.get_client().should_send_default_pii()
    fake.env = {  # type: ignore[attr-defined]
        "SENTRY_DSN": fake.dsn,
        "SENTRY_RELEASE": RELEASE,
        "SENTRY_ENVIRONMENT": "test",
    }
    try:
        yield fake
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # no DSN: an inactive client for the rest of the suite
        fake.server.shutdown()
        fake.server.server_close()


def flushed(fake: FakeSentry) -> list[dict[str, Any]]:
    """Every event this process captured, once the SDK has sent them all (flush waits)."""
    sentry_sdk.flush(timeout=10)
    return fake.take()


def strings(value: Any, key: str = "") -> Iterator[str]:
    if key in GENERATED:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, key)


def without_test_source(event: dict[str, Any]) -> dict[str, Any]:
    """The event minus the source lines of this test's own frames (the web runs in-process,
    so the stack goes through the test, whose literals are code, not data that leaked)."""
    copy = json.loads(json.dumps(event))
    for value in copy.get("exception", {}).get("values", []):
        for frame in (value.get("stacktrace") or {}).get("frames", []):
            if "/tests/" in (frame.get("abs_path") or ""):
                for key in ("pre_context", "context_line", "post_context"):
                    frame.pop(key, None)
    return copy


def assert_clean_and_tagged(event: dict[str, Any], request_id: str, *known: str) -> None:
    """No secret and nothing that names the customer; release, environment and request id."""
    assert event["release"] == RELEASE and event["environment"] == "test"
    assert event["tags"]["request_id"] == request_id, event.get("tags")
    texts = list(strings(without_test_source(event)))
    for secret in (*SECRETS, *known):
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"{secret!r} left in an event: {leaks[:3]}"
    assert set(event.get("user", {})) <= {"id"}
    assert "cookies" not in event.get("request", {})


def customer_identity(email: str) -> tuple[str, ...]:
    user = db.session.scalar(select(User).where(User.email == email))
    return (user.email, user.full_name, user.phone)


def test_an_error_in_a_page_reaches_sentry_scrubbed_and_tagged(
    ctx, register, app, fake_sentry, monkeypatch
):  # type: ignore[no-untyped-def]
    from lumipay.transfers import service

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "500")
    assert confirm.status_int == 200, confirm.text
    fake_sentry.take()  # only the failing request's events count below

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(LEAKY)

    monkeypatch.setattr(service, "send_transfer", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # a real 500, as in production
    form = confirm.forms["confirm-form"]
    # The step-up code and the transaction PIN travel in this form's body.
    fields = [*form.submit_fields(), ("code", TOTP), ("pin", PIN), ("bvn", BVN)]
    response = ada.browser.post(form.action, fields, expect_errors=True)

    assert response.status_int == 500
    request_id = response.headers["X-Request-ID"]
    assert f"<code>{request_id}</code>" in response.text  # the customer can quote it
    events = flushed(fake_sentry)
    assert events, "no event reached the fake Sentry"
    assert any(
        value["type"] == "RuntimeError"
        for event in events
        for value in event.get("exception", {}).get("values", [])
    )
    for event in events:
        assert_clean_and_tagged(event, request_id, *customer_identity(ada.email), "198.51.100.20")
        assert event.get("user", {}).get("id"), "the customer's opaque id is missing"


def test_an_error_in_an_api_call_reaches_sentry_scrubbed_and_tagged(
    ctx, app, fake_sentry, monkeypatch
):  # type: ignore[no-untyped-def]
    from lumipay.transfers import service

    ada, bayo = api_register(app, "Ada Obi"), api_register(app, "Bayo Adeyemi", ip="198.51.100.41")
    wallet = ngn_wallet_id(ada)
    fake_sentry.take()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(LEAKY)

    monkeypatch.setattr(service, "send_transfer", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    incoming = "mobile-app-req-0001"
    body = {
        "from_wallet_id": wallet,
        "to_account_number": bayo.account_number,
        "amount": 50_000,
        "narration": f"rent bvn={BVN}",
        "otp_code": TOTP,
    }
    response = ada.browser.post_json(
        "/api/lumipay/v1/transfers/",
        body,
        headers={**ada.headers(new_key()), "X-Transaction-PIN": PIN, "X-Request-ID": incoming},
        expect_errors=True,
    )

    assert response.status_int == 500
    assert response.headers["X-Request-ID"] == incoming
    assert response.json["request_id"] == incoming  # in the problem document
    assert response.json["type"].endswith("/internal-error")
    events = flushed(fake_sentry)
    assert events, "no event reached the fake Sentry"
    for event in events:
        assert_clean_and_tagged(
            event, incoming, ada.access, *customer_identity(ada.email), "198.51.100.40"
        )


def test_an_error_in_a_job_reaches_sentry_scrubbed_and_tagged_with_its_request_id(
    ctx, app, redis_clean, fake_sentry
):  # type: ignore[no-untyped-def]
    from lumipay import requestid
    from lumipay.database import run_in_transaction
    from lumipay.jobs import outbox

    # A poison message: a job given an argument it can't use (here everything a careless
    # caller should never have put in one), written by a request whose id the job inherits.
    poison = {"card_number": CARD, "cvv": CVV, "pin": PIN, "otp_code": TOTP, "note": LEAKY}
    with requestid.bound("checkout-req-0001"):
        run_in_transaction(lambda: outbox.add("lumipay.bills.jobs.submit_bill", poison))
    fake_sentry.take()

    # The worker exits once the queues are drained, after the SDK sent what it captured.
    run_worker(JOB_RETRY_BACKOFF="0", **fake_sentry.env)  # type: ignore[attr-defined]

    events = fake_sentry.take()
    failures = [e for e in events if "submit_bill" in json.dumps(e)]
    assert failures, f"the job's failure didn't reach the fake Sentry: {events}"
    assert any("can't adapt" in json.dumps(e.get("exception", {})) for e in failures)
    for event in events:
        assert_clean_and_tagged(event, "checkout-req-0001")


def test_one_request_id_from_the_page_through_the_job_to_the_provider(
    ctx, register, aggregator, redis_clean
):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    response = buy_airtime(ada, "08031234567", "1000")
    assert response.status_int == 303
    request_id = response.headers["X-Request-ID"]
    message = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message.func == "lumipay.bills.jobs.submit_bill"
    assert message.request_id == request_id

    result = run_worker(**aggregator.env)  # type: ignore[attr-defined]

    assert ("/api/pay", request_id) in aggregator.request_ids  # the provider got it too
    # The job's own lines, and RQ's once it runs the job; RQ's "took it from the queue" line
    # comes before the job (and its meta) is handed over, and names the outbox message instead.
    job_lines = [
        entry
        for entry in map(json.loads, filter(None, result.stdout.splitlines()))
        if entry["logger"].startswith("lumipay") or "Successfully completed" in entry["message"]
    ]  # fmt: skip
    assert any("submit_bill" in entry["message"] for entry in job_lines), job_lines
    assert job_lines, result.stdout
    assert {entry.get("request_id") for entry in job_lines} == {request_id}, [
        (e["logger"], e["message"][:90], e.get("request_id")) for e in job_lines
    ]


def test_an_incoming_request_id_is_kept_only_when_well_formed(web, ctx):  # type: ignore[no-untyped-def]
    kept = web.get("/auth/login", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a9c2e-0001"
    for forged in ("short", "has space in it", "x" * 65, "évil-request-id"):
        answer = web.get("/auth/login", headers={"X-Request-ID": forged})
        assert answer.headers["X-Request-ID"] != forged
        assert re.fullmatch(r"[a-z2-7]{24}", answer.headers["X-Request-ID"])
    first, second = web.get("/auth/login"), web.get("/auth/login")
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    missing = web.get("/no-such-page", expect_errors=True)
    assert missing.status_int == 404
    assert f"<code>{missing.headers['X-Request-ID']}</code>" in missing.text
    problem = web.get("/api/lumipay/v1/transfers/nope", expect_errors=True)
    assert problem.status_int in (401, 404)
    assert problem.json["request_id"] == problem.headers["X-Request-ID"]


# --- The series the alert rules and the dashboard use ---------------------------------------

SERIES = re.compile(r"\b(lumipay_[a-z0-9_]+)")


def rule_expressions() -> list[str]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/lumipay.rules.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/lumipay.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def exported(text: str) -> set[str]:
    """Names of the samples in a Prometheus text exposition (not just their HELP lines)."""
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_every_series_the_alerts_and_the_dashboard_use_is_exported(
    ctx, register, web, app, bills_config, monkeypatch
):  # type: ignore[no-untyped-def]
    from lumipay.ledger.jobs import verify_ledger
    from lumipay.reconciliation.jobs import reconcile_providers
    from tests.integration.test_transfers import send

    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    send(ada, bayo.account_number, "2500")  # a transfer
    buy_airtime(ada, "08031234567", "1000")  # a bill, held until the worker runs it
    web.post("/api/lumipay/v1/webhooks/bills", b"{}", expect_errors=True)  # a rejected webhook
    secrets = {**app.config["WEBHOOK_SECRETS"], "cards": CARDS_SECRET}
    monkeypatch.setitem(app.config, "WEBHOOK_SECRETS", secrets)
    answer = deliver_card_event(web, "authorization.request", card_auth("ic_unknown", 1_000))
    assert answer.status_int == 200 and answer.json["approved"] is False
    held = web.get("/metrics").text  # the bill's money is in flight until the provider answers
    assert 'lumipay_money_in_flight_minor{age="under_5m",currency="NGN"} 100000.0' in held
    run_worker()  # jobs: the bill reaches the provider
    assert verify_ledger()  # `ledger verify`, recorded
    redis_url = app.config["REDIS_URL"]
    monkeypatch.setitem(app.config, "REDIS_URL", None)  # the nightly run, in-process
    assert reconcile_providers()
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)

    scraped = web.get("/metrics").text
    names = exported(scraped)
    expressions = {"rules": rule_expressions(), "dashboard": dashboard_expressions()}
    for where, exprs in expressions.items():
        assert exprs, f"no expressions found in the {where}"
        for expr in exprs:
            used = set(SERIES.findall(expr))
            assert used or "up{" in expr, f"{where}: {expr!r} names no Lumipay series"
            missing = used - names
            assert not missing, f"{where} uses series /metrics doesn't export: {missing}"
    # The values behind the money panels are real, not just present.
    assert 'lumipay_money_moved_today_minor{currency="NGN",kind="transfer"} 250000.0' in scraped
    assert re.search(r'lumipay_provider_calls_total\{.*provider="sandbox".*\} 1\.0', scraped)
    assert "lumipay_ledger_verify_ok 1.0" in scraped
