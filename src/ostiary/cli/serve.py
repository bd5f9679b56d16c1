"""``ostiary serve``: prepare the database, then run uvicorn with several worker processes."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
from collections.abc import Iterable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings

__all__ = ["HeadWithBody", "WorkerHttpProtocol", "no_delay", "register"]


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--workers",
        type=_worker_count,
        default=None,
        help="worker processes (default: OSTIARY_WORKERS or the number of CPUs)",
    )
    serve.set_defaults(sync_handler=run)


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Nagle's algorithm off on an accepted TCP connection, as asyncio sets it on the
    connections of a listening socket it made itself.

    With more than one worker, uvicorn binds the listening socket itself, and leaves its
    ``proto`` at 0 (uvicorn issue #3149, open in 0.54); the accepted connections inherit it,
    and asyncio sets TCP_NODELAY only where ``proto`` says TCP. A response goes out in two
    writes (headers, then body), so the body waited for the client's delayed ACK: `/keys` on
    two workers answered 1,460 req/s with a p99 of 48 ms under wrk, one worker ~17,000."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class WorkerHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol as a worker of ``ostiary serve`` runs it: TCP_NODELAY on
    every connection (``no_delay``), and each response's head sent with its body
    (``HeadWithBody``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(HeadWithBody(transport, self.loop))  # type: ignore[arg-type]


class HeadWithBody:
    """A connection's transport that sends a response's head in the same write as its body.

    uvicorn 0.54 writes the status line and headers as soon as the app sends
    ``http.response.start``, and the body in a second write: two ``send`` calls and two TCP
    segments per response, and a client that reads twice. It has no option to join them, so
    this wrapper does: a write that starts a response (``HTTP/1.1 ...``) is held and goes out
    with the next write, or at the next turn of the event loop if none comes (a streamed body,
    a ``HEAD`` answer, ``100 Continue``). Nothing is reordered: every write passes through
    here, and closing the connection sends a held head first. Measured under wrk, 64
    connections, one worker (interleaved pairs): /keys 12,112-13,717 -> 14,069-15,769 req/s
    (CPU per request 72-85 -> 63-70 µs), discovery +10-13 %; userinfo and client_credentials
    unchanged."""

    __slots__ = ("_flush", "_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._flush: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._forget_head()
            self._transport.write(head + data)
        elif data[:9] == b"HTTP/1.1 ":
            self._head = bytes(data)
            self._flush = self._loop.call_soon(self.send_head)
        else:
            self._transport.write(data)

    def writelines(self, lines: Iterable[bytes | bytearray | memoryview]) -> None:
        self.send_head()
        self._transport.writelines(lines)

    def send_head(self) -> None:
        """Send a held head now (unless the connection is closing: then no one reads it)."""
        head = self._head
        if head is None:
            return
        self._forget_head()
        if not self._transport.is_closing():
            self._transport.write(head)

    def _forget_head(self) -> None:
        self._head = None
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._head or b"")

    def write_eof(self) -> None:
        self.send_head()
        self._transport.write_eof()

    def close(self) -> None:
        self.send_head()
        self._transport.close()

    def abort(self) -> None:
        self._forget_head()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # Reading: is_closing, get_extra_info, pause_reading, resume_reading, set_protocol...
        return getattr(self._transport, name)


def _worker_count(value: str) -> int:
    """1-512, as OSTIARY_WORKERS: the workers read their count back from that variable."""
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= count <= 512:
        raise argparse.ArgumentTypeError("must be between 1 and 512")
    return count


def default_workers(settings: Settings) -> int:
    return settings.workers or max(1, os.cpu_count() or 1)


async def _prepare(settings: Settings) -> None:
    services = build_services(settings)
    try:
        await prepare(services)
    finally:
        await services.engine.dispose()


def _metrics_dir(settings: Settings) -> None:
    """Worker processes share Prometheus metrics through files in a fresh folder."""
    folder = settings.data_dir / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def run(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_prepare(settings))
    workers = args.workers or default_workers(settings)
    # The workers build their settings from the environment: tell them how many they are
    # (each takes its share of the cores for password hashing).
    os.environ["OSTIARY_WORKERS"] = str(workers)
    if workers > 1:
        _metrics_dir(settings)
    print(
        f"Ostiary ({settings.environment.value}) on http://{args.host}:{args.port} "
        f"with {workers} worker(s)\n"
        f"  issuer     {settings.issuer}\n"
        f"  discovery  {settings.issuer}/.well-known/openid-configuration\n"
        f"  keys       {settings.issuer}/keys\n"
        f"  database   {_safe_url(settings.database_url)}",
        flush=True,
    )
    uvicorn.run(
        "ostiary.bootstrap:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers,
        access_log=False,  # our own request log leaves query strings (hints, codes) out
        log_level="warning",
        # X-Forwarded-For is read by the app, from OSTIARY_TRUSTED_PROXIES only
        # (ostiary.web.proxies): uvicorn's own handling trusts 127.0.0.1 by default.
        proxy_headers=False,
        server_header=False,
        # asyncio's own loop, not uvloop: under load uvloop served some requests long after
        # others (measured at 64 connections on /userinfo: p50 28-37 ms, p99 620-880 ms with
        # uvloop; p50 30-38 ms, p99 43-48 ms with asyncio, at the same throughput). uvloop was
        # ~15% faster on /keys, not worth a login that sometimes takes a second.
        loop="asyncio",
        http=WorkerHttpProtocol,
    )
    return 0


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url
