"""Child processes that compute JWT signatures for a serving worker.

Why processes and not threads: cryptography lets go of the GIL while it signs, but a signing
thread must take the GIL back to hand its result over, and the event loop lets go of it at
every socket send, every SQLite statement and every wait for events. Each of those became a
hand-over to a signing thread and a wait to get the GIL back, and on a busy machine a waiting
thread waits for the OS to run it too (Python's "convoy effect"). Under wrk, client_credentials
on one worker with two signing threads kept only ~1.1 of the 2 cores busy, and its CPU per
request was no more than the peer's: the loop was waiting, not working. A child process has an
interpreter of its own, so nothing in it ever waits for the worker's GIL: the worker writes the
signing input to the child's pipe and reads the signature back on its event loop, two
non-blocking system calls. Five interleaved wrk pairs on this machine: 1,505-2,040 ->
2,309-2,677 req/s, CPU per request 738-823 -> 646-722 µs.

Hand-written: ``concurrent.futures.ProcessPoolExecutor`` hands every job and result through a
manager thread in the worker, which needs the same GIL.

The children hold the private signing keys, sent over their pipes (never on a command line or
in the environment), and exit when the pipe closes: when the worker stops or dies. A child that
dies is replaced; the signatures it owed are asked of another child once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import struct
import sys

__all__ = ["SignerGone", "SigningProcesses"]

# Frames on the pipes: a header (request id, body length, kind) then the body.
HEADER = struct.Struct("!IIB")
KEY, SIGN = 1, 2  # worker -> child: a key (algorithm, kid, PEM) / a signing input (kid, bytes)
OK, FAILED = 0, 1  # child -> worker: the signature / an error message


class SignerGone(Exception):
    """The child process ended before it answered."""


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[bytes]] = {}
        self.kids: set[str] = set()  # the keys it holds
        self.alive = True
        self.reader = asyncio.get_running_loop().create_task(self._read())

    def send(self, request_id: int, kind: int, body: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(HEADER.pack(request_id, len(body), kind) + body)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                request_id, length, kind = HEADER.unpack(await stdout.readexactly(HEADER.size))
                body = await stdout.readexactly(length)
                future = self.pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if kind == OK:
                    future.set_result(body)
                else:
                    future.set_exception(RuntimeError(body.decode(errors="replace")))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the child ended
        finally:
            self.alive = False
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(SignerGone())
            self.pending.clear()

    async def close(self) -> None:
        self.alive = False
        stdin = self.process.stdin
        if stdin is not None:
            stdin.close()  # the child reads the end of its input and exits
        with contextlib.suppress(ProcessLookupError):
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class SigningProcesses:
    """``count`` children, started on first use on the event loop that signs."""

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self._children: list[_Child] = []
        self._starting: asyncio.Lock | None = None
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = -1

    @property
    def pids(self) -> list[int]:
        """The process ids of the children now alive."""
        return [c.process.pid for c in self._children if c.alive]

    async def sign(self, kid: str, algorithm: str, pem: bytes, unsigned: bytes) -> bytes:
        """The signature of ``unsigned`` by the key ``kid`` (its PEM is sent to a child the
        first time that child needs it)."""
        for attempt in (1, 2):
            child = await self._least_busy()
            if kid not in child.kids:
                child.send(0, KEY, b"\0".join((algorithm.encode(), kid.encode(), pem)))
                child.kids.add(kid)
            request_id = next(self._ids) & 0xFFFFFFFF
            future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            child.pending[request_id] = future
            child.send(request_id, SIGN, kid.encode() + b"\0" + unsigned)
            try:
                return await future
            except SignerGone:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _least_busy(self) -> _Child:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._pid != os.getpid():
            # A new event loop (or a forked process) cannot use the old one's pipes.
            self._children, self._starting = [], asyncio.Lock()
            self._loop, self._pid = loop, os.getpid()
        if len(self._children) < self.count or not all(c.alive for c in self._children):
            assert self._starting is not None
            async with self._starting:
                self._children = [c for c in self._children if c.alive]
                while len(self._children) < self.count:
                    self._children.append(_Child(await _spawn()))
        return min(self._children, key=lambda c: len(c.pending))

    async def start(self) -> None:
        """Start the children now rather than on the first signature (~0.2 s each)."""
        await self._least_busy()

    async def aclose(self) -> None:
        """Stop the children (the worker is shutting down)."""
        children, self._children = self._children, []
        for child in children:
            await child.close()


async def _spawn() -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ostiary.runtime.signing_child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
