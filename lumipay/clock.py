"""The time security decisions are made at: session timeouts, lockouts, TOTP, reset links.

Tests set `app.config["CLOCK"]` to a callable returning an aware UTC datetime, so they can move
time forward instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from lumipay.database import as_utc, utcnow


def now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return as_utc(clock()) if clock is not None else utcnow()
