"""Every call to a provider that moves money goes through `ask`: no exception escapes it, and
each call is counted by provider, operation and outcome, with its time, for /metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from lumipay import metrics

log = logging.getLogger(__name__)

Result = TypeVar("Result")


def ask(
    call: Callable[[Any], Result],
    request: Any,
    no_answer: Callable[[str], Result],
    *,
    provider: str | None = None,
    operation: str | None = None,
    **log_fields: Any,
) -> Result:
    """`call(request)`; an error (timeout, refused connection, 5xx, bad JSON) is logged and
    becomes `no_answer(message)` — a pending result the caller requeries, never a failure.

    `provider` and `operation` name the call for /metrics; by default the adapter's `name` and
    the method's name."""
    provider = provider or str(getattr(getattr(call, "__self__", None), "name", "unknown"))
    operation = operation or str(getattr(call, "__name__", "call"))
    started = time.perf_counter()
    try:
        result = call(request)
    except Exception as exc:
        metrics.provider_called(provider, operation, "error", time.perf_counter() - started)
        log.warning(
            "provider gave no clear answer",
            extra={**log_fields, "provider": provider, "error": f"{type(exc).__name__}: {exc}"},
        )
        return no_answer("No answer from the provider yet.")
    outcome = getattr(result, "outcome", None)
    metrics.provider_called(
        provider, operation, str(getattr(outcome, "value", outcome)), time.perf_counter() - started
    )
    return result
