"""Background jobs: RQ on Redis when REDIS_URL is set, in-process otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from redis import Redis
from rq import Queue

QUEUE_NAMES = ("default",)


def redis_connection() -> Redis:
    """One Redis client per app, made on first use."""
    client = current_app.extensions.get("lumipay_redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        current_app.extensions["lumipay_redis"] = client
    return client


def enqueue(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run `func` on a worker when Redis is configured, else right here.

    Call it only after the transaction that the job reads has committed.
    """
    if not current_app.config.get("REDIS_URL"):
        return func(*args, **kwargs)
    return Queue("default", connection=redis_connection()).enqueue(func, *args, **kwargs)
