"""The background worker of each server process. ``bootstrap`` gives it its jobs (back-channel
logout deliveries with the session sweeper, outgoing email); row leases keep several processes
from doing the same job's work twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

__all__ = ["BackgroundWorker", "Wakeup"]

log = logging.getLogger("ostiary.worker")
IDLE_POLL = 2.0


class Wakeup:
    """Lets a request tell the worker that there is new work (a logout, an email)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


Job = Callable[[], Awaitable[object]]


class BackgroundWorker:
    """Runs each job in turn, then waits for a wake-up or ``IDLE_POLL`` seconds."""

    def __init__(self, jobs: Sequence[Job], wakeup: Wakeup) -> None:
        self._jobs = tuple(jobs)
        self._wakeup = wakeup

    async def run_once(self) -> None:
        for job in self._jobs:
            await job()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database or network hiccup must not stop the worker
                log.exception("background work failed; retrying")
            await self._wakeup.wait(IDLE_POLL)
