"""The device cookie: a tag for an account says only that this browser signed in to it before;
it cannot be forged, moved to another account or used after it expires."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ostiary.protocol.digests import Digester
from ostiary.services.clock import Clock
from ostiary.services.login import DEVICE_LIFETIME, KnownDevices

SECRET = "k" * 48


class StillClock(Clock):
    def __init__(self) -> None:
        self.current = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current


def test_a_tag_is_known_for_its_account_only() -> None:
    """The cookie made for usr_a is known for usr_a and not for usr_b."""
    devices = KnownDevices(Digester(SECRET), StillClock())
    cookie = devices.remember(None, "usr_a")
    assert (True, False) == (devices.knows(cookie, "usr_a"), devices.knows(cookie, "usr_b"))


def test_a_changed_tag_or_another_servers_tag_is_not_known() -> None:
    """A tag with one character changed, or made under another secret key, is refused."""
    clock = StillClock()
    devices = KnownDevices(Digester(SECRET), clock)
    cookie = devices.remember(None, "usr_a")
    flipped = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    elsewhere = KnownDevices(Digester("x" * 48), clock).remember(None, "usr_a")
    assert (False, False) == (devices.knows(flipped, "usr_a"), devices.knows(elsewhere, "usr_a"))


def test_a_tag_expires() -> None:
    """After DEVICE_LIFETIME the tag no longer counts."""
    clock = StillClock()
    devices = KnownDevices(Digester(SECRET), clock)
    cookie = devices.remember(None, "usr_a")
    clock.current += DEVICE_LIFETIME + timedelta(seconds=1)
    assert False is devices.knows(cookie, "usr_a")


def test_one_browser_remembers_several_accounts() -> None:
    """Signing in to a second account keeps the first one's tag; garbage is dropped."""
    devices = KnownDevices(Digester(SECRET), StillClock())
    cookie = devices.remember("garbage.1-2", "usr_a")
    cookie = devices.remember(cookie, "usr_b")
    assert (True, True, 2) == (
        devices.knows(cookie, "usr_a"),
        devices.knows(cookie, "usr_b"),
        len(cookie.split(".")),
    )
