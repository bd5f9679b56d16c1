"""Small pieces of the wording of messages, shared by every interface."""

from __future__ import annotations

__all__ = ["counted"]


def counted(count: int, unit: str) -> str:
    """``count`` with its unit, singular only for one: "1 second", "0 seconds", "5 minutes"."""
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
