"""Background jobs: RQ on Redis when REDIS_URL is set, in-process otherwise.

Nothing enqueues directly: a use case writes an outbox row (`lumipay.jobs.outbox.add`) in its
own transaction, and the row is handed to `push` once that transaction has committed.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, cast

from flask.globals import app_ctx
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from lumipay import metrics, requestid, settings
from lumipay.extensions import redis_connection

log = logging.getLogger(__name__)

JOB_TIMEOUT = 120
# How long RQ remembers a finished job, and so refuses the same outbox message again.
DONE_TTL = 24 * 3600

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection(), default_timeout=JOB_TIMEOUT)


def resolve(path: str) -> Callable[..., Any]:
    """The job function named by its dotted path (only functions under `lumipay.`)."""
    if not path.startswith("lumipay."):
        raise ValueError(f"Not a Lumipay job: {path}")
    module, _, name = path.rpartition(".")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return found


def push(
    message_id: int,
    queue_name: str,
    func: str,
    args: list[Any],
    delay: int,
    request_id: str | None = None,
) -> None:
    """Hand one outbox message to RQ. Raises a redis error when Redis is unreachable.

    The request id that wrote the message travels in the job's meta (`request_id`); the worker
    binds it around the job (lumipay.worker), so the job's logs and provider calls carry it.

    The job id is derived from the message and RQ is asked to keep it unique, so a message
    pushed a second time (a crash between a push and its mark) is refused by RQ while the
    first job is known to it (queued, scheduled, running, or finished within a day), instead
    of being queued twice for two workers; handlers are idempotent besides.
    """
    q = queue(queue_name)
    # An exception (the database restarting, a worker killed mid-job) is retried with backoff;
    # provider answers are never exceptions, they are requeried on the bill's own schedule.
    backoff: list[int] = settings.jobs().retry_backoff
    options: dict[str, Any] = {
        "job_id": f"outbox-{message_id}",
        "unique": True,
        "retry": Retry(max=len(backoff), interval=backoff),
        "result_ttl": DONE_TTL,
        "failure_ttl": 7 * 24 * 3600,
        "meta": {"request_id": request_id} if request_id else {},
    }
    try:
        if delay > 0:
            q.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        else:
            q.enqueue(func, *args, **options)
    except DuplicateJobError:
        log.info("job already with RQ, not pushed again", extra={"outbox_id": message_id})


def run_in_process(func: str, args: list[Any], delay: int, request_id: str | None = None) -> None:
    """The embedded default: run the job here, now, or after `delay` seconds on a timer thread."""
    target = resolve(func)
    if delay <= 0:
        with requestid.bound(request_id or requestid.current()):
            target(*args)
        return
    app = app_ctx.app

    def later() -> None:
        with app.app_context(), requestid.bound(request_id):
            target(*args)

    timer = threading.Timer(delay, later)
    timer.daemon = True
    timer.start()


def job(func: F) -> F:
    """Mark a function as a job: count its outcome (processed or failed) and log a failure."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = func.__name__
        try:
            result = func(*args, **kwargs)
        except BaseException:
            metrics.job_finished(name, "failed")
            log.exception("job failed", extra={"job": name, "job_args": list(args)})
            raise
        metrics.job_finished(name, "processed")
        return result

    return cast(F, wrapper)


def job_for(use_case: Callable[P, R], module: str, name: str) -> Callable[P, R]:
    """A domain's use case run as a job called `module.name`: the dotted name the outbox, the
    worker and the cron schedule know it by, so bind it to `name` in `module`
    (`submit_bill = job_for(service.submit, __name__, "submit_bill")`)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return use_case(*args, **kwargs)

    run.__module__ = module
    run.__name__ = run.__qualname__ = name
    run.__doc__ = use_case.__doc__
    return job(run)
