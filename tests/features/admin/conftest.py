"""Fixtures for the dashboard tests: ``admin`` (a signed-in administrator's browser on the
in-process app), ``browser_for`` (more browsers on the same app), and for the real-browser tests
``live_server`` and ``chromium`` (see ``live_server.py``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from admin_helpers import ADMIN_EMAIL, AdminBrowser
from live_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    TlsProxy,
    start_server,
    stop_server,
)

from ostiary.services.container import Services
from ostiary.web.app import create_web_app

if TYPE_CHECKING:
    from playwright.sync_api import Browser

BrowserFactory = Callable[[], Awaitable[AdminBrowser]]


@pytest.fixture
async def browser_for(services: Services) -> AsyncIterator[BrowserFactory]:
    """``await browser_for()``: a fresh browser (its own cookie jar) on the in-process app."""
    app = create_web_app(services)
    clients: list[httpx.AsyncClient] = []

    async def make() -> AdminBrowser:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=services.settings.issuer
        )
        clients.append(client)
        return AdminBrowser(client, services)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()


@pytest.fixture
async def admin(browser_for: BrowserFactory) -> AdminBrowser:
    """A browser signed in to the dashboard as an administrator (root@example.com)."""
    browser = await browser_for()
    await browser.user(ADMIN_EMAIL, admin=True, name="Root Admin")
    landed = await browser.sign_in()
    assert 200 == landed.status_code, landed.text[:500]
    assert "/admin/apps" == landed.url.path
    return browser


# -- a real server and a real browser --------------------------------------------------------------

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``ostiary serve`` (development, one worker) on a free port, shared by a module's tests."""
    server = start_server(tmp_path_factory.mktemp("admin-live"))
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (skipped when missing; a failure with CI=true). Module-scoped:
    playwright's sync API keeps an event loop running while it is open, which the async tests
    of the other modules must not find."""
    if not CHROMIUM.exists():
        message = f"the dashboard browser tests need {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "viewport_width(px): the browser width of a dashboard browser test"
    )


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``ostiary serve`` in production mode (migrated first, a secret key, Secure cookies)
    behind a TLS-terminating proxy, so its https issuer is real for the browser."""
    folder = tmp_path_factory.mktemp("admin-production")
    proxy = TlsProxy(folder)
    try:
        server = start_server(
            folder,
            {
                "OSTIARY_ENVIRONMENT": "production",
                "OSTIARY_ISSUER": proxy.url,
                "OSTIARY_SECRET_KEY": "production-test-key-" + "x" * 40,
            },
            port=proxy.backend_port,
        )
        try:
            yield server
        finally:
            stop_server(server)
    finally:
        proxy.close()
