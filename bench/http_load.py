"""HTTP load: gunicorn as the Procfile runs it, and browser-style clients using only the stdlib.

Each client process signs in as its own customer (GET the login form, POST it with the CSRF
token) and then repeats the three requests a person makes to send money:

1. GET  /transfers/new      -> parse csrf_token, idempotency_key and the wallet option
2. POST /transfers/new      -> the confirm page; parse its hidden inputs
3. POST /transfers/confirm  -> 303 to /transfers/<reference>: one transfer done

Connections are kept alive (one per client) and the session cookie is carried like a browser.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from multiprocessing.synchronize import Barrier
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    BENCH_DB,
    PASSWORD,
    PIN,
    ROOT,
    SECRET_KEY,
    USER_AGENT,
    database_url,
    ms,
    percentile,
)

BARRIER_TIMEOUT = 300.0
RECEIPT = re.compile(r"^(?:https?://[^/]+)?/transfers/(?!new$|confirm$)([A-Za-z0-9]+)$")


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def procfile_web_command(port: int, env: dict[str, str], app: str | None = None) -> list[str]:
    """The Procfile's `web:` command with ${VAR:-default} expanded and --bind on 127.0.0.1.

    `app` replaces the WSGI app (`wsgi:app`) and nothing else: the bare-Flask ceiling.
    """
    with open(os.path.join(ROOT, "Procfile"), encoding="utf-8") as fh:
        line = next(ln for ln in fh if ln.startswith("web:"))
    text = re.sub(
        r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), line[4:].strip()
    )
    args = shlex.split(text)
    if "--bind" in args:
        args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    else:
        args += ["--bind", f"127.0.0.1:{port}"]
    if app is not None:
        args[next(i for i, a in enumerate(args) if a.endswith(":app"))] = app
    if args[0] == "gunicorn":
        # The venv's gunicorn, whichever python runs the harness.
        args[0] = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    return args


# Phase 5 runs as production does (LUMIPAY_ENV=production): these are the settings it refuses
# to start without, made up for the bench. No provider is called by a transfer; the one email a
# sign-in sends goes to an SMTP port nothing listens on (logged, not retried).
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
PRODUCTION_PIN_KEY = "bench-pin-hmac-key-0123456789abcdefghijklmnop"


def production_env(smtp_port: int) -> dict[str, str]:
    """The environment of a production web (and worker) process, with Redis for jobs and limits."""
    secret = "bench-own-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - local only
    provider = "bench-provider-credential-7f3a"
    return {
        "LUMIPAY_ENV": "production",
        "REDIS_URL": BENCH_REDIS_URL,
        "METRICS_TOKEN": secret + "-metrics",
        "BILLS_WEBHOOK_SECRET": secret + "-bills",
        "PIN_HMAC_KEY": PRODUCTION_PIN_KEY,
        "TOTP_ENCRYPTION_KEYS": secret + "-totp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_STARTTLS": "false",
        "PUBLIC_URL": "https://bank.bench.invalid",
        **{f"BILLS_PROVIDER_{c}": "vtpass" for c in ("AIRTIME", "DATA", "ELECTRICITY")},
        "VTPASS_BASE_URL": "https://vtpass.bench.invalid",
        "VTPASS_API_KEY": provider,
        "VTPASS_SECRET_KEY": provider,
        "VTPASS_PUBLIC_KEY": provider,
        "CARDS_PROVIDER": "issuing",
        "CARDS_API_URL": "https://cards.bench.invalid",
        "CARDS_API_KEY": provider,
        "FX_RATES_PROVIDER": "openexchangerates",
        "FX_RATES_URL": "https://fx.bench.invalid",
        "FX_RATES_APP_ID": provider,
        "BANK_PROVIDER_MODE": "http",
        "MONIEPOINT_BASE_URL": "https://moniepoint.bench.invalid",
        "MONIEPOINT_CLIENT_ID": provider,
        "MONIEPOINT_CLIENT_SECRET": provider,
        "MONIEPOINT_CONTRACT_CODE": provider,
        "UBA_BASE_URL": "https://uba.bench.invalid",
        "UBA_CLIENT_ID": provider,
        "UBA_CLIENT_SECRET": provider,
    }


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    command: list[str]
    log_path: str
    worker: subprocess.Popen[bytes] | None = None


def server_env(database: str, settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the app's processes: this one's, on `database`, with `settings`."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DATABASE_URL": database_url(database, driver="postgresql"),
            "LUMIPAY_ENV": "development",
            **(settings or {}),
            "SECRET_KEY": SECRET_KEY,
            # Eight clients sending as fast as they can are not an attack: measure the bank,
            # not the per-customer limits on sign-ins and name enquiries (transfer step one).
            "LIMIT_LOGIN": "1000000 per minute",
            "LIMIT_NAME_ENQUIRY": "1000000 per minute",
        }
    )
    return env


def start_gunicorn(
    log_path: str,
    *,
    database: str = BENCH_DB,
    app: str | None = None,
    settings: dict[str, str] | None = None,
) -> Server:
    """Start gunicorn on a free port against `database`; wait until it serves the login page.

    `settings` (production_env) replace the development defaults; so does a worker process,
    `python -m lumipay.worker`, started beside it with the same environment."""
    port = free_port()
    env = server_env(database, settings)
    command = procfile_web_command(port, env, app)
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, closed with it
    process = subprocess.Popen(  # noqa: S603 - our own command line, from the Procfile
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    worker = None
    if settings and settings.get("REDIS_URL"):
        worker = subprocess.Popen(
            [sys.executable, "-m", "lumipay.worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.close()
    server = Server(process, port, command, log_path, worker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/auth/login")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(server)
    raise RuntimeError(f"gunicorn did not answer within 60 s; see {log_path}")


def stop_gunicorn(server: Server) -> None:
    """Stop the gunicorn arbiter (and so its workers) and the RQ worker: TERM, then KILL."""
    for process in (server.process, server.worker):
        if process is None or process.poll() is not None:
            continue
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def set_pins(app: Any, user_ids: list[int], *, pin_key: str | None = None) -> None:
    """The browser clients set their transaction PIN, as a customer does after registering
    (under `pin_key`, the server's PIN_HMAC_KEY, when it is not the harness app's)."""
    from lumipay.audit.service import Origin
    from lumipay.auth import pin
    from lumipay.auth.models import User
    from lumipay.extensions import db

    with app.app_context():
        if pin_key is not None:
            app.config["PIN_HMAC_KEY"] = pin_key
        for user_id in user_ids:
            if db.session.get(User, user_id).pin_hash is None:
                pin.set_first_pin(user_id, PIN, origin=Origin(user_agent=USER_AGENT))
        db.session.remove()


# --------------------------------------------------------------------------- the browser


class FormParser(HTMLParser):
    """The inputs (name -> value) and select options of one form, found by its id."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.fields: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a.get("name")
            self.options.setdefault(self.select or "", [])
        elif tag == "option" and self.select:
            self.options[self.select].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def parse_form(html: str, form_id: str) -> FormParser:
    parser = FormParser(form_id)
    parser.feed(html)
    if not parser.fields:
        raise PageError(f"no form #{form_id} on the page")
    return parser


class PageError(Exception):
    """The server answered something a browser could not continue from."""


class Browser:
    """One keep-alive connection and a cookie jar, like one browser tab."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {"User-Agent": "lumipay-bench-browser", "Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed a kept-alive connection: reconnect once, as a browser would.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response.status, dict(response.headers.items()), text

    def login(self, email: str, password: str) -> None:
        status, _, page = self.request("GET", "/auth/login")
        if status != 200:
            raise PageError(f"GET /auth/login answered {status}")
        token = parse_form(page, "login-form").fields["csrf_token"]
        status, _, _ = self.request(
            "POST", "/auth/login", {"csrf_token": token, "email": email, "password": password}
        )
        if status != 303:
            raise PageError(f"login for {email} answered {status}")

    def bare_sequence(self) -> float:
        """bench.bare_flask's three requests; returns the seconds of the third."""
        status, _, page = self.request("GET", "/one")
        if status != 200:
            raise PageError(f"GET /one answered {status}")
        step = parse_form(page, "next").fields["step"]
        status, _, page = self.request("POST", "/two", {"step": step})
        if status != 200:
            raise PageError(f"POST /two answered {status}")
        step = parse_form(page, "next").fields["step"]
        t0 = time.perf_counter()
        status, _, _ = self.request("POST", "/three", {"step": step})
        if status != 200:
            raise PageError(f"POST /three answered {status}")
        return time.perf_counter() - t0

    def send_money(self, to_account: str, amount: str, narration: str) -> tuple[str, float]:
        """The three requests of one transfer; returns (reference, seconds of the confirm)."""
        status, _, page = self.request("GET", "/transfers/new")
        if status != 200:
            raise PageError(f"GET /transfers/new answered {status}")
        new = parse_form(page, "transfer-form")
        wallets = new.options.get("from_wallet_id") or []
        if not wallets:
            raise PageError("no wallet to send from")
        status, _, page = self.request(
            "POST",
            "/transfers/new",
            {
                "csrf_token": new.fields["csrf_token"],
                "idempotency_key": new.fields["idempotency_key"],
                "from_wallet_id": wallets[0],
                "to_account_number": to_account,
                "amount": amount,
                "narration": narration,
            },
        )
        if status != 200:
            raise PageError(f"POST /transfers/new answered {status}")
        confirm = {**parse_form(page, "confirm-form").fields, "pin": PIN}
        t0 = time.perf_counter()
        status, headers, _ = self.request("POST", "/transfers/confirm", confirm)
        confirm_seconds = time.perf_counter() - t0
        location = headers.get("Location", "")
        match = RECEIPT.match(location)
        if status != 303 or not match:
            raise PageError(f"POST /transfers/confirm answered {status} {location!r}")
        return match.group(1), confirm_seconds


# --------------------------------------------------------------------------- the clients


@dataclass(frozen=True)
class ClientJob:
    port: int
    seconds: float
    client: int
    seed: int
    email: str
    own_account: str
    recipients: tuple[str, ...]
    # "transfer": the browser transfer (phase 5); "bare": bench.bare_flask's three requests.
    kind: str = "transfer"
    user_id: int = 0


@dataclass
class ClientResult:
    client: int
    ok: int = 0
    elapsed: float = 0.0
    sequence: list[float] = field(default_factory=list)
    confirm: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    first_error: str | None = None
    crashed: str | None = None


def _client_main(job: ClientJob, barrier: Barrier, results: Any) -> None:
    result = ClientResult(client=job.client)
    try:
        browser = Browser(job.port)
        if job.kind == "bare":
            status, _, _ = browser.request("POST", f"/sign-in/{job.user_id}", {})
            if status != 303:
                raise PageError(f"bare sign-in answered {status}")
        else:
            browser.login(job.email, PASSWORD)
        rng = random.Random(job.seed * 1000 + job.client)
        recipients = [r for r in job.recipients if r != job.own_account]
        barrier.wait(BARRIER_TIMEOUT)
        started = time.perf_counter()
        deadline = started + job.seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                if job.kind == "bare":
                    confirm_seconds = browser.bare_sequence()
                else:
                    _, confirm_seconds = browser.send_money(
                        rng.choice(recipients), "10", "Benchmark over HTTP"
                    )
            except Exception as exc:
                result.errors[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
                if result.first_error is None:
                    result.first_error = traceback.format_exc()
            else:
                result.ok += 1
                result.sequence.append(time.perf_counter() - t0)
                result.confirm.append(confirm_seconds)
        result.elapsed = time.perf_counter() - started
    except Exception:
        result.crashed = traceback.format_exc()
        barrier.abort()
    results.put(result)


def run_http_load(
    port: int,
    *,
    seconds: float,
    logins: list[tuple[str, str]],
    recipients: list[str],
    seed: int,
    kind: str = "transfer",
    user_ids: list[int] | None = None,
) -> dict[str, Any]:
    """One client process per (email, account number) in `logins`, all starting together."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(logins) + 1)
    queue = ctx.Queue()
    jobs = [
        ClientJob(
            port,
            seconds,
            i,
            seed,
            email,
            account,
            tuple(recipients),
            kind,
            user_ids[i] if user_ids else 0,
        )
        for i, (email, account) in enumerate(logins)
    ]
    procs = [ctx.Process(target=_client_main, args=(job, barrier, queue)) for job in jobs]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(BARRIER_TIMEOUT)
        results: list[ClientResult] = [queue.get(timeout=seconds + BARRIER_TIMEOUT) for _ in jobs]
    except Exception:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        crashed = []
        while not queue.empty():
            crashed.append(queue.get_nowait().crashed)
        raise RuntimeError(f"HTTP clients failed: {[c for c in crashed if c]}") from None
    finally:
        for proc in procs:
            proc.join(timeout=30)
    crashes = [r.crashed for r in results if r.crashed]
    if crashes:
        raise RuntimeError(f"{len(crashes)} client(s) crashed:\n{crashes[0]}")
    sequence = [s for r in results for s in r.sequence]
    confirm = [s for r in results for s in r.confirm]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r.errors)
    ok = sum(r.ok for r in results)
    elapsed = max(r.elapsed for r in results)
    return {
        "clients": len(results),
        "ok": ok,
        "seconds": round(elapsed, 3),
        "per_second": round(ok / elapsed, 2) if elapsed else 0.0,
        "sequence_p50_ms": ms(percentile(sequence, 50)),
        "sequence_p99_ms": ms(percentile(sequence, 99)),
        "confirm_p50_ms": ms(percentile(confirm, 50)),
        "confirm_p99_ms": ms(percentile(confirm, 99)),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors.most_common(10)),
        "first_error": next((r.first_error for r in results if r.first_error), None),
        "per_client_ok": [r.ok for r in results],
    }
