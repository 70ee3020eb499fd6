"""The one scrubber: secrets and tokens out of every log line, access log and error report.

`scrub_data` walks dicts, lists and tuples: a value under a sensitive key name (password, PIN,
token, secret, CVV, card number, one-time code, BVN, NIN, Authorization, Cookie…) is replaced
whole; every other string goes through `scrub_text`, which masks what can be recognised in free
text: password-reset links, `Bearer` credentials, JWTs, 13–19 digit card numbers, and
`name=value` / `"name": "value"` pairs with a sensitive name. The JSON log formatter, the access
log and error reporting all call these two functions, so one list decides what never leaves.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

# Key names (split into words: `accessToken`, `X-Transaction-PIN`, `otp_code`) any word of which
# marks the value as a secret.
SENSITIVE_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pin",
        "token",
        "secret",
        "cvv",
        "cvc",
        "pan",
        "totp",
        "otp",
        "bvn",
        "nin",
        "authorization",
        "cookie",
        "cookies",
        "signature",
        "apikey",
        "credentials",
    }
)
# Whole key names that are secrets although no word of theirs is (a bare `code` is a one-time
# code in our forms; `card_number` is a PAN).
SENSITIVE_KEYS = frozenset(
    {
        "code",
        "cardnumber",
        "recoverycode",
        "emailcode",
        "verificationcode",
        "refresh",
        "access",
        "apikey",
        "setcookie",
    }
)

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

_RESET_LINK = re.compile(r"(/auth/reset/)[^\s/?#\"'<>]+")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# 13 to 19 digits, optionally grouped by single spaces or dashes, not inside a longer number.
_PAN = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\w)")
# 11 digits alone: a BVN or NIN (or a phone number in local form, personal data too).
_ELEVEN_DIGITS = re.compile(r"(?<![\w-])\d{11}(?![\w-])")
_PAIR = re.compile(
    r"(?i)(?P<name>[\"']?[A-Za-z_-]*(?:password|passwd|pin|token|secret|cvv|otp|totp|code|"
    r"bvn|nin|authorization|cookie)[\"']?)(?P<sep>\s*[=:]\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s&,;\"']+)"
)


def is_sensitive_key(key: str) -> bool:
    """Whether a value stored under this name is a secret."""
    words = [w.lower() for w in _WORDS.findall(str(key))]
    joined = "".join(words)
    return joined in SENSITIVE_KEYS or any(w in SENSITIVE_WORDS for w in words)


def _mask_pair(match: re.Match[str]) -> str:
    name = match.group("name")
    if not is_sensitive_key(name.strip("\"'")):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{name}{match.group('sep')}{quote}{MASK}{quote}"


def scrub_text(text: str) -> str:
    """`text` with reset links, bearer credentials, JWTs, card numbers, BVNs and NINs and secret
    pairs masked."""
    if not text:
        return text
    text = _RESET_LINK.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1 {MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _PAN.sub(MASK, text)
    text = _ELEVEN_DIGITS.sub(MASK, text)
    return _PAIR.sub(_mask_pair, text)


def scrub_data(obj: Any) -> Any:
    """A copy of `obj` (dicts, lists, tuples, strings; anything else as is) with secrets masked."""
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, dict):
        return {
            key: (
                MASK
                if is_sensitive_key(str(key)) and value not in (None, "")
                else scrub_data(value)
            )
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        if len(obj) == 2 and isinstance(obj[0], str) and is_sensitive_key(obj[0]):
            # A (name, value) pair, as headers and tags travel in error reports.
            pair = [obj[0], MASK if obj[1] not in (None, "") else obj[1]]
            return pair if isinstance(obj, list) else tuple(pair)
        items = [scrub_data(item) for item in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj
