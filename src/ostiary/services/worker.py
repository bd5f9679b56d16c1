"""The background worker of each server process: back-channel logout deliveries, the session
sweeper and outgoing email. Row leases keep several processes from doing the same work."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ostiary.services.backchannel import BackchannelService
from ostiary.services.email import EmailService

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


class BackgroundWorker:
    def __init__(
        self, backchannel: BackchannelService, email: EmailService, wakeup: Wakeup
    ) -> None:
        self._backchannel = backchannel
        self._email = email
        self._wakeup = wakeup

    async def run_once(self) -> None:
        await self._backchannel.run_once()
        await self._email.deliver_due()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database or network hiccup must not stop the worker
                log.exception("background work failed; retrying")
            await self._wakeup.wait(IDLE_POLL)
