"""The `Idempotency-Key` header: Stripe's contract on every mutating endpoint.

The same key and body get the first response (status and body) for 24 hours, marked with
`Idempotent-Replayed: true`; the same key with another body is 422; a twin still in flight
is 409. A refused request (4xx from a business rule) stores nothing, so its key may be retried,
as a refused page form may be resubmitted.

Transfers and bills pass `replayable(...)` down to their service, which claims the key and
stores the response in the same transaction as the money movement. Endpoints whose service
takes no key go through `once`, which claims before and stores after (lumipay.idempotency).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from lumipay.api.problems import Problem
from lumipay.api.routing import json_response
from lumipay.idempotency import service as idempotency

HEADER = "Idempotency-Key"


def key() -> str:
    value = request.headers.get(HEADER)
    if not value:
        raise Problem("idempotency-key-required", f"Send an {HEADER} header (16 to 64 characters).")
    if not idempotency.KEY_PATTERN.match(value):
        message = "Use 16 to 64 letters, digits, '-' or '_' (a UUID works)."
        raise Problem("validation-error", message, errors=[{"field": HEADER, "message": message}])
    return value


def problem_for(exc: idempotency.IdempotencyError) -> Problem:
    if isinstance(exc, idempotency.KeyReused):
        return Problem("idempotency-key-reused")
    if isinstance(exc, idempotency.RequestInFlight):
        return Problem("request-in-flight")
    return Problem(
        "validation-error", exc.message, errors=[{"field": HEADER, "message": exc.message}]
    )


def replay_or(
    user_id: int, key_: str, replayed: bool, build: Callable[[], tuple[int, dict[str, Any]]]
) -> Response:
    """The stored response for the key (first or repeat), else a freshly built one (a key a
    page used first has no stored response)."""
    stored = idempotency.stored_response(user_id, key_)
    if stored is not None:
        return json_response(stored.status, stored.body, replayed=replayed)
    status, body = build()
    return json_response(status, body, replayed=replayed)


def once(
    user_id: int,
    key_: str,
    scope: str,
    payload: dict[str, Any],
    run: Callable[[], tuple[int, dict[str, Any]]],
) -> Response:
    """Run `run` once for the key and keep its response; replay it to repeats."""
    try:
        stored = idempotency.begin_request(user_id, key_, scope, payload)
    except idempotency.IdempotencyError as exc:
        raise problem_for(exc) from None
    if stored is not None:
        return json_response(stored.status, stored.body, replayed=True)
    try:
        status, body = run()
    except BaseException:
        idempotency.abandon_request(user_id, key_)
        raise
    idempotency.finish_request(user_id, key_, status, body)
    return json_response(status, body)
