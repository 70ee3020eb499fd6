"""Prometheus metrics: requests, jobs, webhook outcomes, queue depth.

Web and worker are separate processes, so job outcomes are counted in Redis (one hash shared
by every worker) when Redis is configured, and in this process otherwise. Queue depth and the
outbox backlog are read at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import current_app, has_app_context
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
JOBS_KEY = "lumipay:metrics:jobs"

http_requests = Counter(
    "lumipay_http_requests",
    "HTTP requests answered, by endpoint and status.",
    ["method", "endpoint", "status"],
    registry=REGISTRY,
)
http_latency = Histogram(
    "lumipay_http_request_seconds",
    "Time to answer an HTTP request.",
    ["endpoint"],
    registry=REGISTRY,
)
webhooks = Counter(
    "lumipay_webhooks",
    "Webhook deliveries by channel and outcome (accepted, forged, stale, replayed, malformed).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
_local_jobs: dict[tuple[str, str], int] = {}


def job_finished(name: str, outcome: str) -> None:
    """Count one job run (`processed` or `failed`)."""
    if has_app_context() and current_app.config.get("REDIS_URL"):
        from lumipay.jobs.queue import redis_connection

        try:
            redis_connection().hincrby(JOBS_KEY, f"{name}|{outcome}", 1)
            return
        except Exception:
            log.warning("could not count a job in Redis", exc_info=True)
    _local_jobs[(name, outcome)] = _local_jobs.get((name, outcome), 0) + 1


class _BackgroundCollector(Collector):
    """Job counts, queue depths and the outbox backlog, read when Prometheus scrapes."""

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        jobs = CounterMetricFamily(
            "lumipay_jobs",
            "Jobs run, by job and outcome (processed, failed).",
            labels=["job", "outcome"],
        )
        depth = GaugeMetricFamily(
            "lumipay_queue_depth", "Jobs waiting per queue.", labels=["queue"]
        )
        backlog = GaugeMetricFamily(
            "lumipay_outbox_unpushed", "Outbox messages committed but not yet pushed to Redis."
        )
        counts = dict(_local_jobs)
        if has_app_context():
            counts.update(self._redis_side(depth))
            from lumipay.jobs.outbox import unpushed_count

            try:
                backlog.add_metric([], unpushed_count())
            except Exception:
                log.warning("could not count the outbox backlog", exc_info=True)
        for (name, outcome), value in sorted(counts.items()):
            jobs.add_metric([name, outcome], value)
        yield jobs
        yield depth
        yield backlog

    @staticmethod
    def _redis_side(depth: GaugeMetricFamily) -> dict[tuple[str, str], int]:
        if not current_app.config.get("REDIS_URL"):
            return {}
        from lumipay.jobs.queue import QUEUE_NAMES, queue, redis_connection

        try:
            for name in QUEUE_NAMES:
                depth.add_metric([name], queue(name).count)
            raw = redis_connection().hgetall(JOBS_KEY)
        except Exception:
            log.warning("could not read queue metrics from Redis", exc_info=True)
            return {}
        counts: dict[tuple[str, str], int] = {}
        for field, value in raw.items():
            name, _, outcome = field.decode().partition("|")
            counts[(name, outcome)] = int(value)
        return counts


REGISTRY.register(_BackgroundCollector())
