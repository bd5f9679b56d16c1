"""A small HTTP/1.1 keep-alive client on asyncio + httptools, for the load generator.

Why not httpx or aiohttp: on two cores the load generator competes with the server for CPU, so
every microsecond it spends per request is taken from the server under test. httpx costs several
hundred microseconds of Python per request; this client writes the request bytes itself and
parses the response with httptools (the C parser uvicorn uses, already in the venv), which is
several times cheaper. It does only what the benchmark needs: one connection per virtual user,
keep-alive, Content-Length bodies (and chunked, which httptools de-chunks), a cookie jar without
domain/path rules (each virtual user talks to one origin), and no TLS.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import httptools

__all__ = ["Client", "CookieJar", "HttpError", "Response", "parse_form"]


class HttpError(Exception):
    """The connection failed or the response could not be read."""


@dataclasses.dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.closed = False
        self.keep_alive = True
        self.received_any = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(HttpError(f"bad response: {err}"))
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection lost: {exc or 'closed by peer'}"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.headers = []
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(
                Response(self.parser.get_status_code(), self.headers, b"".join(self.body))
            )
        if not self.keep_alive and self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Client:
    """One keep-alive connection to one origin (reconnects when the server closed it)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.timeout = timeout
        self._proto: _Protocol | None = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        try:
            _transport, proto = await loop.create_connection(_Protocol, self.host, self.port)
        except OSError as err:
            raise HttpError(f"connect failed: {err}") from None
        return proto

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
    ) -> Response:
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self.host_header]
        lines.extend(f"{k}: {v}".encode("latin-1") for k, v in headers)
        if body is not None or method == "POST":
            lines.append(b"Content-Length: %d" % len(body or b""))
        raw = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
        for attempt in (0, 1):
            proto = self._proto
            reused = proto is not None
            if proto is None or proto.closed or not proto.keep_alive:
                proto = self._proto = await self._connect()
                reused = False
            loop = asyncio.get_running_loop()
            proto.waiter = loop.create_future()
            proto.received_any = False
            assert proto.transport is not None
            proto.transport.write(raw)
            try:
                return await asyncio.wait_for(proto.waiter, self.timeout)
            except HttpError:
                # A kept-alive connection the server closed just before our request: retry once.
                if attempt == 0 and reused and not proto.received_any:
                    self._proto = None
                    continue
                self.close()
                raise
            except TimeoutError:
                self.close()
                raise HttpError(f"timeout after {self.timeout} s") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None


class CookieJar:
    """Name → value, for one origin. Cookies that are deleted (Max-Age=0 or an expiry in the
    past) are dropped; paths and domains are ignored (one origin, distinct names)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update(self, response: Response) -> None:
        for line in response.header_all("set-cookie"):
            first, _, attrs = line.partition(";")
            name, _, value = first.partition("=")
            name = name.strip()
            lowered = attrs.lower()
            if "max-age=0" in lowered or "1970" in lowered or value == "":
                self.values.pop(name, None)
            else:
                self.values[name] = value.strip()

    def header(self) -> list[tuple[str, str]]:
        if not self.values:
            return []
        return [("Cookie", "; ".join(f"{k}={v}" for k, v in self.values.items()))]


_FORM = re.compile(r"<form\b[^>]*>", re.I)
_ATTR = re.compile(r'([a-zA-Z_:-]+)\s*=\s*"([^"]*)"')
_INPUT = re.compile(r"<input\b[^>]*>", re.I)


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)


def parse_form(page: str) -> tuple[str, dict[str, str]]:
    """The first form's action and its hidden inputs (name → value)."""
    match = _FORM.search(page)
    if match is None:
        raise HttpError("no <form> in the page")
    attrs = dict(_ATTR.findall(match.group(0)))
    fields: dict[str, str] = {}
    end = page.find("</form>", match.end())
    for tag in _INPUT.findall(page, match.end(), end if end > 0 else len(page)):
        a = {k.lower(): v for k, v in _ATTR.findall(tag)}
        if a.get("type", "").lower() == "hidden" and "name" in a:
            fields[a["name"]] = _unescape(a.get("value", ""))
    return _unescape(attrs.get("action", "")), fields
