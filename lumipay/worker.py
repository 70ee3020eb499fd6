"""`python -m lumipay.worker`: an RQ worker whose jobs run inside the Flask app context.

SimpleWorker runs jobs in its own process: a forked work horse would inherit the parent's
database connections, which must never be shared across processes. `--burst` drains the
queues and exits (tests, one-off catch-up).
"""

from __future__ import annotations

import sys
from typing import Any

from rq import SimpleWorker

from lumipay import create_app, requestid
from lumipay.extensions import QUEUE_NAMES, db, redis_connection


class AppWorker(SimpleWorker):
    """Runs each job in the worker's app context and leaves a clean database session behind.

    The app context lives as long as the process, so without this one job's session (and any
    failed transaction in it) would be the next job's. The job runs under the request id its
    outbox message carried (a scheduled job without one starts a chain of its own), so its log
    lines, Sentry events, provider calls and the jobs it queues in turn all carry it.
    """

    def perform_job(self, job: Any, *args: Any, **kwargs: Any) -> bool:
        try:
            with requestid.bound((job.meta or {}).get("request_id")):
                return super().perform_job(job, *args, **kwargs)
        finally:
            db.session.remove()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run in the web process.")
    queues = [name for name in args if not name.startswith("-")] or list(QUEUE_NAMES)
    with app.app_context():
        worker = AppWorker(queues, connection=redis_connection())
        worker.work(burst="--burst" in args, with_scheduler=True)


if __name__ == "__main__":
    main()
