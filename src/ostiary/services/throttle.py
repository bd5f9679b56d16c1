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

from ostiary.domain.wording import counted
from ostiary.protocol.digests import Digester
from ostiary.protocol.errors import TooManyAttempts
from ostiary.services.clock import Clock
from ostiary.storage.misc import Reservation, ThrottleStore

__all__ = [
    "CLIENT_AUTH_IP",
    "CLIENT_IP",
    "FORGET_AFTER_SECONDS",
    "MAX_DELAY_SECONDS",
    "Attempt",
    "ClientAuthThrottle",
    "Limit",
    "Throttle",
    "wait_text",
]

MAX_DELAY_SECONDS = 15 * 60
FORGET_AFTER_SECONDS = 60 * 60


def wait_text(seconds: int) -> str:
    """``Wait 1 second`` / ``Wait 12 seconds``."""
    return f"Wait {counted(seconds, 'second')}"


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

    @staticmethod
    def _seconds_until(until: datetime | None, now: datetime) -> int:
        if until is None:  # the block ended between the two statements of ``reserve``
            return 1
        return max(1, math.ceil((until - now).total_seconds()))


CLIENT_IP = Limit("client-ip", 10)  # one client_id from one address
CLIENT_AUTH_IP = Limit("client-auth-ip", 30)  # every client_id from one address


class ClientAuthThrottle:
    """Failed client authentication (a wrong or missing client secret, an unknown client_id) at
    the token, revocation and introspection endpoints, per (client_id, address) and per
    address: past the allowance, a failure is answered ``temporarily_unavailable`` (429) with
    Retry-After, the delays growing to 15 minutes at most; a block from one address never
    touches another.

    Only failures are counted and only failures are refused: a right secret is always accepted.
    Client secrets are 256-bit random values, so guessing one is hopeless, and this limit is
    there to stop the hammering, not to protect a guessable secret. Checking the block before
    every authentication would cost every token request a database read and would let anyone
    who knows a client_id and sends from the client's address (behind a shared proxy, say) keep
    the client out; neither is worth it for a secret that cannot be guessed."""

    def __init__(self, throttle: Throttle, digester: Digester) -> None:
        self._throttle = throttle
        self._digester = digester

    def _keys(self, client_id: str, ip: str | None) -> list[tuple[Limit, str]]:
        client = self._digester.digest("throttle", f"client:{client_id}")[:40]
        if not ip:
            return [(CLIENT_IP, CLIENT_IP.key(client))]
        return [(CLIENT_AUTH_IP, CLIENT_AUTH_IP.key(ip)), (CLIENT_IP, CLIENT_IP.key(client, ip))]

    async def failed(self, client_id: str, ip: str | None) -> None:
        """Count a failure; raises TooManyAttempts past the allowance (the caller raises its
        own error otherwise)."""
        reserved = await self._throttle.reserve(self._keys(client_id, ip))
        if isinstance(reserved, int):
            raise _too_many(reserved)


def _too_many(seconds: int) -> TooManyAttempts:
    return TooManyAttempts(
        f"Too many failed client authentications. {wait_text(seconds)}, then try again.",
        retry_after=seconds,
    )
