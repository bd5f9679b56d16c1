"""Fixtures for the email tests (helpers in ``email_helpers.py`` and ``email_live.py``).

In-process: ``services`` (overridden here) starts each test from a copy of tests/conftest.py's
prepared data folder (``data_dir``), with the test's FakeClock ``clock`` and
``OSTIARY_LOGIN_METHODS=password,code_and_link``;
``make_driver(**OVERRIDES)`` builds services with other settings (on the same copied folder) and
an in-process client around them; ``driver`` is the default one. ``smtp_sink`` is a real SMTP
server (aiosmtpd) on 127.0.0.1 that records what it receives.

Real server and browser: ``live_server`` (``ostiary serve`` with the module's
``live_server_env``), ``node_rp`` (openid-client on Node), ``chromium`` and ``browsers`` (fresh
Chromium contexts whose screenshots are named ``email-<test>-…``). They reuse the interop
harness (tests/interop/interop_harness.py, browser_harness.py); the few fixtures are copied
here because pytest fixtures do not cross folders.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import httpx
import pytest

TESTS = Path(__file__).resolve().parents[2]
for _extra in (TESTS / "interop", TESTS / "features" / "flow"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

from browser_harness import CHROMIUM, CHROMIUM_ARGS, BrowserSession, CallbackCatcher  # noqa: E402
from email_helpers import EmailDriver, MakeDriver, SmtpSink  # noqa: E402
from interop_harness import (  # noqa: E402
    IN_CI,
    INTEROP_DIR,
    LiveServer,
    NodeRP,
    start_live_server,
    stop_live_server,
)

from ostiary.bootstrap import build_services, prepare  # noqa: E402
from ostiary.config import Settings  # noqa: E402
from ostiary.services.clock import Clock  # noqa: E402
from ostiary.services.container import Services  # noqa: E402
from ostiary.web.app import create_web_app  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser

EMAIL_METHODS = {"OSTIARY_LOGIN_METHODS": "password,code_and_link"}


# -- in-process ------------------------------------------------------------------------------


@pytest.fixture
async def make_driver(
    make_settings: Callable[..., Settings], clock: Clock, data_dir: Path
) -> AsyncIterator[MakeDriver]:
    """``await make_driver(**OVERRIDES)``: services with ``OSTIARY_*`` overrides (on top of
    password,code_and_link sign-in) and the test's clock, and an in-process client."""
    opened: list[tuple[Services, httpx.AsyncClient]] = []

    async def make(**overrides: str) -> EmailDriver:
        services = build_services(make_settings(**{**EMAIL_METHODS, **overrides}), clock=clock)
        await prepare(services)
        transport = httpx.ASGITransport(app=create_web_app(services))
        client = httpx.AsyncClient(transport=transport, base_url=services.settings.issuer)
        opened.append((services, client))
        return EmailDriver(client, services)

    try:
        yield make
    finally:
        for services, client in opened:
            await client.aclose()
            await services.engine.dispose()


@pytest.fixture
async def driver(make_driver: MakeDriver) -> EmailDriver:
    """The default in-process driver: password and email code + link sign-in, sign-up on."""
    return await make_driver()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, recording messages."""
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


# -- real server, Node relying party, Chromium ----------------------------------------------------


@pytest.fixture(scope="module")
def live_server_env() -> dict[str, str]:
    """Extra ``OSTIARY_*`` variables for this module's server; override in a module."""
    return dict(EMAIL_METHODS)


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_server_env: dict[str, str]
) -> Iterator[LiveServer]:
    """A real ``ostiary serve`` (one worker) on a free port, shared by a module's tests."""
    server = start_live_server(tmp_path_factory.mktemp("email-live-server"), live_server_env)
    try:
        yield server
    finally:
        stop_live_server(server)


def _missing_tool(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def node_rp() -> NodeRP:
    """openid-client on Node (``tests/interop``'s ``rp.mjs``; needs ``npm ci`` done there)."""
    node = shutil.which("node")
    if node is None:
        _missing_tool("the email browser tests need Node.js on PATH (node 20+)")
    if not (INTEROP_DIR / "node_modules" / "openid-client").is_dir():
        _missing_tool(f"run `npm ci` in {INTEROP_DIR} first (the interop tests do it)")
    return NodeRP(node)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium for the module (module-scoped: a sync-playwright browser alive
    past the module would break later pytest-asyncio tests)."""
    if not CHROMIUM.exists():
        _missing_tool(f"the email browser tests need {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as missing:
        _missing_tool(f"the email browser tests need playwright: {missing}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browsers(
    chromium: Browser, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], BrowserSession]]:
    """``browsers(label)``: a fresh browser context (its own cookies) and page; screenshots are
    saved as test-artifacts/screenshots/email-<test>-<label>-<NN>-<step>.png."""
    opened: list[BrowserSession] = []
    server: LiveServer | None = (
        request.getfixturevalue("live_server") if "live_server" in request.fixturenames else None
    )

    def open_one(label: str) -> BrowserSession:
        context = chromium.new_context(viewport={"width": 1024, "height": 800}, locale="en-US")
        session = BrowserSession(context, f"email-{request.node.name}-{label}")
        if server is not None:
            session.diagnostics = lambda: server.log()[-4000:]
        opened.append(session)
        return session

    try:
        yield open_one
    finally:
        for session in opened:
            session.close()


@pytest.fixture(scope="module")
def app_callback() -> Iterator[CallbackCatcher]:
    """The app's redirect URI: a loopback server recording where the browser is sent back."""
    catcher = CallbackCatcher("/cb")
    try:
        yield catcher
    finally:
        catcher.close()
