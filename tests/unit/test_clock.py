"""The one rule for "daily": the Lagos calendar day (Africa/Lagos, UTC+1, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lumipay.clock import day_after, day_start, in_lagos, lagos_day


def test_the_lagos_day_turns_at_2300_utc():
    assert lagos_day(datetime(2026, 12, 1, 22, 59, 59, 880_000, tzinfo=UTC)) == date(2026, 12, 1)
    assert lagos_day(datetime(2026, 12, 1, 23, 0, 0, 100_000, tzinfo=UTC)) == date(2026, 12, 2)


def test_a_lagos_day_is_bounded_by_its_midnights_in_utc():
    day = date(2026, 12, 2)
    assert day_start(day) == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert day_after(day) == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert day_after(day) - day_start(day) == timedelta(days=1)
    assert lagos_day(day_start(day)) == day
    assert lagos_day(day_after(day) - timedelta(microseconds=1)) == day


def test_a_naive_time_is_refused():
    """Every time in Lumipay carries its zone (lumipay.database.as_utc): a naive one is a bug."""
    with pytest.raises(ValueError, match="naive"):
        in_lagos(datetime(2026, 6, 30, 23, 30))
