"""`ostiary serve` turns Nagle's algorithm off on every connection, also where uvicorn bound the
listening socket itself (more than one worker), which asyncio alone leaves on: there a response
written in two parts waited for the client's delayed ACK (~40 ms per request)."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable

import pytest

from ostiary.cli import serve
from ostiary.config import Settings

LIMIT_S = 5.0  # a limit for a local connection to be accepted, not a measurement


async def test_a_connection_to_a_socket_bound_as_uvicorn_binds_it_has_no_delay() -> None:
    # As uvicorn 0.54's Config.bind_socket() does for several workers: proto left at 0.
    listener = socket.socket(family=socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            serve.no_delay(transport)
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
    try:
        _reader, writer = await asyncio.open_connection(*listener.getsockname())
        async with asyncio.timeout(LIMIT_S):
            assert await accepted != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


def test_serve_gives_uvicorn_the_protocol_that_turns_nagle_off(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings]
) -> None:
    # What serve sets for its workers goes back as it was after the test.
    monkeypatch.delenv("OSTIARY_WORKERS", raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    given: dict[str, object] = {}
    monkeypatch.setattr(serve.uvicorn, "run", lambda *_args, **options: given.update(options))

    serve.run(make_settings(), argparse.Namespace(host="127.0.0.1", port=0, workers=2))

    assert given["http"] is serve.HttpToolsNoDelay
    assert 2 == given["workers"]
