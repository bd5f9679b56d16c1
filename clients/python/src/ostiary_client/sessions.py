"""Where web apps keep their users' tokens: server-side, behind a random cookie id.

A store is three methods over JSON-ready dicts with a time to live — what Redis, memcached or
a database table give you. ``InMemorySessionStore`` is the default and is right for one
process only: with several workers or machines, give every process the same shared store, or a
user signed in by one worker is a stranger to the next (and a back-channel logout received by
one worker would not end the session held by another).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["AsyncSessionStore", "InMemorySessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Sync key-value storage with expiry. Values are JSON-ready dicts."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def set(self, key: str, value: dict[str, Any], *, ttl: float) -> None: ...

    def delete(self, key: str) -> None: ...


@runtime_checkable
class AsyncSessionStore(Protocol):
    """The same as ``SessionStore``, with coroutines (for Starlette/FastAPI)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any], *, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...


class InMemorySessionStore:
    """A dict with expiry, guarded by a lock. One process only (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._writes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._data[key]
                return None
            return entry[1]

    def set(self, key: str, value: dict[str, Any], *, ttl: float) -> None:
        with self._lock:
            self._data[key] = (self._clock() + ttl, value)
            self._writes += 1
            if self._writes % 1000 == 0:
                self._purge()

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._data)

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, (until, _) in self._data.items() if until <= now]:
            del self._data[key]
