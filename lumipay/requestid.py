"""One request id per chain of work: a request, the jobs it queues, their provider calls.

The id lives in a context variable, so whatever runs on behalf of a request (a log line, a Sentry
event, an outbox message, an HTTP call to a provider) reads the same value without being handed
it. The web layer binds it per request (a valid incoming `X-Request-ID` or a fresh one), the
outbox stores it on each message and the worker binds it again around the job.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
# What we accept from a client or a proxy: short, and nothing that could forge a log line.
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")

_current: ContextVar[str | None] = ContextVar("lumipay_request_id", default=None)


def new_request_id() -> str:
    """120 random bits in lower-case base32: no long runs of digits a scrubber would mask."""
    return base64.b32encode(os.urandom(15)).decode().lower()


def valid(value: str | None) -> bool:
    return bool(value) and _VALID.match(value or "") is not None


def accept(incoming: str | None) -> str:
    """The caller's id when it is well formed, otherwise a fresh one."""
    return incoming if incoming is not None and valid(incoming) else new_request_id()


def current() -> str | None:
    """The id of the chain this code runs in, if any."""
    return _current.get()


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[str]:
    """Run the block as part of `request_id`'s chain (a fresh chain when None or malformed)."""
    value = accept(request_id)
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)


def outgoing_headers() -> dict[str, str]:
    """Headers for a call to a provider, so their logs can be matched to ours."""
    value = _current.get()
    return {HEADER: value} if value else {}


def start(request_id: str | None) -> tuple[str, Token[str | None]]:
    """Bind an id until `stop` (a request's before/teardown hooks); returns it and a token."""
    value = accept(request_id)
    return value, _current.set(value)


def stop(token: Token[str | None]) -> None:
    """Unbind what `start` bound; a token from another context (a response streamed after
    the request's context moved on) just clears the id."""
    try:
        _current.reset(token)
    except ValueError:
        _current.set(None)
