"""Test helpers for the SDK's tests: an in-process Ostiary (ASGI), a real one (uvicorn on
127.0.0.1 in a thread), a scripted browser for Ostiary's hosted login page, and transports."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
import uvicorn
from ostiary.bootstrap import build_services, prepare
from ostiary.config import load_settings
from ostiary.services.container import Services
from ostiary.web.app import create_web_app

T = TypeVar("T")
ISSUER = "http://ostiary.test"
PASSWORD = "correct horse battery staple"
# Fast argon2 in tests (as in the server's own suite).
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}
_FIELD = r'name="{}" value="([^"]+)"'


def ostiary_settings(data_dir: Path, issuer: str, **env: str) -> Any:
    """Development settings in ``data_dir``; ``env`` adds OSTIARY_* variables."""
    return load_settings(
        {"OSTIARY_DATA_DIR": str(data_dir), "OSTIARY_ISSUER": issuer, **FAST_ARGON2, **env}
    )


def _login_form(html: str) -> dict[str, str]:
    fields = {}
    for name in ("txn", "csrf_token"):
        match = re.search(_FIELD.format(name), html)
        assert match, f"no {name} in the login page"
        fields[name] = match.group(1)
    return fields


class BrowserStuck(AssertionError):
    """The scripted browser met a page it does not know."""


async def sign_in(
    browser: httpx.AsyncClient, url: str, *, issuer: str, email: str, password: str = PASSWORD
) -> str:
    """Open ``url`` (an authorize URL) and follow Ostiary's pages, filling the login form when
    it shows; returns the first URL outside the issuer (the app's callback)."""
    response = await browser.get(url)
    for _ in range(10):
        if response.status_code in (302, 303):
            target = urljoin(str(response.url), response.headers["location"])
            if not target.startswith(issuer + "/"):
                return target
            response = await browser.get(target)
        elif response.status_code == 200 and 'name="txn"' in response.text:
            form = _login_form(response.text)
            response = await browser.post(
                f"{issuer}/ui/login", data={**form, "email": email, "password": password}
            )
        else:
            raise BrowserStuck(f"{response.status_code} at {response.url}: {response.text[:300]}")
    raise BrowserStuck("too many redirects")


def sign_in_sync(
    browser: httpx.Client, url: str, *, issuer: str, email: str, password: str = PASSWORD
) -> str:
    """``sign_in`` for a sync browser."""
    response = browser.get(url)
    for _ in range(10):
        if response.status_code in (302, 303):
            target = urljoin(str(response.url), response.headers["location"])
            if not target.startswith(issuer + "/"):
                return target
            response = browser.get(target)
        elif response.status_code == 200 and 'name="txn"' in response.text:
            form = _login_form(response.text)
            response = browser.post(
                f"{issuer}/ui/login", data={**form, "email": email, "password": password}
            )
        else:
            raise BrowserStuck(f"{response.status_code} at {response.url}: {response.text[:300]}")
    raise BrowserStuck("too many redirects")


class CountingTransport(httpx.AsyncBaseTransport):
    """Forwards to another transport and counts requests by path."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    def count(self, path: str) -> int:
        return self.paths.count(path)


class HostRouter(httpx.AsyncBaseTransport):
    """One browser for several in-process apps: routes each request by host name."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no app at {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@contextlib.asynccontextmanager
async def serve_on_loopback(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in the running event loop;
    yields its base URL. For what must arrive over real HTTP (back-channel logout)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve([sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@dataclasses.dataclass
class InProcessOstiary:
    """An Ostiary whose HTTP is served in-process through ``httpx.ASGITransport``."""

    services: Services
    app: Any
    issuer: str = ISSUER

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def browser(self) -> httpx.AsyncClient:
        """A cookie-keeping client standing in for the user's browser."""
        return httpx.AsyncClient(transport=self.transport())

    async def user(self, email: str = "ada@example.com", name: str = "Ada Lovelace") -> Any:
        return await self.services.users.create(
            email, password=PASSWORD, name=name, email_verified=True
        )

    async def sign_in(self, browser: httpx.AsyncClient, url: str, email: str) -> str:
        return await sign_in(browser, url, issuer=self.issuer, email=email)

    async def sign(self, claims: dict[str, Any], typ: str) -> str:
        """A JWT signed with the server's current key (for hand-made test tokens)."""
        return await self.services.keys.sign(claims, typ=typ)


class ThreadedOstiary:
    """A real Ostiary: uvicorn on 127.0.0.1 (a free port), on its own event loop in a thread.
    ``call`` runs a coroutine (e.g. ``services.apps.create``) on that loop."""

    def __init__(self, data_dir: Path) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.issuer = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.services = build_services(ostiary_settings(data_dir, self.issuer))
        self.call(prepare(self.services))
        config = uvicorn.Config(
            create_web_app(self.services), log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(self.server.serve([sock]), self.loop)
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or self._serving.done():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def user(self, email: str, name: str = "Grace Hopper") -> Any:
        return self.call(
            self.services.users.create(email, password=PASSWORD, name=name, email_verified=True)
        )

    def sign_in(self, browser: httpx.Client, url: str, email: str) -> str:
        return sign_in_sync(browser, url, issuer=self.issuer, email=email)

    def stop(self) -> None:
        self.server.should_exit = True
        self._serving.result(timeout=10)
        self.call(self.services.engine.dispose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
