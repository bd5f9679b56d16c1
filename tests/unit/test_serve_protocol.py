"""The HTTP protocol of `ostiary serve`'s workers.

It turns Nagle's algorithm off on every connection, also where uvicorn bound the listening
socket itself (more than one worker), which asyncio alone leaves on: there a response written
in two parts waited for the client's delayed ACK (~40 ms per request). And it sends a
response's head with its body, in one write, without holding a head whose body is not coming
yet."""

from __future__ import annotations

import argparse
import asyncio
import socket
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

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

    assert given["http"] is serve.WorkerHttpProtocol
    assert 2 == given["workers"]


class RecordingTransport(asyncio.Transport):
    """What a connection's transport was asked to send, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.sent.append(bytes(data))

    def writelines(self, list_of_data: Iterable[Any]) -> None:
        self.sent.extend(bytes(data) for data in list_of_data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


async def turn_of_the_loop() -> None:
    await asyncio.sleep(0)


async def test_a_head_and_its_body_go_out_in_one_write() -> None:
    inner = RecordingTransport()
    transport = serve.HeadWithBody(inner, asyncio.get_running_loop())

    transport.write(HEAD)
    assert [] == inner.sent
    assert len(HEAD) == transport.get_write_buffer_size()
    transport.write(memoryview(b"ok"))
    await turn_of_the_loop()

    assert [HEAD + b"ok"] == inner.sent


async def test_a_head_without_a_body_yet_goes_out_at_the_next_turn_of_the_loop() -> None:
    inner = RecordingTransport()
    transport = serve.HeadWithBody(inner, asyncio.get_running_loop())

    transport.write(HEAD)  # a streamed body, a HEAD answer, "100 Continue"
    await turn_of_the_loop()
    transport.write(b"ok")

    assert [HEAD, b"ok"] == inner.sent


async def test_nothing_overtakes_a_held_head() -> None:
    loop = asyncio.get_running_loop()
    inner = RecordingTransport()
    transport = serve.HeadWithBody(inner, loop)
    transport.write(HEAD)
    transport.writelines([b"o", b"k"])
    assert [HEAD, b"o", b"k"] == inner.sent

    closing = RecordingTransport()
    transport = serve.HeadWithBody(closing, loop)
    transport.write(HEAD)
    transport.close()
    assert [HEAD] == closing.sent
    assert closing.closed


async def test_an_aborted_connection_sends_nothing_more() -> None:
    inner = RecordingTransport()
    transport = serve.HeadWithBody(inner, asyncio.get_running_loop())
    transport.write(HEAD)
    transport.abort()
    await turn_of_the_loop()

    assert [] == inner.sent
    assert inner.aborted


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


class Sends:
    """The writes that reach a worker's connection transports."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def wrap(self, transport: asyncio.Transport) -> Any:
        sends = self

        class Recorded:
            def write(self, data: Any) -> None:
                sends.writes.append(bytes(data))
                transport.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(transport, name)

        return Recorded()


async def test_a_worker_answers_whole_and_streamed_responses_on_one_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sends = Sends()

    class RecordedHeadWithBody(serve.HeadWithBody):
        def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
            super().__init__(sends.wrap(transport), loop)

    monkeypatch.setattr(serve, "HeadWithBody", RecordedHeadWithBody)
    body_may_come = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["path"] == "/streamed":
            await body_may_come.wait()  # set by the client once it has read the head
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD"
                    else scope["path"][1:6].encode()})  # fmt: skip

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # a connection waits in the backlog until the server accepts it
    config = uvicorn.Config(
        app, http=serve.WorkerHttpProtocol, loop="asyncio", lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(LIMIT_S):
            reader, writer = await asyncio.open_connection(*listener.getsockname())
            writer.write(b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
            head, body = await _read_response(reader)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b"whole" == body
            assert [head + body] == sends.writes  # one write, one TCP segment

            writer.write(b"GET /streamed HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")  # before the body exists
            assert head.startswith(b"HTTP/1.1 200 ")
            body_may_come.set()
            assert b"strea" == await reader.readexactly(5)

            writer.write(b"HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            writer.write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"again" == (await _read_response(reader))[1]
            writer.close()
    finally:
        server.should_exit = True
        await serving
