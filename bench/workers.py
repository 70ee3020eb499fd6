"""Service-level load: worker processes calling the app's use cases directly, no HTTP.

Each worker is a separate process started with `spawn` (so no database connection is ever
inherited). It builds its own app with `make_app`, pushes an app context, opens its first
connection, then waits at a barrier with the others; the clock starts when all are ready.
After every operation the worker calls `db.session.remove()`, as Flask's teardown does after
a request, so each operation checks a connection out of the pool as a request would.
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing as mp
import pstats
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from typing import Any, Literal

from bench.common import PASSWORD, USER_AGENT, make_app, ms, percentile

Kind = Literal["transfer", "register", "mix"]
BARRIER_TIMEOUT = 300.0


@dataclass(frozen=True)
class Job:
    """What one worker process does.

    `customers` are (user_id, wallet_id, account_number) triples to pick senders and
    recipients from; `payee` is the index of the one recipient of every transfer (the hot
    account) or None for uniformly random recipients. `tag` keeps idempotency keys, emails
    and phone numbers of one run's phases apart.
    """

    kind: Kind
    url: str
    seconds: float
    worker: int
    seed: int
    tag: str
    customers: tuple[tuple[int, int, str], ...] = ()
    payee: int | None = None
    profile_path: str | None = None
    # The mix (kind "mix"): each worker's card, by its issuer token.
    card_tokens: tuple[str, ...] = ()


# The mix a bank sees (phase 11): shares of transfers, bill payments and card authorisations.
MIX = (("transfer", 70), ("bill", 20), ("card", 10))


@dataclass
class WorkerResult:
    worker: int
    ok: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_error: str | None = None
    crashed: str | None = None


def _transfer_op(job: Job) -> Callable[[int], None]:
    from lumipay.audit.service import Origin
    from lumipay.transfers.service import send_transfer

    rng = random.Random(job.seed * 1000 + job.worker)
    customers = job.customers
    origin = Origin(ip="127.0.0.1", user_agent=USER_AGENT)

    def op(n: int) -> None:
        i = rng.randrange(len(customers))
        if job.payee is None:
            j = rng.randrange(len(customers) - 1)
            j = j + 1 if j >= i else j
        else:
            j = job.payee
            i = (i + 1) % len(customers) if i == j else i
        user_id, wallet_id, _ = customers[i]
        to_account = customers[j][2]
        send_transfer(
            user_id,
            wallet_id,
            to_account,
            rng.randint(100, 10_000),
            "Benchmark transfer",
            idempotency_key=f"{job.tag}-{job.worker:02d}-{n:010d}",
            origin=origin,
        )

    return op


class Declined(Exception):
    """A card authorisation in the mix was declined (counted as an error: it should not be)."""


def _mix_op(job: Job) -> Callable[[int], None]:
    """70% transfers, 20% airtime bills, 10% card authorisations (MIX), drawn with the seed."""
    import json
    import uuid

    from lumipay.audit.service import Origin
    from lumipay.bills.service import pay_bill, plan_airtime
    from lumipay.providers import signing
    from lumipay.webhooks.service import receive, secret_for

    rng = random.Random(job.seed * 1000 + job.worker)
    transfer = _transfer_op(job)
    origin = Origin(ip="127.0.0.1", user_agent=USER_AGENT)
    token = job.card_tokens[job.worker % len(job.card_tokens)]
    kinds = [kind for kind, share in MIX for _ in range(share)]

    def op(n: int) -> None:
        kind = rng.choice(kinds)
        if kind == "transfer":
            transfer(n)
        elif kind == "bill":
            user_id = job.customers[rng.randrange(len(job.customers))][0]
            pay_bill(
                user_id,
                plan_airtime("mtn", f"0803{rng.randrange(10**7):07d}", rng.randint(10_000, 50_000)),
                idempotency_key=f"{job.tag}-bill-{job.worker:02d}-{n:010d}",
                origin=origin,
            )
        else:
            body = {
                "id": f"evt_{job.tag}_{job.worker}_{n}_{uuid.uuid4().hex[:8]}",
                "type": "authorization.request",
                "data": {
                    "authorization_id": f"iauth_{job.tag}_{job.worker}_{n}",
                    "card_token": token,
                    "amount": 1_000,
                    "currency": "NGN",
                    "merchant": {"name": "Bench Merchant", "mcc": "5411"},
                },
            }
            raw = json.dumps(body).encode()
            secret = secret_for("cards") or ""
            headers = signing.signed_headers(secret, int(time.time()), raw)
            accepted = receive(
                "cards", raw, headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
            )
            if not (accepted.answer or {}).get("approved"):
                raise Declined(str(accepted.answer))

    return op


def _register_op(job: Job) -> Callable[[int], None]:
    from lumipay.audit.service import Origin
    from lumipay.auth.service import register_customer

    origin = Origin(ip="127.0.0.1", user_agent=USER_AGENT)

    def op(n: int) -> None:
        register_customer(
            "Bench Registrant",
            f"reg-{job.tag}-{job.worker}-{n}@example.com",
            f"+2348{job.worker}{n:08d}",
            PASSWORD,
            origin=origin,
        )

    return op


def _loop(job: Job, op: Callable[[int], None], result: WorkerResult) -> None:
    """Run `op` until the job's time is up, sorting outcomes into ok, refused and errors."""
    from lumipay.auth.service import RegistrationError
    from lumipay.bills.service import BillError
    from lumipay.extensions import db
    from lumipay.transfers.service import TransferError

    started = time.perf_counter()
    deadline = started + job.seconds
    n = 0
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            op(n)
        except (TransferError, RegistrationError, BillError) as exc:
            result.refused[exc.message] += 1
        except Exception as exc:
            first_line = (str(exc).splitlines() or [""])[0][:200]
            result.errors[f"{type(exc).__name__}: {first_line}"] += 1
            if result.first_error is None:
                result.first_error = traceback.format_exc()
        else:
            result.ok += 1
            result.latencies.append(time.perf_counter() - t0)
        finally:
            db.session.remove()
        n += 1
    result.elapsed = time.perf_counter() - started


def _worker_main(job: Job, barrier: Barrier, results: Any) -> None:
    """Process entry point: build the app, wait for the others, run, report."""
    result = WorkerResult(worker=job.worker)
    try:
        from sqlalchemy import text

        from lumipay.extensions import db

        app = make_app(job.url)
        with app.app_context():
            db.session.execute(text("SELECT 1"))
            db.session.remove()
            op = {"transfer": _transfer_op, "register": _register_op, "mix": _mix_op}[job.kind](job)
            barrier.wait(BARRIER_TIMEOUT)
            if job.profile_path:
                profiler = cProfile.Profile()
                profiler.runcall(_loop, job, op, result)
                _write_profile(profiler, job.profile_path, result)
            else:
                _loop(job, op, result)
    except Exception:
        result.crashed = traceback.format_exc()
        barrier.abort()
    results.put(result)


def _write_profile(profiler: cProfile.Profile, path: str, result: WorkerResult) -> None:
    out = io.StringIO()
    out.write(f"worker {result.worker}: {result.ok} operations in {result.elapsed:.1f} s\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(out.getvalue())


def run_pool(jobs: list[Job]) -> dict[str, Any]:
    """Run one process per job, all starting together; return the combined figures."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(jobs) + 1)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(job, barrier, queue)) for job in jobs]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(BARRIER_TIMEOUT)
        wall_start = time.perf_counter()
        timeout = max(job.seconds for job in jobs) + BARRIER_TIMEOUT
        results: list[WorkerResult] = [queue.get(timeout=timeout) for _ in jobs]
        wall = time.perf_counter() - wall_start
    except Exception:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        crashed = []
        while not queue.empty():
            crashed.append(queue.get_nowait().crashed)
        raise RuntimeError(f"worker pool failed: {[c for c in crashed if c]}") from None
    finally:
        for proc in procs:
            proc.join(timeout=30)
    crashes = [r.crashed for r in results if r.crashed]
    if crashes:
        raise RuntimeError(f"{len(crashes)} worker(s) crashed:\n{crashes[0]}")
    return summarise(results, wall)


def summarise(results: list[WorkerResult], wall: float) -> dict[str, Any]:
    """Throughput over the longest worker's run, latency percentiles, refusals and errors."""
    latencies = [lat for r in results for lat in r.latencies]
    ok = sum(r.ok for r in results)
    elapsed = max((r.elapsed for r in results), default=0.0) or wall
    refused: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for r in results:
        refused.update(r.refused)
        errors.update(r.errors)
    first_error = next((r.first_error for r in results if r.first_error), None)
    return {
        "workers": len(results),
        "ok": ok,
        "seconds": round(elapsed, 3),
        "per_second": round(ok / elapsed, 2) if elapsed else 0.0,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "mean_ms": ms(sum(latencies) / len(latencies)) if latencies else None,
        "refused": sum(refused.values()),
        "refused_by_message": dict(refused.most_common(10)),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors.most_common(10)),
        "first_error": first_error,
        "per_worker_ok": [r.ok for r in results],
    }
