"""Password hashing with argon2id, off the event loop, with equal cost for unknown users."""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordService"]

MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _hashing_threads(count: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(count, thread_name_prefix="ostiary-argon2")


def hashing_threads_for(workers: int) -> int:
    """How many hashes one worker process runs at once: its share of the cores. One argon2id
    hash already works its lanes on several cores and holds ``memory_kib`` while it runs, so
    more at once would only add memory (64 MiB each by default) and queue for the same cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class PasswordService:
    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, threads: int = 1
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._threads = _hashing_threads(threads)
        # Verified against when the email is unknown, so both cases cost one argon2 run.
        # Made on first use: start-up (and every CLI call) stays fast.
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, self._hasher.hash, password
        )

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash, spends the same time and says False."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("ostiary-dummy-password")
        target = password_hash or self._dummy_hash
        try:
            ok = await asyncio.get_running_loop().run_in_executor(
                self._threads, self._hasher.verify, target, password
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
