"""The multi-app demo end to end, in real Chromium against a real ``ostiary demo``: one sign-in
on the web app carries over to the SPA and the desktop app without a password; the API takes
their access tokens (200), refuses none (401) and a token without ``reports:read`` (403); a
sign-out in the SPA ends the web app's session through back-channel logout and the desktop
app's through its refused refresh. Screenshots: test-artifacts/screenshots/demo-*.png."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from demo_helpers import SCREENSHOTS, RunningDemo, desktop, http_get, run_desktop

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

VIEWER = "viewer@example.com"
VIEWER_PASSWORD = "viewer password 1"


def shot(page: Page, name: str) -> None:
    """Save the page as test-artifacts/screenshots/demo-NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"demo-{name}.png"), full_page=True)


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    """One browser profile (one cookie jar) for the whole story, as a user's browser."""
    context = chromium.new_context(viewport={"width": 1100, "height": 760}, locale="en-US")
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


class Visits:
    """The addresses a page's main frame went through, to prove no login page was shown."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("framenavigated", lambda frame: self._seen(page, frame))

    def _seen(self, page: Page, frame: object) -> None:
        if frame is page.main_frame:
            self.urls.append(page.main_frame.url)

    def login_pages(self) -> list[str]:
        return [url for url in self.urls if "/ui/login" in url]


def sign_in_on_login_page(page: Page, email: str, password: str) -> None:
    page.wait_for_url("**/ui/login**")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def spa_call(page: Page, path: str, *, token: bool = True) -> tuple[str, str]:
    """Click the SPA's button for ``GET path``; the status and body it shows."""
    page.locator("#result-status").evaluate("el => { el.textContent = '' }")
    page.click(f"#api button[data-path='{path}'][data-token='{'yes' if token else 'no'}']")
    page.wait_for_selector("#result-status:not(:empty)")
    return page.inner_text("#result-status"), page.inner_text("#result-body")


def test_one_sign_in_across_web_spa_desktop_and_api(
    demo: RunningDemo, context: BrowserContext, chromium: Browser
) -> None:
    """The demo's story: sign in once, use every app, sign out once, signed out everywhere."""
    state = demo.state()
    page = context.new_page()

    # 1. The web app: signed out, then signed in through Ostiary's login page.
    page.goto(demo.url("web"))
    assert "Signed out" == page.inner_text("#status")
    shot(page, "01-web-signed-out")
    page.click("#sign-in")
    page.wait_for_url("**/ui/login**")
    shot(page, "02-ostiary-login-page")
    sign_in_on_login_page(page, "demo@example.com", demo.password)
    page.wait_for_url(demo.url("web", "/"))
    assert "Signed in" == page.inner_text("#status")
    assert "demo@example.com" == page.inner_text("#email")
    sid = page.inner_text("#sid")
    assert sid.startswith("ses_"), sid
    shot(page, "03-web-signed-in")
    page.click("#profile")
    page.wait_for_url(demo.url("web", "/profile"))
    assert "reports:read" in page.inner_text("main")
    shot(page, "04-web-profile")

    # 2. The SPA, same browser: signed in without a password prompt, in the same session.
    visits = Visits(page)
    page.goto(demo.url("spa"))
    page.wait_for_selector("#signed-in", state="visible")
    assert [] == visits.login_pages()
    assert sid == page.inner_text("#sid")
    assert "demo@example.com" == page.inner_text("#email")
    shot(page, "05-spa-signed-in")

    # 3. The SPA calls the API: 200 with its token (also for reports), 401 without one.
    status, body = spa_call(page, "/api/hello")
    assert "200" == status, body
    assert state["spa"]["client_id"] in body and sid in body
    shot(page, "06-spa-api-hello")
    status, body = spa_call(page, "/api/reports")
    assert "200" == status, body
    assert "Q1 revenue" in body
    shot(page, "07-spa-api-reports")
    status, body = spa_call(page, "/api/hello", token=False)
    assert "401" == status, body
    assert "WWW-Authenticate: Bearer" in body
    shot(page, "08-spa-api-without-token")

    # 4. The desktop app signs in through the same browser profile: no password prompt.
    token_file = demo.data_dir / "desktop-tokens.json"
    login = desktop(demo, "login")
    assert login.stdout is not None
    url = ""
    for line in login.stdout:
        if line.startswith("http://"):
            url = line.strip()
            break
    assert url.startswith(demo.url("ostiary", "/oauth/authorize?")), url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url  # loopback, ephemeral port
    visits.urls.clear()
    page.goto(url)
    page.wait_for_selector("text=You are signed in")
    assert [] == visits.login_pages()
    shot(page, "09-desktop-loopback-signed-in")
    rest, _ = login.communicate(timeout=30)
    assert 0 == login.returncode, rest
    assert f"session (sid) {sid}" in rest
    assert 0o600 == stat.S_IMODE(token_file.stat().st_mode)

    # 5. The desktop app calls the API with its own token (a new run: silent refresh first).
    code, output = run_desktop(demo, "call-api")
    assert 0 == code, output
    assert f"{demo.url('api', '/api/hello')} -> 200" in output
    assert f"{demo.url('api', '/api/reports')} -> 200" in output
    assert state["desktop"]["client_id"] in output

    # 6. The API by hand: 401 without a token or with a forged one.
    assert 401 == http_get(demo.url("api", "/api/hello"))[0]
    assert 401 == http_get(demo.url("api", "/api/reports"), token="not-a-token")[0]

    # 7. A user without the role: the API says 403 to /api/reports, 200 to /api/hello.
    demo.cli(
        "users", "create", "--email", VIEWER, "--name", "Vic Viewer", "--password-stdin",
        input_text=VIEWER_PASSWORD + "\n",
    )  # fmt: skip
    other = chromium.new_context(viewport={"width": 1100, "height": 760}, locale="en-US")
    other.set_default_timeout(20_000)
    try:
        viewer = other.new_page()
        viewer.goto(demo.url("spa"))
        viewer.wait_for_selector("#signed-out", state="visible")  # prompt=none: no session
        viewer.click("#sign-in")
        sign_in_on_login_page(viewer, VIEWER, VIEWER_PASSWORD)
        viewer.wait_for_selector("#signed-in", state="visible")
        assert sid != viewer.inner_text("#sid")
        assert "200" == spa_call(viewer, "/api/hello")[0]
        status, body = spa_call(viewer, "/api/reports")
        assert "403" == status, body
        assert 'error="insufficient_scope"' in body
        shot(viewer, "10-spa-viewer-403")
    finally:
        other.close()

    # 8. Sign out in the SPA: Ostiary ends the shared session.
    page.goto(demo.url("spa"))
    page.wait_for_selector("#signed-in", state="visible")
    page.click("#sign-out")
    page.wait_for_url(demo.url("spa", "/"))
    page.wait_for_selector("#signed-out", state="visible")
    shot(page, "11-spa-signed-out")

    # 9. The web app got the back-channel logout: signed out on reload (its own access token
    #    is still valid for minutes, so nothing else could have ended the local session).
    page.goto(demo.url("web"))
    deadline = time.monotonic() + 20
    while "Signed out" != page.inner_text("#status") and time.monotonic() < deadline:
        time.sleep(0.3)
        page.reload()
    assert "Signed out" == page.inner_text("#status")
    assert '"POST /auth/backchannel-logout HTTP/1.1" 200' in demo.log("web")
    shot(page, "12-web-signed-out-by-backchannel")

    # 10. The desktop app's next refresh fails: it says so and forgets its tokens.
    code, output = run_desktop(demo, "call-api")
    assert 1 == code, output
    assert "You are signed out: Ostiary refused to refresh the session" in output
    assert not token_file.exists()
    code, output = run_desktop(demo, "whoami")
    assert 1 == code
    assert "You are signed out." in output
