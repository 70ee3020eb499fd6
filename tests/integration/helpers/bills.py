"""Helpers for the bills, webhook and worker tests: a real RQ worker, signed deliveries, and a
fake VTpass-style aggregator served over real HTTP on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from lumipay.providers import signing
from tests.conftest import _database_url, _redis_url

ROOT = Path(__file__).resolve().parents[3]
SECRET = "test-bills-webhook-secret-0123456789"


def worker_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "BILLS_WEBHOOK_SECRET": SECRET,
        "SANDBOX_DELAY": "0",
        "BILLS_REQUERY_BACKOFF": "0",
        # "Not found" right after a send means "send again" for these workers; the tests of the
        # provider's retry window (test_jobs_run_once.py) set their own.
        "PROVIDER_RETRY_WINDOW": "0",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    env.update(extra)
    return env


def run_worker(timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    """A real `python -m lumipay.worker --burst`: drains every queue, then exits."""
    result = subprocess.run(
        [sys.executable, "-m", "lumipay.worker", "--burst"],
        cwd=ROOT,
        env=worker_env(**extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_worker(**extra: str) -> subprocess.Popen[str]:
    """A long-running worker (not burst), for the tests that kill it.

    It runs in a session of its own: RQ forks its scheduler into a child process, so a test
    kills the whole group (`kill_worker`), never just the worker's pid.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "lumipay.worker"],
        cwd=ROOT,
        env=worker_env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_worker(worker: subprocess.Popen[str]) -> None:
    """SIGKILL the worker and every process it forked, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(30)


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def signed(
    body: dict[str, Any], *, secret: str = SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, signing.signed_headers(secret, int(time.time()) if at is None else at, raw)


def bill_event(
    request_id: str, status: str = "delivered", token: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": "bill.completed",
        "data": {"request_id": request_id, "status": status, "token": token},
    }


class ServerThread:
    """A WSGI app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FakeAggregator:
    """A VTpass-shaped aggregator. `pay_answer` and `requery_answer` pick the codes it gives;
    `hold_pay` makes /api/pay wait until released (a slow provider); `requests` records calls."""

    pay_answer: str = "delivered"  # delivered | processing | failed | timeout
    requery_answer: str = "delivered"  # delivered | processing | failed | unknown
    requery_script: list[str] = field(default_factory=list)  # answers given first, in order
    hold_pay: threading.Event | None = None
    # A requery of a request id it has charged says delivered, of any other "unknown" (a real
    # provider's books), instead of `requery_answer`.
    requery_knows_paid: bool = False
    paid: set[str] = field(default_factory=set)
    pay_arrived: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    request_ids: list[tuple[str, str | None]] = field(default_factory=list)  # (path, X-Request-ID)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, kind: str, request_id: str) -> dict[str, Any]:
        if kind == "processing":
            return {"code": "099", "response_description": "TRANSACTION IS PROCESSING"}
        if kind == "failed":
            return {"code": "016", "response_description": "TRANSACTION FAILED"}
        if kind == "unknown":
            return {"code": "015", "response_description": "INVALID REQUEST ID"}
        return {
            "code": "000",
            "response_description": "TRANSACTION SUCCESSFUL",
            "requestId": request_id,
            "content": {"transactions": {"status": "delivered", "transactionId": "17000001"}},
            "purchased_code": "Token : 1234-5678-9012-3456-7890",
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_json(silent=True) or dict(request.args)
        with self.lock:
            self.requests.append((request.path, body))
            self.request_ids.append((request.path, request.headers.get("X-Request-ID")))
        if request.headers.get("api-key") != "test-api-key":
            return Response("{}", 401, mimetype="application/json")(environ, start_response)
        if request.path == "/api/pay":
            self.pay_arrived.set()
            if self.hold_pay is not None:
                self.hold_pay.wait(30)
            if self.pay_answer == "timeout":
                time.sleep(3)  # longer than the adapter's VTPASS_TIMEOUT in these tests
                payload = self.answer("processing", body["request_id"])
            else:
                payload = self.answer(self.pay_answer, body["request_id"])
            with self.lock:
                self.paid.add(body["request_id"])
        elif request.path == "/api/requery":
            with self.lock:
                kind = self.requery_script.pop(0) if self.requery_script else self.requery_answer
                if self.requery_knows_paid:
                    kind = "delivered" if body["request_id"] in self.paid else "unknown"
            payload = self.answer(kind, body["request_id"])
        elif request.path == "/api/merchant-verify":
            if body.get("billersCode", "").endswith("0000"):
                payload = {"code": "000", "content": {"error": "Invalid meter number"}}
            else:
                payload = {
                    "code": "000",
                    "content": {"Customer_Name": "TEST METER OWNER", "Address": "Lagos"},
                }
        elif request.path == "/api/service-variations":
            payload = {
                "response_description": "000",
                "content": {
                    "ServiceName": "MTN Data",
                    "variations": [
                        {
                            "variation_code": "mtn-10mb-100",
                            "name": "N100 100MB - 24 hrs",
                            "variation_amount": "100.00",
                        },
                        {
                            "variation_code": "mtn-1gb-1000",
                            "name": "N1000 1.5GB - 30 days",
                            "variation_amount": "1000.00",
                        },
                    ],
                },
            }
        else:
            return Response("{}", 404, mimetype="application/json")(environ, start_response)
        return Response(json.dumps(payload), 200, mimetype="application/json")(
            environ, start_response
        )

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _ in self.requests]
