"""A real browser for the interop tests: Debian's Chromium driven by playwright (sync API).

``BrowserSession`` wraps one fresh browser context (its cookie jar is "the browser's" shared
Ostiary session) and does what a person does in a code flow: open the authorization URL, sign in
on the hosted login page, and land on the app's redirect URI.

The app behind the redirect URI is a ``CallbackCatcher``: a tiny HTTP server on 127.0.0.1 and an
OS-chosen free port that records the full URL of every request and answers with a small page (a
native app's RFC 8252 loopback listener is exactly this). Why not ``context.route`` on the
redirect URI: playwright never fires routes for the hops of a redirect chain (by design, see
microsoft/playwright#2617 and #33882), so the 303 from ``/oauth/authorize`` to an unserved port
ends in ``net::ERR_CONNECTION_REFUSED`` instead of reaching the route.

Every page shown is saved as ``test-artifacts/screenshots/<test>-<NN>-<step>.png`` (git-ignored)
so humans can look at what the browser saw.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # playwright is imported by the `chromium` fixture, when a test needs it
    from playwright.sync_api import BrowserContext, Page, Request

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NAVIGATION_TIMEOUT_MS = 15_000
CALLBACK_PAGE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Callback captured</title>"
    b"<link rel=icon href=data:,></head><body style='font-family:sans-serif;margin:3rem'>"
    b"<h1>Callback captured</h1><p>The interop test's app received the authorization "
    b"response.</p></body></html>"
)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:120]


def _without_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


# ---------------------------------------------------------------------------------------------
# The app's redirect URI


class CallbackCatcher:
    """A loopback HTTP server standing in for an app's redirect URI: ``GET path?…`` is recorded
    (full URL as the browser sent it) and answered with a tiny page."""

    def __init__(self, path: str = "/cb") -> None:
        self.path = path
        self.urls: list[str] = []
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if _without_query(self.path) != catcher.path:
                    self.send_error(404)
                    return
                catcher.urls.append(f"http://{self.headers['Host']}{self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(CALLBACK_PAGE)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(CALLBACK_PAGE)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        """The URI the browser is sent back to (``http://127.0.0.1:<port><path>``)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------------
# The browser


@dataclass
class Landing:
    """Where the browser ended up: the callback URL, and the navigations and all requests made on
    the way (in order)."""

    callback_url: str
    navigations: list[str]
    requests: list[str]

    @property
    def hosted_pages(self) -> list[str]:
        """Requests for Ostiary's hosted pages (``/ui/…``) made on the way."""
        return [url for url in self.requests if urlsplit(url).path.startswith("/ui/")]


@dataclass
class BrowserSession:
    """One browser context (cookie jar) and one page in it, for one test."""

    context: BrowserContext
    test_name: str
    page: Page = field(init=False)
    requests: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    screenshots: list[Path] = field(default_factory=list)
    diagnostics: Callable[[], str] | None = None  # e.g. the server's log, added to failures
    _step: int = 0

    def __post_init__(self) -> None:
        # A re-run replaces this test's screenshots instead of mixing in stale steps.
        for stale in SCREENSHOT_DIR.glob(f"{_safe(self.test_name)}-[0-9][0-9]-*.png"):
            stale.unlink(missing_ok=True)
        self.context.set_default_timeout(NAVIGATION_TIMEOUT_MS)
        self.context.on("request", self._record_request)
        self.page = self.context.new_page()

    def close(self) -> None:
        self.context.close()

    # -- recording -------------------------------------------------------------------------------

    def _record_request(self, request: Request) -> None:
        self.requests.append(request.url)
        if request.is_navigation_request():
            self.navigations.append(request.url)

    def screenshot(self, step: str) -> Path:
        """Save the current page as ``<test>-<NN>-<step>.png``; return the path."""
        self._step += 1
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{_safe(self.test_name)}-{self._step:02d}-{_safe(step)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.screenshots.append(path)
        return path

    def fail(self, message: str, step: str) -> AssertionError:
        """An AssertionError with a screenshot, the page's text and the diagnostics."""
        shot = self.screenshot(step)
        text = self.page.inner_text("body")[:1500] if self.page.url != "about:blank" else ""
        extra = self.diagnostics() if self.diagnostics else ""
        return AssertionError(
            f"{message}\n--- screenshot: {shot}\n--- page at {self.page.url}:\n{text}"
            + (f"\n--- diagnostics:\n{extra}" if extra else "")
        )

    # -- flows -----------------------------------------------------------------------------------

    def _back_at_app(self, app: CallbackCatcher, seen_before: int) -> str:
        """The browser shows the app's page: return the callback URL the app received."""
        base = app.redirect_uri
        if _without_query(self.page.url) != base:
            raise self.fail(f"expected the browser back at {base}", "unexpected-page")
        assert len(app.urls) > seen_before, f"the app at {base} received no request"
        assert app.urls[-1] == self.page.url, (app.urls[-1], self.page.url)
        return app.urls[-1]

    def open(self, url: str, step: str) -> None:
        """Navigate to ``url`` and screenshot whatever it shows."""
        self.page.goto(url, wait_until="load")
        self.screenshot(step)

    def sign_in(self, auth_url: str, app: CallbackCatcher, email: str, password: str) -> Landing:
        """Open the authorization URL, expect the hosted login page, sign in with the email and
        password, land on the app's redirect URI; return the callback URL and what was
        requested on the way."""
        seen = len(app.urls)
        start, nav_start = len(self.requests), len(self.navigations)
        response = self.page.goto(auth_url, wait_until="load")
        status = response.status if response else None
        if urlsplit(self.page.url).path != "/ui/login" or status != 200:
            raise self.fail(f"expected the hosted login page (200), got {status}", "no-login-page")
        self.screenshot("login-page")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.screenshot("login-filled")
        with self.page.expect_navigation(wait_until="load"):
            self.page.click("button[type=submit]")
        callback = self._back_at_app(app, seen)
        self.screenshot("callback")
        return Landing(callback, self.navigations[nav_start:], self.requests[start:])

    def authorize(self, auth_url: str, app: CallbackCatcher, step: str = "callback") -> Landing:
        """Open the authorization URL and expect the browser straight back at the app (with the
        shared session in place, no page is shown on the way)."""
        seen = len(app.urls)
        start, nav_start = len(self.requests), len(self.navigations)
        self.page.goto(auth_url, wait_until="load")
        callback = self._back_at_app(app, seen)
        self.screenshot(step)
        return Landing(callback, self.navigations[nav_start:], self.requests[start:])
