"""The one clock: the time decisions are made at, and the Lagos day every daily rule counts by.

Tests set `app.config["CLOCK"]` to a callable returning an aware UTC datetime, so they can move
time forward instead of sleeping.

"Daily" means the Lagos calendar day (Africa/Lagos) everywhere: a posting's day, the KYC daily
limit, the daily flows, statements, the back office's "today". `lagos_day` (`lagos_day_sql` in
a query) is the one rule for the day of a moment, `day_start`/`day_after` the one rule for the
instants that bound a day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Date, SQLColumnExpression, cast, func
from sqlalchemy.sql.elements import ColumnElement

from lumipay.database import as_utc, utcnow

LAGOS = ZoneInfo("Africa/Lagos")
LAGOS_NAME = "Africa/Lagos"  # the same zone by name, for SQL (`timezone(...)`) and migrations


def now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return as_utc(clock()) if clock is not None else utcnow()


def in_lagos(moment: datetime) -> datetime:
    """`moment` on Lagos wall-clock time."""
    return as_utc(moment).astimezone(LAGOS)


def lagos_day(moment: datetime | None = None) -> date:
    """The Lagos calendar day `moment` (default: now, by the app's clock) falls on: "today"
    for daily totals and limits."""
    return in_lagos(moment or now()).date()


def lagos_day_sql(moment: SQLColumnExpression[datetime]) -> ColumnElement[date]:
    """`lagos_day` in SQL, for a timestamptz column (PostgreSQL)."""
    return cast(func.timezone(LAGOS_NAME, moment), Date)


def today() -> date:
    """The Lagos day it is now, by the app's clock."""
    return lagos_day(now())


def day_start(day: date) -> datetime:
    """The instant (aware, UTC) the Lagos day `day` begins."""
    return datetime.combine(day, time.min, tzinfo=LAGOS).astimezone(UTC)


def day_after(day: date) -> datetime:
    """The instant the Lagos day after `day` begins: the exclusive end of `day`."""
    return day_start(day + timedelta(days=1))


TIME_FORMATS = {
    "datetime": "%d %b %Y, %H:%M",
    "seconds": "%d %b %Y, %H:%M:%S",
    "short": "%d %b, %H:%M",
    "time": "%H:%M:%S",
    "date": "%d %b %Y",
}
"""How a moment is shown to people (`lagos_label`); a date alone carries no zone label."""


def lagos_label(moment: datetime | None, style: str = "datetime") -> str:
    """`moment` (stored UTC) as Lagos wall-clock time for pages, receipts and emails, labelled
    WAT ("01 Dec 2026, 13:05 WAT"). Machine-readable places (CSV, the API) keep ISO 8601 with
    the offset instead. The `wat` template filter."""
    if moment is None:
        return ""
    text = in_lagos(moment).strftime(TIME_FORMATS[style])
    return text if style == "date" else f"{text} WAT"
