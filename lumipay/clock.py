"""The time security decisions are made at: session timeouts, lockouts, TOTP, reset links.

Tests set `app.config["CLOCK"]` to a callable returning an aware UTC datetime, so they can move
time forward instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app

from lumipay.database import as_utc, utcnow

LAGOS = ZoneInfo("Africa/Lagos")


def now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return as_utc(clock()) if clock is not None else utcnow()


def lagos_day(moment: datetime | None = None) -> date:
    """The Lagos calendar day of `moment` (default: now): "today" for daily totals and limits."""
    return (moment or now()).astimezone(LAGOS).date()


def lagos_day_start(day: date | None = None) -> datetime:
    """The UTC instant the Lagos day `day` (default: today) begins."""
    return datetime.combine(day or lagos_day(), time(0), tzinfo=LAGOS).astimezone(UTC)
