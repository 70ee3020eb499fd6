"""`make stack`: the Procfile's web, worker and scheduler together under honcho, on the local
PostgreSQL and Redis, as the deploy runs them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

from tests.integration.helpers.bills import ROOT, wait_for, worker_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), response.read().decode()
    except OSError:
        return 0, {}, ""


def test_make_stack_runs_web_worker_and_scheduler_together(ctx, redis_clean):  # type: ignore[no-untyped-def]
    recipe = (ROOT / "Makefile").read_text().split("\nstack:", 1)[1].split("\n\n", 1)[0]
    assert "honcho start web worker scheduler" in recipe
    port = free_port()
    bin_dir = os.path.dirname(sys.executable)
    env = worker_env(PORT=str(port), WEB_CONCURRENCY="1", PATH=f"{bin_dir}:{os.environ['PATH']}")
    stack = subprocess.Popen(
        [os.path.join(bin_dir, "honcho"), "start", "web", "worker", "scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _, headers, body = wait_for(
            lambda: (answer := get(f"{base}/healthz"))[0] == 200 and answer,
            timeout=90,
            what="the web process to answer /healthz",
        )
        assert '"redis":"ok"' in body.replace(" ", "") and headers["X-Request-ID"]
        wait_for(
            lambda: "lumipay_rq_workers 1.0" in get(f"{base}/metrics")[2],
            timeout=60,
            what="the worker to register",
        )
        wait_for(
            lambda: redis_clean.keys("rq:cron_scheduler:*"),
            timeout=60,
            what="the scheduler to register its cron jobs",
        )
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        output, _ = stack.communicate(timeout=60)
    # Each process ran, and the access log names the request id it answered with.
    for name in ("web.1", "worker.1", "scheduler.1"):
        assert re.search(rf"{re.escape(name)}\s+\|", output), output[-3000:]
    # The access log is the app's own JSON line (paths scrubbed), with the request's id.
    assert f'"request_id": "{headers["X-Request-ID"]}"' in output, output[-3000:]
