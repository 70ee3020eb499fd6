"""The `Idempotency-Key` header: Stripe's contract on every mutating endpoint.

A key is any 1 to 255 printable characters, scoped to the caller and the operation: the same key
on two operations names two requests. The services store keys of their own form, so the header
is turned into one (`key`): a SHA-256 of the operation and the header, which also keeps a long
key from ever reaching a column whole. The fingerprint the services take is of their own
canonical arguments, after both body shapes an endpoint accepts are mapped to one request, so
the same request in either shape replays.

The same key and body get the first response (status and body) for 24 hours, marked with
`Idempotent-Replayed: true`; the same key with another body is 422; a twin still in flight
is 409. A refused request (4xx from a business rule) stores nothing, so its key may be retried,
as a refused page form may be resubmitted.

Transfers and bills pass `replayable(...)` down to their service, which claims the key and
stores the response in the same transaction as the money movement. Endpoints whose service
takes no key go through `once`, which claims before and stores after (lumipay.idempotency).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from flask import request
from werkzeug.wrappers import Response

from lumipay.api.problems import Problem
from lumipay.api.routing import json_response
from lumipay.idempotency import service as idempotency

HEADER = "Idempotency-Key"
MAX_KEY = 255
PATTERN = r"^[\x20-\x7e]{1,255}$"
_PRINTABLE = re.compile(PATTERN)


def key(operation: str) -> str:
    """The caller's key for `operation`, in the services' key form."""
    value = request.headers.get(HEADER)
    if not value:
        raise Problem(
            "idempotency-key-required", f"Send an {HEADER} header (1 to {MAX_KEY} characters)."
        )
    if not _PRINTABLE.match(value):
        message = f"Use 1 to {MAX_KEY} printable characters (a UUID works)."
        raise Problem("validation-error", message, errors=[{"field": HEADER, "message": message}])
    return service_key(operation, value)


def service_key(operation: str, value: str) -> str:
    """The header's key for `operation` as the services store it (64 of their characters)."""
    digest = hashlib.sha256(f"{operation}\0{value}".encode()).hexdigest()
    return f"api-{digest[:60]}"


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
