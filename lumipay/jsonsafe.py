"""JSON from strangers: parsed only when its nesting is shallow.

Python's `json` recurses once per level, so a body of a few thousand `[` raises RecursionError
(an unhandled 500) before any rule of ours runs. Every request body we parse goes through
`loads`, which measures the depth first (a linear scan, strings skipped) and refuses a body
nested deeper than any real request is.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class TooDeep(ValueError):
    """The body nests arrays and objects deeper than MAX_DEPTH."""


def depth(raw: bytes | str) -> int:
    """The deepest nesting of `[` and `{` outside strings."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    deepest = level = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            deepest = max(deepest, level)
        elif char in "]}":
            level -= 1
    return deepest


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` that raises ValueError (TooDeep) instead of recursing without bound."""
    if depth(raw) > max_depth:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    return json.loads(raw)
