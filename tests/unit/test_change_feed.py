"""The change feed's rules, on a fake PostgreSQL whose notifications the test delivers or drops:
nothing is kept before a probe came back, a read that a change overtook is not kept, and a
listening connection that stops hearing probes (without an error) turns the feed dark."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ostiary.storage.changes import APPS_CHANNEL, PROBE_CHANNEL, Cached, ChangeFeed

EVERY, WAIT = 0.05, 0.05
LIMIT_S = 5.0  # a limit for what takes a few probe rounds, not a measurement


class FakeConnection:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.listeners: dict[str, Callable[..., Any]] = {}
        self.on_lost: list[Callable[[Any], None]] = []
        self.terminated = False

    def add_termination_listener(self, callback: Callable[[Any], None]) -> None:
        self.on_lost.append(callback)

    async def add_listener(self, channel: str, callback: Callable[..., Any]) -> None:
        self.listeners[channel] = callback

    def terminate(self) -> None:
        self.terminated = True


class FakeServer:
    def __init__(self) -> None:
        self.connections: list[FakeConnection] = []
        self.delivering = True

    async def connect(self) -> FakeConnection:
        self.connections.append(FakeConnection(self))
        return self.connections[-1]

    async def notify(self, channel: str, payload: str) -> None:
        if not self.delivering:
            return
        for conn in self.connections:
            if not conn.terminated and channel in conn.listeners:
                asyncio.get_running_loop().call_soon(
                    conn.listeners[channel], conn, 1, channel, payload
                )


async def _until(what: Callable[[], bool]) -> None:
    async with asyncio.timeout(LIMIT_S):
        while not what():  # noqa: ASYNC110 - the condition is the feed's state, no event
            await asyncio.sleep(0.005)


async def _live_feed(server: FakeServer) -> ChangeFeed:
    feed = ChangeFeed(server.connect, server.notify, probe_every=EVERY, probe_wait=WAIT)
    assert feed.mark() is None  # starts the feed; nothing is kept before a probe came back
    await _until(lambda: feed.live)
    return feed


async def _kept_entry() -> tuple[FakeServer, ChangeFeed, Cached[str]]:
    """A live feed, and a cache that kept ``web_1`` under its current generation."""
    server = FakeServer()
    feed = await _live_feed(server)
    cache: Cached[str] = Cached(feed)
    cache.put("web_1", cache.mark(), "app")
    return server, feed, cache


async def test_a_read_is_kept_until_a_change_is_notified() -> None:
    server, feed, cache = await _kept_entry()
    assert "app" == cache.get("web_1")

    await server.notify(APPS_CHANNEL, "")
    await _until(lambda: cache.get("web_1") is None)
    await feed.close()


async def test_a_read_overtaken_by_a_change_is_not_kept() -> None:
    """The read began before a change and ended after its notification: what it read may be
    the old row, so it is not kept."""
    server = FakeServer()
    feed = await _live_feed(server)
    cache: Cached[str] = Cached(feed)
    generation = cache.mark()
    await server.notify(APPS_CHANNEL, "")
    await asyncio.sleep(0)  # the notification is handled while the read is under way
    cache.put("web_1", generation, "old row")
    assert cache.get("web_1") is None
    await feed.close()


async def test_a_listener_that_stops_hearing_probes_turns_the_feed_dark_and_comes_back() -> None:
    server, feed, cache = await _kept_entry()

    server.delivering = False  # no error anywhere: notifications just stop arriving
    await _until(lambda: not feed.live)
    assert (None, None) == (cache.get("web_1"), cache.mark())
    assert server.connections[0].terminated

    server.delivering = True
    await _until(lambda: feed.live)  # a new connection, proven by a probe
    assert 2 <= len(server.connections)
    assert cache.get("web_1") is None  # read before the feed went dark: not trusted again
    await feed.close()


async def test_a_lost_connection_turns_the_feed_dark_at_once() -> None:
    server, feed, cache = await _kept_entry()
    for callback in server.connections[0].on_lost:
        callback(server.connections[0])
    assert (False, None) == (feed.live, cache.get("web_1"))
    await feed.close()


async def test_probes_of_other_workers_neither_prove_nor_change_anything() -> None:
    server = FakeServer()
    server.delivering = False
    feed = ChangeFeed(server.connect, server.notify, probe_every=EVERY, probe_wait=WAIT)
    feed.mark()
    await _until(lambda: len(server.connections) >= 1 and bool(server.connections[0].listeners))
    conn = server.connections[0]
    conn.listeners[PROBE_CHANNEL](conn, 2, PROBE_CHANNEL, "another-worker-1")
    await asyncio.sleep(EVERY)
    assert not feed.live
    await feed.close()
