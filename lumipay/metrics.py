"""Prometheus metrics: requests, jobs, provider calls, webhook outcomes, queues, the outbox.

Web and worker are separate processes, so job outcomes and provider calls (made by jobs) are
counted in Redis (one hash shared by every worker) when Redis is configured, and in this process
otherwise. Queue depth, failed jobs, workers and the outbox backlog and age are read at scrape
time. Gauges about the domain's own tables (money in flight, stuck bills and payouts,
reconciliation exceptions, ledger verification) are registered by the app factory with
`add_gauge_source`, so this module never imports the domains above it.

deploy/prometheus/lumipay.rules.yml alerts on these series and deploy/grafana/ charts them;
tests/integration/test_observability.py checks that every series they name is exported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from flask import has_app_context
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from lumipay import settings
from lumipay.extensions import QUEUE_NAMES, redis_connection

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
JOBS_KEY = "lumipay:metrics:jobs"
PROVIDERS_KEY = "lumipay:metrics:providers"
# Around the card issuer's 2 s authorisation deadline, finer than the client's defaults.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)

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
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
card_authorisations = Histogram(
    "lumipay_card_authorisation_seconds",
    "Time from receiving a card authorisation request to answering it, by decision.",
    ["approved"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
webhooks = Counter(
    "lumipay_webhooks",
    "Webhook deliveries by channel and outcome (accepted, forged, stale, replayed, malformed).",
    ["channel", "outcome"],
    registry=REGISTRY,
)
_local: dict[str, dict[str, float]] = {JOBS_KEY: {}, PROVIDERS_KEY: {}}

GaugeSource = Callable[[], Iterable[GaugeMetricFamily]]
_gauge_sources: list[GaugeSource] = []


def add_gauge_source(source: GaugeSource) -> None:
    """Register a function that yields gauges computed at scrape time (in the app context)."""
    if source not in _gauge_sources:
        _gauge_sources.append(source)


# The outbox registers how to read its backlog: (unpushed count, oldest unpushed age in seconds).
_backlog_sources: list[Callable[[], tuple[int, float]]] = []


def set_backlog_source(source: Callable[[], tuple[int, float]]) -> None:
    """Register the outbox's backlog reader (the jobs layer sits above this module)."""
    _backlog_sources[:] = [source]


def _add(key: str, increments: dict[str, float]) -> None:
    """Add to shared counters: Redis when configured (every process sees them), else here."""
    if has_app_context() and settings.core().redis_url:
        try:
            with redis_connection().pipeline(transaction=False) as pipe:
                for field, amount in increments.items():
                    pipe.hincrbyfloat(key, field, amount)
                pipe.execute()
            return
        except Exception:
            log.warning("could not count in Redis", exc_info=True, extra={"key": key})
    counts = _local[key]
    for field, amount in increments.items():
        counts[field] = counts.get(field, 0) + amount


def job_finished(name: str, outcome: str) -> None:
    """Count one job run (`processed` or `failed`)."""
    _add(JOBS_KEY, {f"{name}|{outcome}": 1})


def provider_called(provider: str, operation: str, outcome: str, seconds: float) -> None:
    """Count one call to a provider: `outcome` is the answer (succeeded, failed, pending) or
    `error` when there was none (timeout, refused connection, 5xx, garbage)."""
    _add(
        PROVIDERS_KEY,
        {
            f"{provider}|{operation}|{outcome}|count": 1,
            f"{provider}|{operation}||seconds": seconds,
        },
    )


class _BackgroundCollector(Collector):
    """Jobs, provider calls, queues, workers and the outbox, read when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        jobs = CounterMetricFamily(
            "lumipay_jobs",
            "Jobs run, by job and outcome (processed, failed).",
            labels=["job", "outcome"],
        )
        calls = CounterMetricFamily(
            "lumipay_provider_calls",
            "Calls to providers by provider, operation and outcome "
            "(succeeded, failed, pending; error when there was no answer).",
            labels=["provider", "operation", "outcome"],
        )
        call_seconds = SummaryMetricFamily(
            "lumipay_provider_call_seconds",
            "Time spent in provider calls.",
            labels=["provider", "operation"],
        )
        depth = GaugeMetricFamily(
            "lumipay_queue_depth", "Jobs waiting per queue.", labels=["queue"]
        )
        failed = GaugeMetricFamily(
            "lumipay_queue_failed",
            "Jobs per queue that failed with no retry left (RQ's failed job registry).",
            labels=["queue"],
        )
        workers = GaugeMetricFamily("lumipay_rq_workers", "RQ workers alive (registered).")
        backlog = GaugeMetricFamily(
            "lumipay_outbox_unpushed", "Outbox messages committed but not yet pushed to Redis."
        )
        age = GaugeMetricFamily(
            "lumipay_outbox_oldest_unpushed_seconds",
            "Age of the oldest outbox message not yet pushed (0 when none).",
        )
        shared = {JOBS_KEY: dict(_local[JOBS_KEY]), PROVIDERS_KEY: dict(_local[PROVIDERS_KEY])}
        extra: list[GaugeMetricFamily] = []
        if has_app_context():
            for key, values in self._redis_side(depth, failed, workers).items():
                shared[key].update(values)
            for read_backlog in _backlog_sources:
                try:
                    count, oldest = read_backlog()
                    backlog.add_metric([], count)
                    age.add_metric([], oldest)
                except Exception:
                    log.warning("could not read the outbox backlog", exc_info=True)
            for source in _gauge_sources:
                try:
                    extra.extend(source())
                except Exception:
                    log.warning("a gauge source failed", exc_info=True)
        for field, value in sorted(shared[JOBS_KEY].items()):
            name, _, outcome = field.partition("|")
            jobs.add_metric([name, outcome], value)
        _provider_families(shared[PROVIDERS_KEY], calls, call_seconds)
        yield from (jobs, calls, call_seconds, depth, failed, workers, backlog, age, *extra)

    @staticmethod
    def _redis_side(
        depth: GaugeMetricFamily, failed: GaugeMetricFamily, workers: GaugeMetricFamily
    ) -> dict[str, dict[str, float]]:
        if not settings.core().redis_url:
            return {}
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry

        connection = redis_connection()
        try:
            for name in QUEUE_NAMES:
                depth.add_metric([name], Queue(name, connection=connection).count)
                failed.add_metric([name], FailedJobRegistry(name, connection=connection).count)
            workers.add_metric([], Worker.count(connection=connection))
            raw = {key: connection.hgetall(key) for key in (JOBS_KEY, PROVIDERS_KEY)}
        except Exception:
            log.warning("could not read queue metrics from Redis", exc_info=True)
            return {}
        return {
            key: {_text(field): float(value) for field, value in values.items()}
            for key, values in raw.items()
        }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _provider_families(
    values: dict[str, float], calls: CounterMetricFamily, seconds: SummaryMetricFamily
) -> None:
    totals: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], float] = {}
    for field, value in sorted(values.items()):
        provider, operation, outcome, kind = field.split("|")
        if kind == "count":
            calls.add_metric([provider, operation, outcome], value)
            counts[(provider, operation)] = counts.get((provider, operation), 0) + value
        else:
            totals[(provider, operation)] = value
    for labels, count in sorted(counts.items()):
        seconds.add_metric(list(labels), count_value=int(count), sum_value=totals.get(labels, 0.0))


REGISTRY.register(_BackgroundCollector())
