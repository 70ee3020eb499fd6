"""When a provider's "not found" means "send it again": the one rule for every provider call.

A provider records a request some time after it arrives: its own retry window, the time within
which it may still answer a requery of a request id it has accepted with "not found" (VTpass asks
callers to requery for a few minutes; a bank's payout shows up once its switch has logged it).
So a re-run of a call that was sent (a worker killed mid-call, a job run twice) and hears "not
found" within that window waits and requeries instead of sending again; only past the window does
"not found" mean the request never arrived. Bills and payouts both go through `requery_first`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from lumipay import settings
from lumipay.database import as_utc, utcnow
from lumipay.providers.bills import Outcome


class _Answer(Protocol):
    @property
    def outcome(self) -> Outcome: ...


A = TypeVar("A", bound=_Answer)

NOT_YET_KNOWN = "Not yet known to the provider; asking again shortly."


def retry_window(provider: object) -> timedelta:
    """The provider's own retry window: `retry_window_seconds` on its adapter, else
    `PROVIDER_RETRY_WINDOW`."""
    seconds = getattr(provider, "retry_window_seconds", None)
    if seconds is None:
        seconds = settings.jobs().provider_retry_window
    return timedelta(seconds=int(seconds))


def may_send_again(provider: object, sent_at: datetime | None, now: datetime | None = None) -> bool:
    """True when a request the provider says it has never seen may be sent again: it was never
    sent, or it was sent longer ago than the provider's retry window."""
    if sent_at is None:
        return True
    return (now or utcnow()) - as_utc(sent_at) >= retry_window(provider)


def requery_first(
    provider: object,
    sent_at: datetime | None,
    requery: Callable[[], A],
    send: Callable[[], A],
    pending: A,
) -> A:
    """A re-run of a call already sent: `requery` it; when the provider has never heard of it,
    `send` it again only if `may_send_again`, else answer `pending` (the caller requeries on
    its own schedule)."""
    answer = requery()
    if answer.outcome != Outcome.NOT_FOUND:
        return answer
    return send() if may_send_again(provider, sent_at) else pending
