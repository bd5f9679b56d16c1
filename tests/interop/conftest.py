"""Interop fixtures: ``live_server`` (a real ``ostiary serve`` on a free local port, one per test
module) and ``node_rp`` (openid-client on Node as a strict relying party), ``browser`` (Debian's
Chromium through playwright, a fresh context per test), and ``apache_installed`` (Debian's apache2
with mod_auth_openidc, see ``apache_harness.py``). See ``interop_harness.py`` and
``browser_harness.py`` for the helpers' methods.

A test module that needs a differently configured server overrides the module-scoped fixture
``live_server_env`` (extra ``OSTIARY_*`` variables) in that module.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn

import pytest
from apache_harness import missing_parts
from browser_harness import CHROMIUM, CHROMIUM_ARGS, BrowserSession, CallbackCatcher
from interop_harness import (
    IN_CI,
    INTEROP_DIR,
    LiveServer,
    NodeRP,
    start_live_server,
    stop_live_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def live_server_env() -> dict[str, str]:
    """Extra ``OSTIARY_*`` variables for this module's server; override in a module to change."""
    return {}


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_server_env: dict[str, str]
) -> Iterator[LiveServer]:
    """A real ``ostiary serve`` (one worker) on a free port, shared by the tests of a module."""
    server = start_live_server(tmp_path_factory.mktemp("live-server"), live_server_env)
    try:
        yield server
    finally:
        stop_live_server(server)


def _missing_tool(message: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def _npm_installed() -> bool:
    """node_modules matches the lockfile as of the last `npm ci` (npm writes this marker)."""
    marker = INTEROP_DIR / "node_modules" / ".package-lock.json"
    lock = INTEROP_DIR / "package-lock.json"
    return marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime


@pytest.fixture(scope="session")
def node_executable() -> str:
    """``node`` with ``npm ci`` done in tests/interop (skipped without Node; fails with CI=true)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing_tool("the interop tests need Node.js and npm on PATH (node 20+)")
    if not _npm_installed():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=INTEROP_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(
                f"`npm ci` in {INTEROP_DIR} failed ({done.returncode})\n"
                f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}",
                pytrace=False,
            )
    return node


@pytest.fixture(scope="session")
def node_rp(node_executable: str) -> NodeRP:
    """The openid-client relying party: ``node_rp(step, **params) -> dict``."""
    return NodeRP(node_executable)


@pytest.fixture(scope="session")
def apache_installed() -> None:
    """Debian's apache2 and mod_auth_openidc are installed (skipped without; fails with CI=true)."""
    missing = missing_parts()
    if missing:
        _missing_tool(
            "the mod_auth_openidc interop tests need Debian's apache2 and "
            f"libapache2-mod-auth-openidc (missing: {', '.join(missing)})"
        )


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """A headless Debian Chromium for the module (skipped without it; fails with CI=true).

    Module-scoped on purpose: playwright's sync API keeps its own event loop marked as running
    while it is alive, so a browser left open past the interop modules would break every later
    pytest-asyncio test ("Runner.run() cannot be called from a running event loop")."""
    if not CHROMIUM.exists():
        _missing_tool(f"the browser interop tests need {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as missing:
        _missing_tool(
            f"the browser interop tests need playwright (pip install -e '.[test]'): {missing}"
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserSession]:
    """A fresh browser context (its cookies are the browser's shared session) and a page in it;
    every page visited is screenshotted to test-artifacts/screenshots/<test>-<NN>-<step>.png."""
    context = chromium.new_context(viewport={"width": 1024, "height": 800}, locale="en-US")
    session = BrowserSession(context, request.node.name)
    if "live_server" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("live_server")
        session.diagnostics = lambda: server.log()[-4000:]
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def app_callback() -> Iterator[Callable[..., CallbackCatcher]]:
    """``app_callback(path="/cb")``: a loopback "app" on a free port that records the URLs the
    browser is sent back to (its ``.redirect_uri`` is what to register); one per call, closed at
    the end of the module."""
    made: list[CallbackCatcher] = []

    def make(path: str = "/cb") -> CallbackCatcher:
        catcher = CallbackCatcher(path)
        made.append(catcher)
        return catcher

    try:
        yield make
    finally:
        for catcher in made:
            catcher.close()
