"""The dashboard's layout and contrast in real Chromium: at 320 px (a phone, or 200 % zoom)
no page scrolls sideways, the unchecked switch and the dark-mode focus ring reach 3:1 (WCAG
1.4.11), and the copy button copies and says so. Screenshots go to
test-artifacts/screenshots/admin-layout-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from live_server import SCREENSHOTS, LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

ADMIN = "ada.admin@example.com"
MEMBER = "grace.brewster.murray.hopper@very-long-department-name.example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    live_server.create_user(ADMIN, PASSWORD, admin=True)
    live_server.create_user(MEMBER, PASSWORD)
    return live_server


@pytest.fixture(scope="module")
def signed_in(server: LiveServer, chromium: Browser) -> Iterator[dict[str, str]]:
    """The administrator's cookies, a web app with two secrets, and the member's page (signed
    in once, so the member has a live session too)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        sign_in(page, server, ADMIN, "/admin")
        page.goto(server.url("/admin/apps/new"))
        page.fill("#name", "Billing portal with a rather long name")
        page.check("#type-web")
        page.click("button:has-text('Create application')")
        app_path = page.url.removeprefix(server.issuer)
        page.click("button:has-text('Generate new secret')")
        member = chromium.new_context()
        try:
            sign_in(member.new_page(), server, MEMBER, "/ui/account/sessions")
        finally:
            member.close()
        page.goto(server.url("/admin/users"))
        page.click(f"table >> text={MEMBER}")
        user_path = page.url.removeprefix(server.issuer)
        yield {"state": context.storage_state(), "app": app_path, "user": user_path}  # type: ignore[dict-item]
    finally:
        context.close()


def sign_in(page: Page, server: LiveServer, email: str, path: str) -> None:
    page.goto(server.url(path))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def context_for(
    chromium: Browser, signed_in: dict[str, str], *, width: int, scheme: str
) -> BrowserContext:
    context = chromium.new_context(
        viewport={"width": width, "height": 800},
        color_scheme=scheme,  # type: ignore[arg-type]
        storage_state=signed_in["state"],  # type: ignore[arg-type]
        locale="en-US",
    )
    context.set_default_timeout(15_000)
    return context


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-layout-{name}.png"), full_page=True)


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two computed CSS colours (``rgb(…)``; alpha is composited over
    ``second`` first, which must be opaque)."""
    fg, bg = _rgba(first), _rgba(second)
    alpha = fg[3]
    mixed = tuple(fg[i] * alpha + bg[i] * (1 - alpha) for i in range(3))
    light, dark = sorted((_luminance(mixed), _luminance(bg[:3])), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rgba(css: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    assert len(numbers) in (3, 4), css
    return (numbers[0], numbers[1], numbers[2], numbers[3] if len(numbers) == 4 else 1.0)


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_scrolls_sideways_at_320_px(
    server: LiveServer, chromium: Browser, signed_in: dict[str, str], scheme: str
) -> None:
    """At 320 px the sessions list, a user's page (a long email) and an app's page (two
    secrets, the delete panel) are no wider than the window."""
    context = context_for(chromium, signed_in, width=320, scheme=scheme)
    try:
        page = context.new_page()
        for name, path in (
            ("sessions", "/admin/sessions"),
            ("user", signed_in["user"]),
            ("app", signed_in["app"]),
            ("log", "/admin/log"),
        ):
            page.goto(server.url(path))
            widths = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (path, widths)
            shot(page, f"{name}-320-{scheme}")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_unchecked_switch_and_focus_ring_reach_3_to_1(
    server: LiveServer, chromium: Browser, signed_in: dict[str, str], scheme: str
) -> None:
    """An unchecked switch's track and an input's focus ring, as Chromium computes them from
    the stylesheets, have at least 3:1 contrast with the panel they sit on."""
    context = context_for(chromium, signed_in, width=1280, scheme=scheme)
    try:
        page = context.new_page()
        page.goto(server.url(signed_in["app"]))
        switch = page.locator("#third_party")
        assert not switch.is_checked()
        panel = page.evaluate(
            "getComputedStyle(document.querySelector('#third_party').closest('.panel'))"
            ".backgroundColor"
        )
        track = switch.evaluate("e => getComputedStyle(e).backgroundColor")
        assert contrast(track, panel) >= 3.0, (track, panel)

        page.focus("#name")
        page.wait_for_timeout(500)  # the 120 ms transition of the ring, finished
        shadow = page.evaluate("getComputedStyle(document.querySelector('#name')).boxShadow")
        ring = re.search(r"rgba?\([^)]*\)", shadow)
        assert ring is not None, shadow
        if scheme == "dark":  # in light mode the 6:1 accent border is the indicator
            assert contrast(ring.group(0), panel) >= 3.0, (shadow, panel)
        shot(page, f"app-focus-1280-{scheme}")
    finally:
        context.close()


def test_the_copy_button_copies_the_client_id_and_says_so(
    server: LiveServer, chromium: Browser, signed_in: dict[str, str]
) -> None:
    """Pressing Copy (from the keyboard) puts the client ID on the clipboard, the button reads
    "Copied" and the live region announces it."""
    from playwright.sync_api import expect

    context = context_for(chromium, signed_in, width=1280, scheme="light")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.issuer)
    try:
        page = context.new_page()
        page.goto(server.url(signed_in["app"]))
        button = page.locator("button[data-copy='client-id']")
        expect(button).to_be_visible()
        expect(button).to_have_attribute("aria-label", "Copy client ID")
        button.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#copy-status")).to_have_text("Copied")
        expect(button).to_contain_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert page.input_value("#client-id") == copied
        shot(page, "app-copied-1280-light")
    finally:
        context.close()


def test_the_log_fits_its_panel_on_a_laptop(
    server: LiveServer, chromium: Browser, signed_in: dict[str, str]
) -> None:
    """At 1280 px the authentication log, with a long email in it, is no wider than its panel:
    the detail column is not cut off."""
    context = context_for(chromium, signed_in, width=1280, scheme="light")
    try:
        page = context.new_page()
        page.goto(server.url("/admin/log"))
        widths = page.evaluate(
            "(() => { const t = document.querySelector('table');"
            " const box = t.parentElement; return [t.offsetWidth, box.clientWidth]; })()"
        )
        assert widths[0] <= widths[1], widths
        shot(page, "log-1280-light")
    finally:
        context.close()
