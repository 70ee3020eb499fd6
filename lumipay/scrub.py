"""Mask secrets and personal numbers before text or data leaves the process (logs, Sentry).

Two entry points, and nothing else is part of the interface:
- `scrub_text(text)`: the text with every sensitive pattern masked (reset links, bearer tokens,
  JWTs, card numbers, 11-digit BVN/NIN, email and IPv4 addresses, `password=…`-style pairs);
- `scrub_data(obj)`: the same object shape with every value under a sensitive key masked and
  every string scrubbed as text, recursively through dicts, lists and tuples.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[redacted]"

# Keys whose values are secret whatever they hold. A key matches when, lower-cased and split on
# anything that is not a letter or digit (camelCase split too), it is one of EXACT or one of its
# words is in WORDS: `X-Transaction-PIN`, `otp_code`, `cardNumber`, `new_password`.
EXACT = frozenset(
    {
        "code",
        "pan",
        "card_number",
        "cardnumber",
        "number",
        "cvc",
        "security_code",
        "set_cookie",
        "csrf_token",
        "api_key",
        "private_key",
        # Who the customer is: Sentry gets an opaque id, never these.
        "email",
        "full_name",
        "phone",
        "phone_number",
        "account_name",
        "remote_addr",
        "ip",
        "ip_address",
        "x_forwarded_for",
        "http_x_forwarded_for",
        "x_real_ip",
        "http_x_real_ip",
    }
)
WORDS = frozenset(
    {
        "password",
        "passwd",
        "passcode",
        "pin",
        "token",
        "tokens",
        "secret",
        "cvv",
        "cvv2",
        "totp",
        "otp",
        "bvn",
        "nin",
        "authorization",
        "cookie",
        "cookies",
        "signature",
        "credentials",
    }
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

# `key=value`, `key: value`, `"key": "value"` where the key names a secret (`otp_code=…` too).
_SECRET_PAIR = re.compile(
    r"(?i)\b([\w-]*(?:password|passwd|pin|token|secret|cvv2?|cvc|totp|otp|code|bvn|nin"
    r"|card_number|pan)[\w-]*)(['\"]?\s*[=:]\s*['\"]?)([^\s&'\",;}]+)"
)
_RESET_LINK = re.compile(r"(?i)(/reset/)[^\s/?#'\"<>]+|(reset[_-]?token=)[^\s&'\"<>]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# 13 to 19 digits, optionally grouped by spaces or dashes (how card numbers are typed).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# BVN and NIN are 11 digits (so is a Nigerian mobile number, which is personal data too).
_ELEVEN = re.compile(r"(?<!\d)\d{11}(?!\d)")


def sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = _CAMEL.sub("_", key).lower()
    normal = _SPLIT.sub("_", lowered).strip("_")
    if normal in EXACT or normal.replace("_", "") in EXACT:
        return True
    return any(word in WORDS for word in normal.split("_"))


def scrub_text(text: str) -> str:
    """`text` with secrets and personal numbers masked."""
    if not text:
        return text
    text = _RESET_LINK.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _JWT.sub(MASK, text)
    text = _SECRET_PAIR.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    text = _EMAIL.sub(MASK, text)
    text = _IPV4.sub(MASK, text)
    text = _CARD.sub(MASK, text)
    return _ELEVEN.sub(MASK, text)


def scrub_data(obj: Any) -> Any:
    """A copy of `obj` with sensitive keys' values masked and every string scrubbed."""
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, dict):
        return {
            key: MASK if sensitive_key(key) and value not in (None, "") else scrub_data(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [_scrub_item(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(_scrub_item(item) for item in obj)
    return obj


def _scrub_item(item: Any) -> Any:
    """A [key, value] pair (how headers and query strings often travel) masks by its key."""
    if (
        isinstance(item, (list, tuple))
        and len(item) == 2
        and sensitive_key(item[0])
        and item[1] not in (None, "")
    ):
        return type(item)([item[0], MASK])
    return scrub_data(item)
