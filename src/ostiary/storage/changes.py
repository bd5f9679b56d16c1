"""PostgreSQL tells every worker when an app or a client secret changes (LISTEN/NOTIFY), so that
client authentication can keep what it read and still refuse a revoked secret at once.

Triggers (migration 0007) notify ``ostiary_apps`` at the commit of any statement that writes
``apps`` or ``client_secrets``: the admin API, the CLI on another machine, a hand-written UPDATE.
Each worker listens on a connection of its own. Its cached reads hold only while the feed is
*live*, and a read made under one *generation* is used only while the generation is the same:

- every notification starts a new generation, so nothing read before a change is used after it;
- a read keeps its result only if no notification came while it ran (the caller marks the
  generation before it reads, ``ChangeFeed.mark``);
- the feed is live only after LISTEN and a probe (a notification sent through the pool's
  connections, from outside the listening one) came back, and a probe every ``probe_every``
  seconds must keep coming back within ``probe_wait`` of being sent. A lost or silent
  listening connection (a failover, a pooler that does not carry LISTEN) turns the feed dark:
  every read goes to the database until the feed is live again, with a new generation.

So a change reaches the other workers as fast as PostgreSQL delivers a notification (a few
milliseconds); a feed broken without a sign is noticed within ``probe_every + probe_wait``.

Hand-written on asyncpg's listener API: SQLAlchemy has no LISTEN, and the cache is a dict.

SQLite has no notifications. There, triggers (migration 0008) count the writes to those tables
in a row of ``change_counters``, and ``CountedChanges`` reads the counter (~5 µs) at most once
per turn of the event loop, which is enough for a request to see every change committed before
it arrived (the class says why). Most requests then make no statement for their client: under
load, each SQLite statement lets go of the GIL, which the signing threads are waiting for, and
the client read (20 µs in-process) cost a client_credentials request ~90 µs of CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "APPS_CHANNEL",
    "APP_TRIGGERS",
    "PROBE_CHANNEL",
    "Cached",
    "ChangeFeed",
    "Changes",
    "CountedChanges",
]

log = logging.getLogger("ostiary.storage")

APPS_CHANNEL = "ostiary_apps"  # the triggers of migration 0007 notify this one
PROBE_CHANNEL = "ostiary_probe"
# At most this many entries per cache, then it starts again empty: an app cache holds the apps
# that authenticated lately, and a flood of unknown client_ids never enters it.
MAX_ENTRIES = 10_000
# Migration 0008's triggers on SQLite; the counter is believed only while all of them exist.
APP_TRIGGERS = tuple(
    f"{table}_changed_{write}"
    for table in ("apps", "client_secrets")
    for write in ("insert", "update", "delete")
)
V = TypeVar("V")


class Changes(Protocol):
    """What a cache asks of either backend's way of hearing about app changes."""

    async def settle(self) -> None:
        """Bring ``generation`` up to date for a read about to start (SQLite reads its counter;
        PostgreSQL's notifications arrive by themselves)."""
        ...

    def mark(self) -> int | None:
        """The generation a read about to start belongs to; None: do not keep it."""
        ...

    def current(self, generation: int | None) -> bool:
        """Whether something read under ``generation`` still holds."""
        ...

    def changed_here(self) -> None:
        """This process has just committed a change: what it kept no longer holds, even before
        the change comes back to it through the database."""
        ...

    @property
    def live(self) -> bool:
        """Whether reads are kept at all (False while changes cannot be heard)."""
        ...


class ChangeFeed:
    """The listening side. ``connect`` opens a connection of its own (asyncpg's); ``notify``
    sends a notification through the pool."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        notify: Callable[[str, str], Awaitable[None]],
        *,
        probe_every: float = 5.0,
        probe_wait: float = 2.0,
    ) -> None:
        self._connect = connect
        self._notify = notify
        self._probe_every = probe_every
        self._probe_wait = probe_wait
        self.generation = 0
        self._live = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Event | None = None
        self._probe = ""
        self._probe_seen: asyncio.Event | None = None
        self._probes = (f"{os.getpid()}-{os.urandom(6).hex()}-{n}" for n in itertools.count())

    def mark(self) -> int | None:
        """The generation a read about to start belongs to, or None while the feed is dark
        (the read is then not kept). Starts the feed on the first call."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._task = loop.create_task(self._run(), name="ostiary-change-feed")
        elif loop is not self._loop:
            return None  # another event loop: its callbacks would run on the wrong loop
        return self.generation if self._live else None

    async def settle(self) -> None:
        """Nothing to do: notifications move the generation as they arrive."""

    def changed_here(self) -> None:
        self.generation += 1

    @property
    def live(self) -> bool:
        return self._live

    def current(self, generation: int | None) -> bool:
        """Whether a read of ``generation`` still holds. Going dark starts a generation too, and
        ``mark`` gives none while dark: so nothing read before or while dark holds."""
        return generation is not None and generation == self.generation

    async def close(self) -> None:
        self._go_dark("closed")
        task, self._task = self._task, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = 0.5
        while True:
            conn = None
            try:
                self._lost = asyncio.Event()
                conn = await self._connect()
                conn.add_termination_listener(lambda _conn: self._go_dark("connection lost"))
                await conn.add_listener(APPS_CHANNEL, self._changed)
                await conn.add_listener(PROBE_CHANNEL, self._probed)
                while not self._lost.is_set():
                    await self._round_trip()
                    if not self._live:
                        # Nothing read before the feed was proven counts: a new generation.
                        self.generation += 1
                        self._live = True
                        log.info("app change feed live: client authentication reads are kept")
                        delay = 0.5
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._probe_every):
                            await self._lost.wait()
            except Exception as err:
                self._go_dark(type(err).__name__)
            finally:
                self._go_dark("stopped")
                if conn is not None:
                    conn.terminate()  # synchronous: safe while being cancelled
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _round_trip(self) -> None:
        seen = self._probe_seen = asyncio.Event()
        self._probe = next(self._probes)
        async with asyncio.timeout(self._probe_wait):  # sending included: a pool too busy to
            await self._notify(PROBE_CHANNEL, self._probe)  # send it for this long counts as
            await seen.wait()  # a silent feed, so staleness stays bounded

    def _changed(self, *_: object) -> None:
        self.generation += 1

    def _probed(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._probe and self._probe_seen is not None:
            self._probe_seen.set()

    def _go_dark(self, reason: str) -> None:
        if self._live:
            log.warning(
                "app change feed dark (%s): client authentication reads the database on every "
                "request until the feed is back",
                reason,
            )
        self._live = False
        self.generation += 1
        if self._lost is not None:
            self._lost.set()


class CountedChanges:
    """SQLite's side: ``read`` returns what has to stay the same for a kept read to hold (the
    counter that migration 0008's triggers move, and the schema's version: a trigger dropped
    and made again changes it), or None when the counter cannot be believed.

    A counter read holds until the callback it schedules runs, early in the next turn of the
    event loop. That is enough for a request to see every change committed before it arrived:
    a request's steps are scheduled from the turn that read its bytes on, and a step that runs
    before that callback was scheduled before the read, so its request had arrived before the
    read. (A request made in-process, as by httpx's ASGITransport, arrives without a turn of
    its own; the tests let one pass first.)"""

    def __init__(self, read: Callable[[], Awaitable[tuple[int, ...] | None]]) -> None:
        self._read = read
        self.generation = 0
        self._live = False
        self._counter: tuple[int, ...] | None = None
        self._reported: bool | None = None  # the liveness last logged
        self._read_in: asyncio.AbstractEventLoop | None = None  # the loop whose turn holds it

    async def settle(self) -> None:
        loop = asyncio.get_running_loop()
        if self._read_in is loop:
            return
        counter = await self._read()
        # A new generation whenever what was read moves, and always a number not given before.
        if counter is None or counter != self._counter:
            self.generation += 1
        self._counter = counter
        live = counter is not None
        if live != self._reported:
            self._report(live)
        self._live = self._reported = live
        self._read_in = loop
        loop.call_soon(self._turn_over, loop)

    def _turn_over(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._read_in is loop:
            self._read_in = None

    @staticmethod
    def _report(live: bool) -> None:
        if not live:
            log.warning(
                "app change counter missing (triggers of migration 0008 or its row): client "
                "authentication reads the database on every request"
            )
        else:
            log.info("app change counter found: client authentication reads are kept")

    def mark(self) -> int | None:
        return self.generation if self._live else None

    def current(self, generation: int | None) -> bool:
        return generation is not None and generation == self.generation

    def changed_here(self) -> None:
        # The counter, which the commit moved, is read again before the next use, whatever turn
        # of the loop it is.
        self._read_in = None

    @property
    def live(self) -> bool:
        return self._live


class Cached(Generic[V]):
    """Results kept by key, each valid for the generation it was read under."""

    def __init__(self, feed: Changes) -> None:
        self._feed = feed
        self._entries: dict[str, tuple[int, V]] = {}

    async def settle(self) -> None:
        await self._feed.settle()

    def changed_here(self) -> None:
        self._feed.changed_here()

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None or not self._feed.current(entry[0]):
            return None
        return entry[1]

    def mark(self) -> int | None:
        return self._feed.mark()

    def put(self, key: str, generation: int | None, value: V) -> None:
        if generation is None or not self._feed.current(generation):
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (generation, value)
