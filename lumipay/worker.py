"""`python -m lumipay.worker`: an RQ worker whose jobs run inside the Flask app context.

SimpleWorker runs jobs in its own process: a forked work horse would inherit the parent's
database connections, which must never be shared across processes.
"""

from __future__ import annotations

from rq import SimpleWorker

from lumipay import create_app
from lumipay.jobs.queue import QUEUE_NAMES, redis_connection


def main() -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run in the web process.")
    with app.app_context():
        SimpleWorker(list(QUEUE_NAMES), connection=redis_connection()).work(with_scheduler=True)


if __name__ == "__main__":
    main()
