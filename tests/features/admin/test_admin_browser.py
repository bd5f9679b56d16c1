"""The dashboard in real Chromium against a real ``ostiary serve``: sign in through the hosted
login page, manage an application end to end, visit every page (screenshots saved to
test-artifacts/screenshots/admin-*.png), and a non-administrator is turned away."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from live_server import CHROMIUM, PRODUCTION_ARGS, SCREENSHOTS, LiveServer

from ostiary.web.cookies import cookie_names

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

ADMIN = "ada.admin@example.com"
MEMBER = "grace@example.com"
PASSWORD = "correct horse battery staple"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def shot(page: Page, name: str) -> None:
    """Save the whole page as test-artifacts/screenshots/admin-NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=True)


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (its own cookies) at a laptop's screen size: 1280 px wide, or
    the width a test asks for with ``@pytest.mark.viewport_width(N)``."""
    marker = request.node.get_closest_marker("viewport_width")
    width = int(marker.args[0]) if marker else 1280
    context = chromium.new_context(viewport={"width": width, "height": 860}, locale="en-US")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    """The module's live server, with the administrator ADMIN created once."""
    live_server.create_user(ADMIN, PASSWORD, admin=True)
    return live_server


def sign_in(page: Page, server: LiveServer, email: str, path: str = "/admin") -> None:
    page.goto(server.url(path))
    assert "/ui/login" in page.url, page.url
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def post_token(server: LiveServer, form: dict[str, str], client_id: str, secret: str) -> Any:
    """POST /oauth/token as the app's back end; ``(status, json body)``."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        server.url("/oauth/token"),
        data=urllib.parse.urlencode(form).encode(),
        headers={"authorization": f"Basic {basic}"},
    )
    try:
        with _DIRECT.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.viewport_width(1440)
def test_admin_manages_a_web_app_in_chromium(server: LiveServer, page: Page) -> None:
    """An administrator signs in through the hosted login page, creates a web app, sees its
    secret once (masked on reload), rotates secrets up to the limit of two (then the button is
    disabled), revokes one, sets redirect URLs (an invalid one is refused next to its field and
    nothing is saved), changes the token lifetime (new tokens use it), and deletes the app: its
    refresh token then fails."""
    from playwright.sync_api import expect

    sign_in(page, server, ADMIN)
    expect(page).to_have_url(server.url("/admin/apps"))
    expect(page.locator("h1")).to_have_text("Applications")
    shot(page, "apps")

    # Create a web application: the first secret is shown once.
    page.click("text=Create application")
    shot(page, "app-new")
    page.fill("#name", "Billing portal")
    page.check("#type-web")
    page.click("button:has-text('Create application')")
    expect(page.locator("#notice")).to_contain_text("Billing portal was created.")
    first = page.input_value("#new-secret-value")
    assert first.startswith("sec_") and len(first) > 40
    app_url = page.url
    client_id = page.input_value("#client-id")
    shot(page, "app-created-secret-shown-once")

    page.reload()
    expect(page.locator("#new-secret-value")).to_have_count(0)
    assert first not in page.content()
    expect(page.locator(".secret-mask")).to_have_text([f"sec_••••••••{first[-4:]}"])
    shot(page, "app-settings")

    # A second secret; then "Generate new secret" is disabled and says why.
    page.click("button:has-text('Generate new secret')")
    second = page.input_value("#new-secret-value")
    assert second.startswith("sec_") and second != first
    expect(page.locator(".secret-row")).to_have_count(2)
    expect(page.locator("button:has-text('Generate new secret')")).to_be_disabled()
    expect(page.locator("#secret-limit")).to_contain_text(
        "This app has 2 active secrets, the most allowed. Revoke one of them first"
    )
    shot(page, "app-third-secret-refused")

    # Revoke the first secret, through its confirmation page.
    page.click(f".secret-row:has-text('{first[-4:]}') >> text=Revoke")
    expect(page.locator("h1")).to_have_text(f"Revoke the secret ending in {first[-4:]}?")
    shot(page, "confirm-revoke-secret")
    page.click("button:has-text('Revoke secret')")
    expect(page.locator("#notice")).to_contain_text(f"ending in {first[-4:]} was revoked")
    expect(page.locator(".secret-row")).to_have_count(1)

    # Redirects: a URL with a query string is refused next to its field; nothing is saved.
    callback = server.url("/healthz")
    page.click("nav.tabs >> text=Redirects")
    page.fill("#redirect_uris", f"{callback}\nhttps://billing.example.com/cb?next=home")
    page.fill("#post_logout_redirect_uris", "https://billing.example.com/")
    page.click("button:has-text('Save redirect URLs')")
    error = page.locator("#redirect_uris-error")
    expect(error).to_contain_text("is not allowed (query): it contains a query string")
    expect(page.locator("#redirect_uris")).to_have_attribute("aria-invalid", "true")
    shot(page, "app-redirects-invalid-url")
    page.goto(app_url + "/redirects")
    expect(page.locator("#redirect_uris")).to_have_value("")
    expect(page.locator("#post_logout_redirect_uris")).to_have_value("")

    page.fill("#redirect_uris", callback)
    page.fill("#initiate_login_uri", "https://billing.example.com/login")
    page.fill("#post_logout_redirect_uris", "https://billing.example.com/")
    page.fill("#backchannel_logout_uri", "https://billing.example.com/backchannel-logout")
    page.click("button:has-text('Save redirect URLs')")
    expect(page.locator("#notice")).to_have_text("Redirect URLs saved.")
    expect(page.locator("#redirect_uris")).to_have_value(callback)
    shot(page, "app-redirects")

    # Settings: a 2-minute access-token lifetime.
    page.click("nav.tabs >> text=Settings")
    page.fill("#access_token_ttl", "120")
    page.click("button:has-text('Save changes')")
    expect(page.locator("#notice")).to_have_text("Settings saved.")
    expect(page.locator("#access_token_ttl")).to_have_value("120")

    # The app signs the same browser in (shared session: no login page) and gets tokens.
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": callback,
            "scope": "openid offline_access",
            "state": "xyz",
            "code_challenge": challenge.rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    page.goto(server.url(f"/oauth/authorize?{query}"))
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)["code"][0]
    status, tokens = post_token(
        server,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": callback,
            "code_verifier": verifier,
        },
        client_id,
        second,
    )
    assert 200 == status, tokens
    assert 120 == tokens["expires_in"]
    refresh_token = tokens["refresh_token"]

    # Delete the app (confirmation page first); its refresh token no longer works.
    page.goto(app_url)
    page.click("a:has-text('Delete application')")
    expect(page.locator("h1")).to_have_text("Delete Billing portal?")
    shot(page, "confirm-delete-app")
    page.click("button:has-text('Delete application')")
    expect(page).to_have_url(server.url("/admin/apps"))
    expect(page.locator("#notice")).to_have_text("Billing portal was deleted.")
    expect(page.locator("table")).not_to_contain_text("Billing portal")
    status, body = post_token(
        server,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        client_id,
        second,
    )
    assert 401 == status and "invalid_client" == body["error"], body


def test_every_dashboard_page_renders_in_chromium(
    server: LiveServer, page: Page, chromium: Browser
) -> None:
    """Every page of the dashboard renders for an administrator, with the page's entry marked
    in the left navigation; a password-reset email asked for on the hosted pages shows up in
    the outbox with its link. The screenshots are for people to look at."""
    from playwright.sync_api import expect

    server.create_user(MEMBER, PASSWORD)
    member = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    try:
        forgot = member.new_page()
        forgot.goto(server.url("/admin"))
        forgot.click("text=Forgot password?")
        forgot.fill("#email", MEMBER)
        forgot.click("button:has-text('Send reset link')")
        forgot.wait_for_load_state()
    finally:
        member.close()
    sign_in(page, server, ADMIN)

    # A few records so the lists are not empty.
    page.goto(server.url("/admin/apps/new"))
    page.fill("#name", "Team calendar")
    page.check("#type-spa")
    page.click("button:has-text('Create application')")
    expect(page.locator(".locked").first).to_contain_text("Always on")
    shot(page, "app-spa-settings")
    page.goto(server.url("/admin/apps/new"))
    page.fill("#name", "Desktop sync")
    page.check("#type-native")
    page.click("button:has-text('Create application')")
    page.goto(server.url("/admin/organizations/new"))
    page.fill("#display_name", "Acme Corporation")
    page.fill("#external_id", "cus_8841")
    shot(page, "org-new")
    page.click("button:has-text('Create organization')")
    expect(page.locator("#notice")).to_contain_text("Acme Corporation was created.")
    page.fill("#member-email", MEMBER)
    page.check("#add-role-admin")
    page.click("button:has-text('Add member')")
    expect(page.locator("#notice")).to_contain_text(f"{MEMBER} was added to Acme Corporation.")
    shot(page, "org-detail")
    page.click(f"tr:has-text('{MEMBER}') >> text=Change roles")
    shot(page, "org-member-edit")
    page.goto(server.url("/admin/roles/new"))
    page.fill("#name", "billing-manager")
    page.fill("#display_name", "Billing manager")
    page.fill("#description", "Manages invoices and payment methods")
    page.fill("#permissions", "invoices:read\ninvoices:write\npayment-methods:write")
    page.select_option("#extends", "member")
    shot(page, "role-new")
    page.click("button:has-text('Create role')")
    expect(page.locator("#notice")).to_contain_text("The role billing-manager was created.")
    shot(page, "role-edit")

    pages = {
        "apps-list": ("/admin/apps", "Applications"),
        "users": ("/admin/users", "Users"),
        "user-new": ("/admin/users/new", "Users"),
        "organizations": ("/admin/organizations", "Organizations"),
        "roles": ("/admin/roles", "Roles"),
        "sessions": ("/admin/sessions", "Sessions"),
        "keys": ("/admin/keys", "Signing keys"),
        "log": ("/admin/log", "Authentication log"),
        "outbox": ("/admin/outbox", "Email outbox"),
    }
    for name, (path, nav_label) in pages.items():
        page.goto(server.url(path))
        expect(page.locator("nav.nav [aria-current=page]")).to_have_text(nav_label)
        shot(page, name)

    page.goto(server.url("/admin/users"))
    page.click(f"table >> text={ADMIN}")
    expect(page.locator("h1")).to_contain_text(ADMIN)
    shot(page, "user-detail")

    page.goto(server.url("/admin/keys"))
    page.fill("#delay", "600")
    page.click("button:has-text('Rotate signing key')")
    expect(page.locator("#notice")).to_contain_text("it starts signing in 600 seconds")
    expect(page.locator(".key-status--next")).to_have_count(1)
    shot(page, "keys-rotated")
    page.fill("#delay", "0")
    page.click("button:has-text('Rotate signing key')")
    expect(page.locator("h1")).to_have_text("Supersede the key waiting to sign?")
    shot(page, "confirm-supersede-key")
    page.click("button:has-text('Rotate and supersede')")
    expect(page.locator("#notice")).to_contain_text("it will never sign")
    expect(page.locator(".key-status--superseded")).to_have_count(1)

    page.goto(server.url("/admin/log?type=login_succeeded"))
    expect(page.locator("tbody tr").first).to_contain_text("Sign-in succeeded")
    shot(page, "log-filtered")

    page.goto(server.url("/admin/outbox"))
    page.click(f".mail-summary:has-text('{MEMBER}')")
    expect(page.locator(".mail-link").first).to_contain_text("/ui/password/reset?token=")
    shot(page, "outbox-message")

    page.goto(server.url("/admin/sessions"))
    page.click("tbody tr >> text=Revoke")
    expect(page.locator("h1")).to_have_text("Revoke this session?")
    shot(page, "confirm-revoke-session")


def test_non_admin_is_refused_in_chromium(server: LiveServer, page: Page) -> None:
    """A signed-in user without the ostiary_admin role gets the 403 page, which offers to sign
    out; signing out (confirmed on Ostiary's page) brings the login page back."""
    from playwright.sync_api import expect

    server.create_user("mallory@example.com", PASSWORD)
    sign_in(page, server, "mallory@example.com", "/admin/users")
    expect(page.locator("h1")).to_have_text("You can't open the dashboard")
    assert re.search(r"/admin/users$", page.url), page.url
    shot(page, "forbidden")
    page.click("button:has-text('Sign out')")
    expect(page.locator("h1")).to_have_text("Sign out of all apps?")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r"/ui/login"))
    expect(page.locator("input[name=email]")).to_be_visible()


def test_production_refuses_a_wildcard_redirect_in_chromium(
    production_server: LiveServer, chromium: Browser
) -> None:
    """Against a production server (https issuer through a TLS proxy, Secure cookies), an
    administrator signs in and a wildcard post-login URL is refused next to its field."""
    from playwright.sync_api import expect

    production_server.create_user(ADMIN, PASSWORD, admin=True)
    browser = chromium.browser_type.launch(
        executable_path=str(CHROMIUM), args=PRODUCTION_ARGS, headless=True
    )
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, locale="en-US", ignore_https_errors=True
    )
    try:
        page = context.new_page()
        sign_in(page, production_server, ADMIN)
        expect(page).to_have_url(production_server.url("/admin/apps"))
        cookies = {c["name"]: c for c in context.cookies()}
        names = cookie_names(production=True)
        assert {names.session, names.admin} <= set(cookies)
        assert cookies[names.session]["secure"] and cookies[names.admin]["secure"]
        expect(page.locator(".env")).to_contain_text("Production")

        page.goto(production_server.url("/admin/apps/new"))
        page.fill("#name", "Acme portal")
        page.click("button:has-text('Create application')")
        page.click("nav.tabs >> text=Redirects")
        expect(page.locator(".callout--muted")).to_contain_text("Production rules")
        page.fill("#redirect_uris", "https://*.acme.com/callback")
        page.click("button:has-text('Save redirect URLs')")
        expect(page.locator("#redirect_uris-error")).to_contain_text(
            "Redirect URI 'https://*.acme.com/callback' is not allowed"
        )
        shot(page, "production-wildcard-refused")
        page.goto(page.url)  # a fresh GET of the redirects tab: nothing was saved
        expect(page.locator("#redirect_uris")).to_have_value("")
    finally:
        context.close()
        browser.close()
