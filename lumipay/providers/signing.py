"""Webhook signatures: HMAC-SHA256 over `timestamp + "." + raw body` with the channel's secret.

The sandbox signs with this module and the webhook inbox verifies with it, so both ends of a
delivery agree on the bytes that are signed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TIMESTAMP_HEADER = "X-Lumipay-Timestamp"
SIGNATURE_HEADER = "X-Lumipay-Signature"
SCHEME = "sha256="


def signature(secret: str, timestamp: str, raw_body: bytes) -> str:
    """The header value for a delivery: `sha256=<hex>`."""
    message = timestamp.encode() + b"." + raw_body
    return SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same(expected: str, presented: str | None) -> bool:
    """Constant-time equality of two header values, whatever characters `presented` holds.

    `hmac.compare_digest` raises TypeError on a non-ASCII str, so both sides are compared as
    UTF-8 bytes: a header of any characters is simply not equal, never a 500.
    """
    return hmac.compare_digest(expected.encode(), (presented or "").encode("utf-8", "replace"))


def is_valid(secret: str, timestamp: str, raw_body: bytes, presented: str) -> bool:
    """Compare in constant time, so the signature can't be guessed byte by byte."""
    return same(signature(secret, timestamp, raw_body), presented)


def signed_headers(secret: str, timestamp: int, raw_body: bytes) -> dict[str, str]:
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, raw_body),
    }


class WebhookRejected(Exception):
    """A delivery we refuse; `status` is the HTTP answer, `reason` what the log records."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class LocalInbox:
    """Our webhook inbox as the sandboxes reach it in-process (no URL configured).

    Registered by lumipay.webhooks, a layer above the providers: `secret_for(channel)` is the
    channel's secret (None for an unknown channel) and `receive(channel, raw, timestamp,
    signature)` stores a delivery and returns the JSON the endpoint answers, or raises
    WebhookRejected.
    """

    secret_for: Callable[[str], str | None]
    receive: Callable[[str, bytes, str, str], dict[str, Any]]


_inbox: list[LocalInbox] = []


def use_local_inbox(inbox: LocalInbox) -> None:
    _inbox[:] = [inbox]


def local_inbox() -> LocalInbox:
    """The registered inbox; the app factory imports lumipay.webhooks, which registers it."""
    if not _inbox:
        raise RuntimeError("No webhook inbox registered (lumipay.webhooks is not loaded).")
    return _inbox[0]
