"""Webhook signatures: HMAC-SHA256 over `timestamp + "." + raw body` with the channel's secret.

The sandbox signs with this module and the webhook inbox verifies with it, so both ends of a
delivery agree on the bytes that are signed.
"""

from __future__ import annotations

import hashlib
import hmac

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
