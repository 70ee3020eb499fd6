"""Receive and process provider webhooks.

`receive` verifies a delivery (signature, time window, event id never seen), stores it raw and
writes the processing job to the outbox, all in one transaction; it never touches money.
`process_event` (a job) hands the stored event to its channel's handler in one transaction, and
is a no-op for an event already processed.

A few event types must be answered in the HTTP response itself (a card authorisation: the
issuer waits for approve or decline). Those go to their SYNC_HANDLERS entry inside the same
transaction that stores them, and a repeat of the same event id gets the first answer back
instead of being refused as a replay.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from lumipay import jsonsafe, metrics, settings
from lumipay.database import locked_one, run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.jobs import outbox
from lumipay.jobs.queue import job
from lumipay.providers import moniepoint, signing
from lumipay.providers.signing import WebhookRejected
from lumipay.webhooks.models import WebhookEvent

log = logging.getLogger(__name__)

CHANNELS = ("bills", "bank", "cards")
WINDOW_SECONDS = 300
# The use case each channel's events go to: handler(event_type, data) -> outcome or None.
# Each domain registers its own (`register_handler`) from its own package, so the inbox
# imports none of them.
Handler = Callable[[str, dict[str, Any]], str | None]
HANDLERS: dict[str, Handler] = {}
# Answered in the request: handler(event_id, data, first=...) -> the JSON answer, run in the
# transaction that stores the event (first=True) or, for a repeat, that finds it stored.
SyncHandler = Callable[..., dict[str, Any]]
SYNC_HANDLERS: dict[tuple[str, str], SyncHandler] = {}


def register_handler(channel: str, handler: Handler) -> None:
    """The use case a channel's stored events are applied by (in the webhooks job)."""
    HANDLERS[channel] = handler


def register_sync_handler(channel: str, event_type: str, handler: SyncHandler) -> None:
    """An event type answered in the HTTP response itself (a card authorisation)."""
    SYNC_HANDLERS[(channel, event_type)] = handler


@dataclass(frozen=True)
class Accepted:
    event_id: str
    channel: str
    answer: dict[str, Any] | None = None
    repeated: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON the endpoint answers with."""
        return {"status": "accepted", "id": self.event_id, **(self.answer or {})}


def secret_for(channel: str) -> str | None:
    if channel not in CHANNELS:
        return None
    return settings.webhooks().secrets.get(channel) or None


def _reject(channel: str, status: int, reason: str, client: str | None) -> WebhookRejected:
    metrics.webhooks.labels(channel, reason).inc()
    log.warning("webhook rejected", extra={"channel": channel, "reason": reason, "client": client})
    return WebhookRejected(status, reason)


def _parse(raw_body: bytes) -> dict[str, Any] | None:
    """The delivery's JSON object if it has an id, a type and a data object; else None."""
    try:
        body = jsonsafe.loads(raw_body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or _has_nul(body):
        return None
    event_id, event_type, data = body.get("id"), body.get("type"), body.get("data")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 100):
        return None
    if not (isinstance(event_type, str) and 0 < len(event_type) <= 64):
        return None
    if not isinstance(data, dict):
        return None
    return body


def _has_nul(value: Any) -> bool:
    """A NUL anywhere in the JSON: PostgreSQL can store it in neither text nor JSON."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def receive(
    channel: str,
    raw_body: bytes,
    timestamp: str | None,
    presented_signature: str | None,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """Verify and store one delivery; raise WebhookRejected (400/401/404) and store nothing."""
    secret = secret_for(channel)
    if secret is None:
        raise WebhookRejected(404, "unknown channel")
    if not timestamp or not presented_signature:
        raise _reject(channel, 401, "unsigned", client)
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise _reject(channel, 400, "malformed", client)
    if not signing.is_valid(secret, timestamp, raw_body, presented_signature):
        raise _reject(channel, 401, "forged", client)
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    current = now or utcnow()
    if abs((current - signed_at).total_seconds()) > WINDOW_SECONDS:
        raise _reject(channel, 401, "stale", client)
    body = _parse(raw_body)
    if body is None:
        raise _reject(channel, 400, "malformed", client)
    return _store(
        channel, body["id"], body["type"], body["data"], raw_body, signed_at, current, client
    )


def _store(
    channel: str,
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    raw_body: bytes,
    signed_at: datetime,
    received_at: datetime,
    client: str | None,
) -> Accepted:
    """Store a verified delivery once per (channel, event id), with its processing job, or
    answer it in this transaction when its type is answered synchronously (SYNC_HANDLERS)."""
    sync_handler = SYNC_HANDLERS.get((channel, event_type))

    def store() -> tuple[bool, dict[str, Any] | None]:
        inserted = db.session.execute(
            postgresql.insert(WebhookEvent)
            .values(
                channel=channel,
                event_id=event_id,
                event_type=event_type,
                raw_body=raw_body.decode(),
                signed_at=signed_at,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(WebhookEvent.id)
        ).scalar()
        if sync_handler is not None:
            answer = sync_handler(event_id, data, first=inserted is not None)
            if inserted is not None:
                event = db.session.get(WebhookEvent, inserted)
                assert event is not None
                event.processed_at, event.outcome = utcnow(), "answered"
            return inserted is not None, answer
        if inserted is None:
            return False, None
        outbox.add("lumipay.webhooks.service.process_event", inserted, queue="webhooks")
        return True, None

    stored, answer = run_in_transaction(store)
    if not stored and sync_handler is None:
        raise _reject(channel, 400, "replayed", client)
    metrics.webhooks.labels(channel, "accepted" if stored else "repeated").inc()
    log.info(
        "webhook accepted" if stored else "webhook repeated, first answer given",
        extra={"channel": channel, "event_id": event_id},
    )
    return Accepted(event_id, channel, answer, repeated=not stored)


def receive_moniepoint(
    raw_body: bytes,
    presented_signature: str | None,
    *,
    client: str | None = None,
    now: datetime | None = None,
) -> Accepted:
    """A bank-channel delivery signed Moniepoint's own way (HTTP mode only).

    `monnify-signature` is the hex HMAC-SHA512 of the raw body keyed with our client secret.
    Moniepoint signs no timestamp and sends no event id: the event type and the transaction's
    reference identify the delivery, so a replay is refused like ours.
    """
    secret = settings.providers().moniepoint_client_secret or ""
    if settings.bank().provider_mode != "http" or not secret:
        raise WebhookRejected(404, "unknown channel")
    if not presented_signature:
        raise _reject("bank", 401, "unsigned", client)
    if not moniepoint.is_valid_signature(secret, raw_body, presented_signature):
        raise _reject("bank", 401, "forged", client)
    try:
        body = jsonsafe.loads(raw_body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        body = None
    event_type = body.get("eventType") if isinstance(body, dict) else None
    data = body.get("eventData") if isinstance(body, dict) else None
    if not isinstance(event_type, str) or not isinstance(data, dict) or _has_nul(body):
        raise _reject("bank", 400, "malformed", client)
    if len(event_type) > 64:
        raise _reject("bank", 400, "malformed", client)
    event_id = moniepoint.delivery_id(event_type, data)
    current = now or utcnow()
    return _store("bank", event_id, event_type, data, raw_body, current, current, client)


def _event_data(body: dict[str, Any]) -> dict[str, Any]:
    """Our envelope's `data`, or a Moniepoint delivery's `eventData`."""
    data: dict[str, Any] = body["data"] if "data" in body else body["eventData"]
    return data


# What a handler raises on data it can't apply (a negative or fractional amount, a field
# missing or of the wrong type): the event fails for good, with the reason, for a person to see;
# retrying it would fail the same way. Anything else (the database going away) is retried.
BAD_DATA = (ValueError, KeyError, TypeError)
FAILED = "failed"


def _fail(event: WebhookEvent, exc: Exception) -> None:
    event.outcome = FAILED
    event.failure = f"{type(exc).__name__}: {exc}"[:300]
    metrics.webhooks.labels(event.channel, FAILED).inc()
    log.error(
        "webhook event failed: its data could not be applied",
        extra={"channel": event.channel, "event_id": event.event_id, "reason": event.failure},
    )


def failed_count() -> int:
    """Events whose data could not be applied: the back office's attention list shows them."""
    return int(
        db.session.scalar(select(func.count(WebhookEvent.id)).where(WebhookEvent.outcome == FAILED))
        or 0
    )


@job
def process_event(event_pk: int) -> str:
    """Apply one stored event through its channel's handler; returns the event's outcome."""

    def work() -> str:
        event = locked_one(WebhookEvent, WebhookEvent.id == event_pk)
        if event.processed_at is not None:
            return event.outcome or "processed"
        handler = HANDLERS.get(event.channel)
        if handler is None:
            event.outcome = "ignored"
        else:
            try:
                # A savepoint: what the handler wrote before it gave up is undone.
                with db.session.begin_nested():
                    said = handler(event.event_type, _event_data(json.loads(event.raw_body)))
                # A handler may name another outcome: "unhandled" keeps the event for a person.
                event.outcome = said if isinstance(said, str) else "processed"
            except BAD_DATA as exc:
                _fail(event, exc)
        event.processed_at = utcnow()
        return event.outcome or ""

    return run_in_transaction(work)


def _receive_from_sandbox(
    channel: str, raw: bytes, timestamp: str, presented: str
) -> dict[str, Any]:
    return receive(channel, raw, timestamp, presented, client="sandbox").body()


signing.use_local_inbox(signing.LocalInbox(secret_for, _receive_from_sandbox))
