"""The one place that reads the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["Clock", "SystemClock"]


class Clock:
    def now(self) -> datetime:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)
