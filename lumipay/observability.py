"""Structured JSON logs to stdout (every line scrubbed), the access log, the request id of every
request, and the /metrics endpoint.

Every line goes through `lumipay.scrub`: the message, each extra field and the traceback. The
access log is written here rather than by gunicorn, so its paths are scrubbed too (a reset link
is `/auth/reset/[REDACTED]`).

Each request gets one id (a valid incoming `X-Request-ID`, else a fresh one), bound for as long
as the request runs: it is on every log line, every Sentry event, every outbox message the
request writes (and so every job and provider call that follows), in the `X-Request-ID`
response header and on error pages and problem documents, where a customer can quote it.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lumipay import metrics, requestid, settings
from lumipay.providers import signing
from lumipay.scrub import scrub_data, scrub_text

access_log = logging.getLogger("lumipay.access")

bp = Blueprint("observability", __name__)

# Attributes every LogRecord has; anything else was passed in `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        extra = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        }
        entry.update(scrub_data(extra))
        current = requestid.current()
        if current and "request_id" not in entry:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = scrub_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=lambda value: scrub_text(str(value)))


HANDLER_NAME = "lumipay-json"  # ours, so a second configure_logging adds no second one


def configure_logging(level: int = logging.INFO) -> None:
    """Send the app's logs (and RQ's) to stdout as JSON lines, once per process."""
    for name in ("lumipay", "rq"):
        logger = logging.getLogger(name)
        if any(h.get_name() == HANDLER_NAME for h in logger.handlers):
            continue
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JSONFormatter())
        handler.set_name(HANDLER_NAME)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def init_app(app: Flask) -> None:
    configure_logging()
    app.register_blueprint(bp)

    # First of all before_request hooks, so even a request refused early has its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)

    @app.teardown_request
    def end_request(_error: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            requestid.stop(token)

    @app.context_processor
    def request_id_in_templates() -> dict[str, str | None]:
        return {"request_id": requestid.current()}

    @app.after_request
    def count_request(response: Response) -> Response:
        current = requestid.current()
        if current:
            response.headers[requestid.HEADER] = current
        endpoint = request.endpoint or "unmatched"
        metrics.http_requests.labels(request.method, endpoint, str(response.status_code)).inc()
        started = g.get("request_started")
        elapsed = time.perf_counter() - started if started is not None else 0.0
        if started is not None:
            metrics.http_latency.labels(endpoint).observe(elapsed)
        access_log.info(
            "%s %s %s",
            request.method,
            request.full_path.rstrip("?"),
            response.status_code,
            extra={
                "client": request.remote_addr,
                "duration_ms": round(elapsed * 1000, 1),
                "user_agent": (request.user_agent.string or "")[:200],
            },
        )
        return response


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id, g.request_id_token = requestid.start(request.headers.get(requestid.HEADER))


@bp.route("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format; behind `Authorization: Bearer $METRICS_TOKEN` when that is set."""
    token = settings.observability().metrics_token
    if token:
        presented = request.headers.get("Authorization", "")
        if not signing.same(f"Bearer {token}", presented):
            abort(401)
    return Response(generate_latest(metrics.REGISTRY), mimetype=CONTENT_TYPE_LATEST)
