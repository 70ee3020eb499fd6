"""Lumipay's benchmark: `python bench/run.py [--seconds N] [--quick] [--profile DIR]`.

Runs every phase in one go, checks the ledger after each, prints a table and writes every
figure to bench/results/latest.json. bench/README.md explains each figure.

1. baseline       pgbench TPC-B-like on the same PostgreSQL server
2. transfers      8 processes calling transfers.service.send_transfer, random pairs
3. hot account    the same, every transfer paying one merchant wallet
4. registration   8 processes calling auth.service.register_customer (scrypt included)
5. http           gunicorn as in the Procfile, 8 browser-style clients sending money
6. growth         dashboard, history and `ledger verify` as one customer grows to 1M entries
7. cards          card authorisation latency over HTTP (bench/cards_auth.py)
8. bare posting   the same two statements per transfer from plain psycopg2, 8 threads: the
                  ceiling of phase 2 (bench/bare_posting.py)
9. statements     statements, round trips and wallet lock hold per transfer, one process
                  (bench/statements.py)
11. mix           8 processes, 70% transfers, 20% airtime bills, 10% card authorisations
                  (through the webhook inbox, each worker with its own card), service level
10. bare flask    a tiny Flask app under the same gunicorn command and 8 clients: three
                  requests with a session cookie, one template and one primary-key SELECT
                  each; the ceiling of phase 5 (bench/bare_flask.py)
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import common, posting_cpu  # noqa: E402
from bench.common import BENCH_DB, PASSWORD, PGBENCH_DB, database_url, ms  # noqa: E402

RESULTS = os.path.join(ROOT, "bench", "results", "latest.json")
SEED = 20261126


@dataclass(frozen=True)
class Sizes:
    """How big each phase is; `--quick` shrinks everything for a smoke run."""

    seconds: float
    customers: int
    workers: int
    pgbench_scale: int
    pgbench_clients: int
    pgbench_threads: int
    hash_calls: int
    http_clients: int
    growth_stages: tuple[int, ...]
    growth_requests: int
    growth_verify_from: int
    growth_legs_per_posting: int
    funding_batch: int
    card_requests: int
    cpu_calls: int

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Sizes:
        if args.quick:
            return cls(
                seconds=args.seconds if args.seconds_given else 3,
                customers=1_000,
                workers=8,
                pgbench_scale=1,
                pgbench_clients=8,
                pgbench_threads=2,
                hash_calls=5,
                http_clients=8,
                growth_stages=(1_000, 10_000),
                growth_requests=10,
                growth_verify_from=10_000,
                growth_legs_per_posting=5_000,
                funding_batch=1_000,
                card_requests=200,
                cpu_calls=300,
            )
        return cls(
            seconds=args.seconds,
            customers=10_000,
            workers=8,
            pgbench_scale=10,
            pgbench_clients=8,
            pgbench_threads=2,
            hash_calls=20,
            http_clients=8,
            growth_stages=(1_000, 10_000, 100_000, 1_000_000),
            growth_requests=30,
            growth_verify_from=100_000,
            growth_legs_per_posting=5_000,
            funding_batch=1_000,
            card_requests=1_000,
            cpu_calls=2_000,
        )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- run facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", *args],  # noqa: S607 - git from PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine_facts(pgbench: str | None) -> dict[str, Any]:
    pgbench_version = None
    if pgbench:
        pgbench_version = subprocess.run(  # noqa: S603 - the pgbench we found
            [pgbench, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "postgres": common.server_version(),
        "pgbench": pgbench_version,
    }


def git_facts() -> dict[str, Any]:
    changed = [line for line in _git("status", "--porcelain").splitlines() if line]
    return {
        "revision": _git("rev-parse", "HEAD"),
        "dirty": bool(changed),
        "changed_files": changed,
    }


# --------------------------------------------------------------------------- phase 1


def find_pgbench() -> tuple[str | None, str]:
    """The pgbench binary, installing the Debian package once if it is missing."""
    candidates = [shutil.which("pgbench"), "/usr/bin/pgbench"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)
    found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    if found:
        return found, "found"
    apt = shutil.which("apt-get")
    if not apt:
        return None, "pgbench is missing and apt-get is not available to install it"
    tried = []
    for package in ("postgresql-contrib", "postgresql-client"):
        done = subprocess.run(  # noqa: S603 - fixed package names
            [apt, "install", "-y", package], capture_output=True, text=True, check=False
        )
        tried.append(f"apt-get install -y {package}: exit {done.returncode}")
        found = shutil.which("pgbench")
        if found:
            return found, f"installed with apt-get install -y {package}"
    return None, "pgbench is missing and could not be installed (" + "; ".join(tried) + ")"


def run_pgbench(pgbench: str | None, why: str, sizes: Sizes) -> dict[str, Any]:
    """TPC-B-like pgbench on its own database of the same server; tps without connect time."""
    if pgbench is None:
        return {"available": False, "reason": why}
    conn = ["-h", common.PG_HOST, "-p", common.PG_PORT, "-U", common.PG_USER]
    common.recreate_database(PGBENCH_DB)
    try:
        t0 = time.perf_counter()
        subprocess.run(  # noqa: S603 - pgbench with fixed arguments
            [pgbench, *conn, "-i", "-q", "-s", str(sizes.pgbench_scale), PGBENCH_DB],
            capture_output=True,
            text=True,
            check=True,
        )
        init_seconds = time.perf_counter() - t0
        run = [
            pgbench,
            *conn,
            "-c",
            str(sizes.pgbench_clients),
            "-j",
            str(sizes.pgbench_threads),
            "-T",
            str(int(sizes.seconds)),
            PGBENCH_DB,
        ]
        done = subprocess.run(run, capture_output=True, text=True, check=True)  # noqa: S603
        cpu = posting_cpu.tpcb(
            database_url(PGBENCH_DB, driver="postgresql"),
            scale=sizes.pgbench_scale,
            calls=sizes.cpu_calls,
            seed=SEED,
        )
    finally:
        common.drop_database(PGBENCH_DB)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if not tps:
        raise RuntimeError(f"could not find tps in pgbench output:\n{done.stdout}")
    return {
        "available": True,
        "how_found": why,
        "command": " ".join(run),
        "scale": sizes.pgbench_scale,
        "clients": sizes.pgbench_clients,
        "threads": sizes.pgbench_threads,
        "seconds": int(sizes.seconds),
        "init_seconds": round(init_seconds, 2),
        "tps": float(tps.group(1)),
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed_transactions": int(failed.group(1)) if failed else None,
        "cpu": cpu,
    }


# --------------------------------------------------------------------------- phases 2-6


def hashing_cost(calls: int) -> dict[str, Any]:
    """Single-process time of `hash_password`, the scrypt every registration pays."""
    from lumipay.auth.passwords import hash_password

    hash_password(PASSWORD)  # warm-up
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        hash_password(PASSWORD)
        times.append(time.perf_counter() - t0)
    per_call = sum(times) / len(times)
    cores = os.cpu_count() or 1
    return {
        "calls": calls,
        "ms_per_call": ms(per_call),
        "ms_min": ms(min(times)),
        "ceiling_per_second": round(cores / per_call, 2),
        "cores": cores,
    }


def service_jobs(kind: str, sizes: Sizes, tag: str, **extra: Any) -> list[Any]:
    from bench.workers import Job

    return [
        Job(
            kind=kind,  # type: ignore[arg-type]
            url=database_url(BENCH_DB),
            seconds=sizes.seconds,
            worker=w,
            seed=SEED,
            tag=tag,
            **extra,
        )
        for w in range(sizes.workers)
    ]


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return round(value / base, 4)


class Run:
    """The state of one benchmark run: figures so far, and the table being built."""

    def __init__(self, sizes: Sizes, profile_dir: str | None) -> None:
        self.sizes = sizes
        self.profile_dir = profile_dir
        self.phases: dict[str, Any] = {}
        self.failed: list[str] = []

    def phase(self, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Run one phase, keeping its figures or, if it fails, the reason."""
        log(f"phase {name}")
        t0 = time.perf_counter()
        try:
            result = work()
        except Exception as exc:
            self.failed.append(name)
            self.phases[name] = {"failed": f"{type(exc).__name__}: {exc}"[:2000]}
            self.phases[name]["traceback"] = traceback.format_exc()
            log(f"phase {name} FAILED: {type(exc).__name__}: {str(exc)[:500]}")
            return None
        result["phase_seconds"] = round(time.perf_counter() - t0, 2)
        self.phases[name] = result
        return result

    def profile_path(self, name: str) -> str | None:
        if not self.profile_dir:
            return None
        os.makedirs(self.profile_dir, exist_ok=True)
        return os.path.join(self.profile_dir, f"profile-{name}.txt")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None, help="seconds per load phase")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument(
        "--profile", metavar="DIR", help="cProfile worker 0 of each service phase into DIR"
    )
    parser.add_argument("--output", default=RESULTS, help="where to write the JSON")
    parser.add_argument(
        "--only",
        metavar="N,N",
        help="run only these phases (1-12; setup always runs), e.g. --only 3,6 while developing",
    )
    args = parser.parse_args(argv)
    args.seconds_given = args.seconds is not None
    if args.seconds is None:
        args.seconds = 20.0
    sizes = Sizes.for_args(args)
    started_at = datetime.now(UTC)
    t_start = time.perf_counter()
    run = Run(sizes, args.profile)
    wanted = {int(n) for n in args.only.split(",")} if args.only else set(range(1, 13))

    pgbench, why = find_pgbench()
    facts = {"machine": machine_facts(pgbench), "git": git_facts()}
    log(f"machine: {facts['machine']['cpu_model']}, {facts['machine']['cores']} cores")

    if 1 in wanted:
        run.phase("1_baseline", lambda: run_pgbench(pgbench, why, sizes))
    context = setup_phase(run)
    if context is not None:
        app, customers, extra = context
        if 8 in wanted:
            run.phase("8_bare_posting", lambda: bare_posting_phase(run, app, customers))
        transfer_phases(run, customers, wanted)
        if 11 in wanted:
            run.phase("11_mix", lambda: mix_phase(run, app, customers))
        if 9 in wanted:
            run.phase("9_statements", lambda: statements_phase(app, customers))
        if 12 in wanted:
            run.phase("12_cpu", lambda: cpu_phase(run, app, customers))
        if 4 in wanted:
            run.phase("4_registration", lambda: registration_phase(run, app))
        if 10 in wanted:
            run.phase("10_bare_flask", lambda: bare_flask_phase(run, app, customers))
        if 5 in wanted:
            run.phase("5_http", lambda: http_phase(run, app, customers))
        if 6 in wanted:
            run.phase("6_growth", lambda: growth_phase(run, app, extra))
    if 7 in wanted:
        run.phase("7_cards", lambda: cards_phase(run))

    total = time.perf_counter() - t_start
    rows = table_rows(run.phases)
    document = {
        "date": started_at.isoformat(timespec="seconds"),
        **facts,
        "options": {**asdict(sizes), "quick": args.quick, "only": args.only, "seed": SEED},
        "run_seconds": round(total, 1),
        "failed_phases": run.failed,
        "phases": run.phases,
        "table": [dict(zip(("phase", "figure", "value", "ratio"), r, strict=True)) for r in rows],
    }
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, default=str)
        fh.write("\n")
    print()
    print_table(rows)
    print(f"\nrun time {total / 60:.1f} min; figures in {os.path.relpath(args.output, ROOT)}")
    verify_failed = [
        name
        for name, figures in run.phases.items()
        if isinstance(figures, dict) and figures.get("verify", {}).get("ok") is False
    ]
    if run.failed or verify_failed:
        print(f"FAILED phases: {run.failed}; ledger verify failed after: {verify_failed}")
        return 1
    return 0


def setup_phase(run: Run) -> tuple[Any, list[Any], list[Any]] | None:
    """Fresh `lumipay_bench`: schema from the migrations, bulk customers funded via the ledger."""
    holder: dict[str, Any] = {}

    def work() -> dict[str, Any]:
        from bench.setup_data import bulk_customers, fund_wallets
        from lumipay.auth.passwords import hash_password

        common.recreate_database(BENCH_DB)
        app = common.make_app()
        common.reset_schema(app)
        password_hash = hash_password(PASSWORD)
        t0 = time.perf_counter()
        customers = bulk_customers(app, run.sizes.customers, start=0, password_hash=password_hash)
        insert_seconds = time.perf_counter() - t0
        # Two more for the growth phase: one grows to 1M entries, one stays small.
        extra = bulk_customers(app, 2, start=run.sizes.customers, password_hash=password_hash)
        t0 = time.perf_counter()
        postings = fund_wallets(
            app, [c.wallet_id for c in [*customers, *extra]], batch=run.sizes.funding_batch
        )
        fund_seconds = time.perf_counter() - t0
        holder.update(app=app, customers=customers, extra=extra)
        return {
            "customers": len(customers) + len(extra),
            "insert_seconds": round(insert_seconds, 2),
            "funding_postings": postings,
            "funding_seconds": round(fund_seconds, 2),
            "verify": common.verify(app),
        }

    if run.phase("0_setup", work) is None:
        return None
    return holder["app"], holder["customers"], holder["extra"]


def transfer_phases(run: Run, customers: list[Any], wanted: set[int]) -> None:
    from bench.workers import run_pool

    triples = tuple((c.user_id, c.wallet_id, c.account_number) for c in customers)
    app = common.make_app()

    def uniform() -> dict[str, Any]:
        jobs = service_jobs("transfer", run.sizes, "uni", customers=triples)
        if run.profile_dir:
            jobs[0] = _with_profile(jobs[0], run.profile_path("2_transfers"))
        return {**run_pool(jobs), "verify": common.verify(app)}

    def hot() -> dict[str, Any]:
        jobs = service_jobs("transfer", run.sizes, "hot", customers=triples, payee=0)
        if run.profile_dir:
            jobs[0] = _with_profile(jobs[0], run.profile_path("3_hot_account"))
        result = run_pool(jobs)
        result["merchant_wallet_id"] = customers[0].wallet_id
        return {**result, "verify": common.verify(app)}

    if 2 in wanted:
        run.phase("2_transfers", uniform)
    if 3 in wanted:
        run.phase("3_hot_account", hot)


def _with_profile(job: Any, path: str | None) -> Any:
    from dataclasses import replace

    return replace(job, profile_path=path)


def bare_posting_phase(run: Run, app: Any, customers: list[Any]) -> dict[str, Any]:
    from bench.bare_posting import run as run_bare

    result = run_bare(
        database_url(BENCH_DB, driver="postgresql"),
        customers,
        threads=run.sizes.workers,
        seconds=run.sizes.seconds,
        seed=SEED,
    )
    return {**result, "verify": common.verify(app)}


def mix_phase(run: Run, app: Any, customers: list[Any]) -> dict[str, Any]:
    """70% transfers, 20% bills, 10% card authorisations; one sandbox-issued card per worker."""
    from bench.cards_auth import issue_card
    from bench.workers import MIX, run_pool
    from lumipay.extensions import db

    holders = customers[-run.sizes.workers :]
    with app.app_context():
        tokens = [issue_card(h.user_id, h.wallet_id, month_limit=5_000_000_000) for h in holders]
        db.session.remove()
    triples = tuple((c.user_id, c.wallet_id, c.account_number) for c in customers)
    jobs = service_jobs("mix", run.sizes, "mix", customers=triples, card_tokens=tuple(tokens))
    return {**run_pool(jobs), "mix": dict(MIX), "verify": common.verify(app)}


def cpu_phase(run: Run, app: Any, customers: list[Any]) -> dict[str, Any]:
    """CPU per transfer, the figure that hardly moves with the machine's other load: the bare
    posting's backend, and the service's Python and backend (bench/posting_cpu.py)."""
    from lumipay.extensions import db

    calls, dsn = run.sizes.cpu_calls, database_url(BENCH_DB, driver="postgresql")
    bare = posting_cpu.bare_posting(dsn, customers, calls=calls, seed=SEED)
    unlimited = posting_cpu.bare_posting(dsn, customers, calls=calls, seed=SEED + 1, limits=False)
    service = posting_cpu.service(app, customers, calls=calls, seed=SEED)
    verified = common.verify(app)
    with app.app_context():
        db.engine.dispose()  # a database is copied with nothing connected to it
    common.recreate_database(common.STRIPPED_DB, template_of=BENCH_DB)
    try:
        stripped_dsn = database_url(common.STRIPPED_DB, driver="postgresql")
        dropped = posting_cpu.strip(stripped_dsn)
        stripped = posting_cpu.bare_posting(stripped_dsn, customers, calls=calls, seed=SEED + 2)
    finally:
        common.drop_database(common.STRIPPED_DB)
    return {
        "bare_posting": bare,
        "bare_posting_without_limits": unlimited,
        "bare_posting_stripped": {**stripped, "dropped": dropped},
        "service": service,
        "verify": verified,
    }


def statements_phase(app: Any, customers: list[Any]) -> dict[str, Any]:
    from bench.statements import measure

    return {**measure(app, customers, transfers=200, seed=SEED), "verify": common.verify(app)}


def registration_phase(run: Run, app: Any) -> dict[str, Any]:
    from bench.workers import run_pool

    hashing = hashing_cost(run.sizes.hash_calls)
    jobs = service_jobs("register", run.sizes, "reg")
    if run.profile_dir:
        jobs[0] = _with_profile(jobs[0], run.profile_path("4_registration"))
    result = run_pool(jobs)
    per_call_s = (hashing["ms_per_call"] or 0) / 1000
    cores = hashing["cores"]
    result["hashing"] = hashing
    # Share of the machine's CPU that the storm spent in scrypt alone.
    result["hashing_cpu_share"] = round(result["per_second"] * per_call_s / cores, 3)
    result["verify"] = common.verify(app)
    return result


def http_phase(run: Run, app: Any, customers: list[Any]) -> dict[str, Any]:
    import redis

    from bench.http_load import (
        BENCH_REDIS_URL,
        PRODUCTION_PIN_KEY,
        free_port,
        production_env,
        run_http_load,
        set_pins,
        start_gunicorn,
        stop_gunicorn,
    )

    clients = customers[1 : 1 + run.sizes.http_clients]
    logins = [(c.email, c.account_number) for c in clients]
    recipients = [c.account_number for c in customers[1 + run.sizes.http_clients :]]
    set_pins(app, [c.user_id for c in clients], pin_key=PRODUCTION_PIN_KEY)
    # The bench's own Redis db: jobs and limiter counters of an earlier run are not this one's.
    redis.Redis.from_url(BENCH_REDIS_URL).flushdb()
    log_path = os.path.join(tempfile.gettempdir(), f"{BENCH_DB}-gunicorn.log")
    server = start_gunicorn(log_path, settings=production_env(free_port()))
    try:
        result = run_http_load(
            server.port,
            seconds=run.sizes.seconds,
            logins=logins,
            recipients=recipients,
            seed=SEED,
        )
    finally:
        stop_gunicorn(server)
    result["gunicorn_command"] = " ".join(server.command)
    result["gunicorn_log"] = log_path
    result["verify"] = common.verify(app)
    return result


def bare_flask_phase(run: Run, app: Any, customers: list[Any]) -> dict[str, Any]:
    from bench.http_load import run_http_load, start_gunicorn, stop_gunicorn

    clients = customers[1 : 1 + run.sizes.http_clients]
    log_path = os.path.join(tempfile.gettempdir(), f"{BENCH_DB}-bare-flask.log")
    server = start_gunicorn(log_path, app="bench.bare_flask:app")
    try:
        result = run_http_load(
            server.port,
            seconds=run.sizes.seconds,
            logins=[(c.email, c.account_number) for c in clients],
            recipients=[],
            seed=SEED,
            kind="bare",
            user_ids=[c.user_id for c in clients],
        )
    finally:
        stop_gunicorn(server)
    result["gunicorn_command"] = " ".join(server.command)
    result["gunicorn_log"] = log_path
    return result


def growth_phase(run: Run, app: Any, extra: list[Any]) -> dict[str, Any]:
    from bench.growth import run_growth

    curve = run_growth(
        app,
        customer=extra[0],
        small_customer=extra[1],
        stages=list(run.sizes.growth_stages),
        requests=run.sizes.growth_requests,
        verify_from=run.sizes.growth_verify_from,
        legs_per_posting=run.sizes.growth_legs_per_posting,
        log=log,
    )
    return {"curve": curve, "verify": common.verify(app)}


def cards_phase(run: Run) -> dict[str, Any]:
    from bench.cards_auth import run as run_cards

    return run_cards(run.sizes.card_requests)


# --------------------------------------------------------------------------- the table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verify_cell(figures: dict[str, Any]) -> str:
    report = figures.get("verify")
    if not report:
        return "not run"
    if report["ok"]:
        return f"ok ({report['entries']:,} entries)"
    return f"{len(report['problems'])} PROBLEMS: {report['problems'][0][:60]}"


def table_rows(phases: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(phase, figure, value, ratio) rows for the table and the JSON."""
    rows: list[tuple[str, str, str, str]] = []

    def add(phase: str, figure: str, value: Any, against: str = "") -> None:
        rows.append((phase, figure, _fmt(value) if value is not None else "n/a", against))

    def ratio_cell(value: float | None, base: float | None, name: str) -> str:
        r = ratio(value, base)
        return "" if r is None else f"{r:.3f} × {name}"

    def failed(name: str) -> bool:
        figures = phases.get(name)
        if figures is None:
            return True
        if "failed" in figures:
            add(name, "FAILED", figures["failed"][:100])
            return True
        return False

    tps = None
    if not failed("1_baseline"):
        base = phases["1_baseline"]
        if base.get("available"):
            tps = base["tps"]
            add(
                "1 baseline", f"pgbench tps (scale {base['scale']}, {base['clients']} clients)", tps
            )
            add("1 baseline", "pgbench latency avg (ms)", base["latency_avg_ms"])
        else:
            add("1 baseline", "pgbench", "UNAVAILABLE: " + base["reason"])
    if not failed("0_setup"):
        setup = phases["0_setup"]
        add("0 setup", "customers", setup["customers"])
        add(
            "0 setup",
            "bulk insert / ledger funding (s)",
            (
                f"{setup['insert_seconds']:.2f} / {setup['funding_seconds']:.2f} "
                f"({setup['funding_postings']} postings)"
            ),
        )
        add("0 setup", "ledger verify", _verify_cell(setup))

    bare_rate = None
    if "8_bare_posting" in phases and not failed("8_bare_posting"):
        bare = phases["8_bare_posting"]
        bare_rate = bare["per_second"]
        add(
            "8 bare posting",
            "transfers/s (plain psycopg2)",
            bare_rate,
            ratio_cell(bare_rate, tps, "pgbench tps"),
        )
        add("8 bare posting", "p50 / p99 latency (ms)", f"{bare['p50_ms']} / {bare['p99_ms']}")
        add("8 bare posting", "errors", bare["errors"])
        add("8 bare posting", "ledger verify", _verify_cell(bare))
    uni_rate = None
    if not failed("2_transfers"):
        uni = phases["2_transfers"]
        uni_rate = uni["per_second"]
        add("2 transfers", "transfers/s", uni_rate, ratio_cell(uni_rate, tps, "pgbench tps"))
        if bare_rate:
            add("2 transfers", "vs the bare posting", "", ratio_cell(uni_rate, bare_rate, "(8)"))
        add("2 transfers", "p50 / p99 latency (ms)", f"{uni['p50_ms']} / {uni['p99_ms']}")
        add("2 transfers", "errors / refused", f"{uni['errors']} / {uni['refused']}")
        add("2 transfers", "ledger verify", _verify_cell(uni))
    if not failed("3_hot_account"):
        hot = phases["3_hot_account"]
        add(
            "3 hot account",
            "transfers/s",
            hot["per_second"],
            ratio_cell(hot["per_second"], uni_rate, "(2)"),
        )
        add("3 hot account", "vs pgbench", "", ratio_cell(hot["per_second"], tps, "pgbench tps"))
        add("3 hot account", "p50 / p99 latency (ms)", f"{hot['p50_ms']} / {hot['p99_ms']}")
        add("3 hot account", "errors / refused", f"{hot['errors']} / {hot['refused']}")
        add("3 hot account", "ledger verify", _verify_cell(hot))
    if "11_mix" in phases and not failed("11_mix"):
        mix = phases["11_mix"]
        add(
            "11 mix",
            "operations/s (70% transfers, 20% bills, 10% card auths)",
            mix["per_second"],
            ratio_cell(mix["per_second"], tps, "pgbench tps"),
        )
        if uni_rate:
            add("11 mix", "vs transfers alone", "", ratio_cell(mix["per_second"], uni_rate, "(2)"))
        add("11 mix", "p50 / p99 latency (ms)", f"{mix['p50_ms']} / {mix['p99_ms']}")
        add("11 mix", "errors / refused", f"{mix['errors']} / {mix['refused']}")
        add("11 mix", "ledger verify", _verify_cell(mix))
    if "9_statements" in phases and not failed("9_statements"):
        st = phases["9_statements"]
        add("9 statements", "statements per transfer", st["statements_per_transfer"])
        add("9 statements", "round trips per transfer", st["round_trips_per_transfer"])
        add(
            "9 statements",
            "wallet lock hold p50 / p99 (ms, no contention)",
            f"{st['lock_hold_p50_ms']} / {st['lock_hold_p99_ms']}",
        )
    if "12_cpu" in phases and not failed("12_cpu"):
        cpu = phases["12_cpu"]
        tpcb = (phases.get("1_baseline") or {}).get("cpu") or {}
        tpcb_ms = tpcb.get("backend_ms") if tpcb.get("available") else None
        if tpcb_ms:
            add("12 cpu", "TPC-B transaction: backend CPU (ms)", tpcb_ms)
        for key, label in (
            ("bare_posting", "bare posting"),
            ("bare_posting_without_limits", "bare posting, no KYC limits"),
            ("bare_posting_stripped", "bare posting, no FKs/non-unique indexes"),
            ("service", "service transfer"),
        ):
            part = cpu.get(key) or {"reason": "not measured"}
            if not part.get("available"):
                add("12 cpu", f"{label}: CPU", "UNAVAILABLE: " + part.get("reason", ""))
                continue
            add(
                "12 cpu",
                f"{label}: backend CPU (ms)",
                part["backend_ms"],
                ratio_cell(part["backend_ms"], tpcb_ms, "TPC-B"),
            )
            if key in ("bare_posting", "service"):
                add("12 cpu", f"{label}: client CPU (ms)", part["client_ms"])
    if not failed("4_registration"):
        reg = phases["4_registration"]
        hashing = reg["hashing"]
        add(
            "4 registration",
            "registrations/s",
            reg["per_second"],
            ratio_cell(reg["per_second"], uni_rate, "(2)"),
        )
        add("4 registration", "p50 / p99 latency (ms)", f"{reg['p50_ms']} / {reg['p99_ms']}")
        add("4 registration", "errors / refused", f"{reg['errors']} / {reg['refused']}")
        add("4 registration", "hash_password ms/call (1 process)", hashing["ms_per_call"])
        add(
            "4 registration",
            f"hashing ceiling ({hashing['cores']} cores / hash)",
            hashing["ceiling_per_second"],
            ratio_cell(reg["per_second"], hashing["ceiling_per_second"], "ceiling (reg/s)"),
        )
        add("4 registration", "share of CPU spent hashing", f"{reg['hashing_cpu_share']:.0%}")
        add("4 registration", "ledger verify", _verify_cell(reg))
    flask_rate = None
    if "10_bare_flask" in phases and not failed("10_bare_flask"):
        flask = phases["10_bare_flask"]
        flask_rate = flask["per_second"]
        add(
            "10 bare flask",
            "3-request sequences/s (Procfile gunicorn)",
            flask_rate,
            ratio_cell(flask_rate, tps, "pgbench tps"),
        )
        add(
            "10 bare flask",
            "sequence p50 / p99 (ms)",
            f"{flask['sequence_p50_ms']} / {flask['sequence_p99_ms']}",
        )
        add("10 bare flask", "errors", flask["errors"])
    if not failed("5_http"):
        web = phases["5_http"]
        add(
            "5 http",
            "browser transfers/s",
            web["per_second"],
            ratio_cell(web["per_second"], tps, "pgbench tps"),
        )
        if flask_rate:
            add(
                "5 http",
                "vs the bare-Flask ceiling",
                "",
                ratio_cell(web["per_second"], flask_rate, "(10)"),
            )
        add(
            "5 http",
            "3-request sequence p50 / p99 (ms)",
            f"{web['sequence_p50_ms']} / {web['sequence_p99_ms']}",
        )
        add(
            "5 http",
            "confirm POST p50 / p99 (ms)",
            f"{web['confirm_p50_ms']} / {web['confirm_p99_ms']}",
        )
        add("5 http", "errors", web["errors"])
        add("5 http", "ledger verify", _verify_cell(web))
    if not failed("6_growth"):
        for point in phases["6_growth"]["curve"]:
            n = f"{point['customer_entries']:,} entries"
            add("6 growth", f"{n}: build (s)", point["build_seconds"])
            add(
                "6 growth",
                f"{n}: /dashboard p50 / p95 (ms)",
                f"{point['dashboard']['p50_ms']} / {point['dashboard']['p95_ms']}",
            )
            add(
                "6 growth",
                f"{n}: /dashboard/history p50 / p95 (ms)",
                f"{point['history']['p50_ms']} / {point['history']['p95_ms']}",
            )
            add(
                "6 growth",
                f"{n}: small customer /dashboard p50 (ms)",
                point["small_customer_dashboard"]["p50_ms"],
            )
            if "verify" in point:
                v = point["verify"]
                status = "ok" if v["ok"] else f"{len(v['problems'])} PROBLEMS"
                add(
                    "6 growth",
                    f"{n}: ledger verify (s)",
                    f"{v['seconds']:.2f} ({status}, {v['ledger_entries']:,} ledger entries)",
                )
        add("6 growth", "ledger verify", _verify_cell(phases["6_growth"]))
    if not failed("7_cards"):
        cards = phases["7_cards"]
        add(
            "7 cards",
            f"authorisation p50 / p99 / max (ms, {cards['requests']:,} sequential)",
            f"{cards['p50_ms']} / {cards['p99_ms']} / {cards['max_ms']}",
        )
        add("7 cards", "decisions", ", ".join(f"{k} {v}" for k, v in cards["outcomes"].items()))
        add("7 cards", "ledger verify", _verify_cell(cards))
    return rows


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    header = ("phase", "figure", "value", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    previous = None
    for row in rows:
        if previous is not None and row[0] != previous:
            print()
        previous = row[0]
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
