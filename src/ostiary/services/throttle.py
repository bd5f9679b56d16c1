"""Throttling of attempts to prove a secret (a password, a client secret), shared by sign-in and
client authentication.

Every attempt first *reserves* its place on each of its keys (``ThrottleStore.reserve``, one
statement per key), and only a granted attempt gets its secret checked. So no burst, however
concurrent and on however many nodes, gets more checks than a key allows. A key allows
``allowance`` attempts, then one more after each delay, 2, 4, 8 … seconds up to
``MAX_DELAY_SECONDS``; its count is forgotten after ``FORGET_AFTER_SECONDS`` without attempts
(longer than the longest delay, so waiting out a delay does not reset the count). Nothing is
ever locked for good. A right secret gives its attempt back (``refund``)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from ostiary.services.clock import Clock
from ostiary.storage.misc import Reservation, ThrottleStore

__all__ = ["FORGET_AFTER_SECONDS", "MAX_DELAY_SECONDS", "Attempt", "Limit", "Throttle", "wait_text"]

MAX_DELAY_SECONDS = 15 * 60
FORGET_AFTER_SECONDS = 60 * 60


def wait_text(seconds: int) -> str:
    """``Wait 1 second`` / ``Wait 12 seconds``."""
    return f"Wait {seconds} second{'' if seconds == 1 else 's'}"


@dataclasses.dataclass(frozen=True, slots=True)
class Limit:
    """One kind of key (``ip``, ``acct-ip``, …) and the attempts it allows before delays."""

    prefix: str
    allowance: int

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))[:100]

    def block_times(self, now: datetime) -> list[datetime]:
        """When a key is free again after ``allowance + n`` attempts, for n = 0, 1, …: the
        delays double from 2 seconds up to ``MAX_DELAY_SECONDS`` (the last entry)."""
        delays: list[int] = []
        n = 1
        while not delays or delays[-1] < MAX_DELAY_SECONDS:
            delays.append(min(MAX_DELAY_SECONDS, 2**n))
            n += 1
        return [now + timedelta(seconds=d) for d in delays]


@dataclasses.dataclass(frozen=True, slots=True)
class Attempt:
    """The reservations of one granted attempt, to give back if its secret was right."""

    reservations: tuple[tuple[Limit, Reservation], ...]


class Throttle:
    def __init__(self, store: ThrottleStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def reserve(self, keys: Sequence[tuple[Limit, str]]) -> Attempt | int:
        """Reserve one attempt on every key, in order; the Attempt, or the seconds to wait
        when a key refuses. An attempt refused by a later key still counts on the earlier
        ones: hammering one account from an address uses up that address's allowance too."""
        now = self._clock.now()
        forget_before = now - timedelta(seconds=FORGET_AFTER_SECONDS)
        granted: list[tuple[Limit, Reservation]] = []
        for limit, key in keys:
            reservation = await self._store.reserve(
                key,
                allowance=limit.allowance,
                now=now,
                forget_before=forget_before,
                block_times=limit.block_times(now),
            )
            if not reservation.granted:
                return self._seconds_until(reservation.blocked_until, now)
            granted.append((limit, reservation))
        return Attempt(tuple(granted))

    async def refund(self, attempt: Attempt, *, reset: Sequence[Limit] = ()) -> None:
        """The secret was right: give the attempt back, and clear the keys of ``reset``."""
        for limit, reservation in attempt.reservations:
            if limit in reset:
                await self._store.reset(reservation.key)
            else:
                await self._store.refund(reservation, allowance=limit.allowance)

    async def wait_seconds(self, keys: Sequence[str]) -> int | None:
        """Seconds until the latest block among ``keys`` ends; None when none is blocked."""
        now = self._clock.now()
        until = await self._store.blocked_until(list(keys), now)
        return None if until is None else self._seconds_until(until, now)

    @staticmethod
    def _seconds_until(until: datetime | None, now: datetime) -> int:
        if until is None:  # the block ended between the two statements of ``reserve``
            return 1
        return max(1, math.ceil((until - now).total_seconds()))
