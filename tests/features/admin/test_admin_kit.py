"""How the dashboard writes times: relative for recent moments, the date for old ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ostiary.web.admin.kit import ago, when

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def test_recent_moments_are_relative_and_old_ones_dated() -> None:
    """Seconds read as "just now", then minutes, hours and days; past a month, the date."""
    cases = {
        timedelta(seconds=5): "just now",
        timedelta(minutes=5): "5 min ago",
        timedelta(hours=3): "3 h ago",
        timedelta(days=1): "1 day ago",
        timedelta(days=12): "12 days ago",
        timedelta(days=45): "28 Jan 2025",
        timedelta(minutes=-10): "in 10 min",
    }
    assert cases == {delta: ago(NOW - delta, NOW) for delta in cases}
    assert "never" == ago(None, NOW)


def test_absolute_times_are_utc() -> None:
    """Absolute times are written in UTC, from datetimes or ISO strings."""
    assert "14 Mar 2025, 09:30 UTC" == when(NOW)
    assert "14 Mar 2025, 09:30 UTC" == when("2025-03-14T10:30:00+01:00")
    assert "—" == when(None)
