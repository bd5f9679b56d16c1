"""Signing in to the dashboard through the Ostiary Console app, and who gets in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from admin_helpers import ADMIN_EMAIL, AdminBrowser, query_of

from ostiary.domain.users import ADMIN_ROLE
from ostiary.web.cookies import cookie_names

BrowserFactory = Callable[[], Awaitable[AdminBrowser]]
COOKIES = cookie_names(production=False)


async def test_signed_out_browser_starts_the_console_code_flow_with_pkce(
    browser_for: BrowserFactory,
) -> None:
    """A signed-out visit to a dashboard page redirects to /oauth/authorize for the Ostiary
    Console with state, nonce and an S256 code challenge, kept in an HttpOnly /admin cookie."""
    browser = await browser_for()
    console = await browser.console()
    response = await browser.get("/admin/users")
    assert 303 == response.status_code
    location = response.headers["location"]
    assert "/oauth/authorize" == location.split("?")[0]
    params = query_of(location)
    issuer = browser.services.settings.issuer
    assert console.client_id == params["client_id"]
    assert f"{issuer}/admin/callback" == params["redirect_uri"]
    assert "code" == params["response_type"]
    assert "openid profile email" == params["scope"]
    assert "S256" == params["code_challenge_method"]
    assert 43 == len(params["code_challenge"])
    assert params["state"] and params["nonce"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIES.admin_flow}=")
    assert "HttpOnly" in cookie and "Path=/admin" in cookie and "SameSite=lax" in cookie


async def test_admin_signs_in_on_the_hosted_page_and_returns_to_the_page_asked_for(
    browser_for: BrowserFactory,
) -> None:
    """An administrator signs in on the hosted login page and lands on the page first asked
    for; the console app is now part of the shared session."""
    browser = await browser_for()
    await browser.user(ADMIN_EMAIL, admin=True)
    landed = await browser.sign_in(path="/admin/users?q=root")
    assert 200 == landed.status_code
    assert "/admin/users?q=root" == f"{landed.url.path}?{landed.url.query.decode()}"
    assert "<h1>Users</h1>" in landed.text
    sessions = await browser.services.sessions.all()
    console = await browser.console()
    assert [(console.client_id,)] == [s.authenticated_clients for s in sessions]


async def test_user_without_the_admin_role_gets_a_403_page_with_sign_out(
    browser_for: BrowserFactory,
) -> None:
    """A signed-in user without ostiary_admin gets a clear 403 page that offers to sign out
    through /oidc/logout, on every visit; once the role is granted, the same session enters."""
    browser = await browser_for()
    user = await browser.user("mallory@example.com")
    refused = await browser.sign_in("mallory@example.com")
    assert 403 == refused.status_code
    assert "You can't open the dashboard" in refused.text
    assert 'action="/oidc/logout"' in refused.text
    assert (await browser.console()).client_id in refused.text
    assert 403 == (await browser.get("/admin/apps")).status_code

    await browser.services.users.grant_role(user.id, ADMIN_ROLE)
    assert 200 == (await browser.get("/admin/apps")).status_code


async def test_callback_with_a_wrong_state_signs_nobody_in(browser_for: BrowserFactory) -> None:
    """An authorization response whose state is not this browser's is refused with an error
    page, and no dashboard sign-in cookie is set."""
    browser = await browser_for()
    await browser.get("/admin")  # sets the flow cookie
    response = await browser.get("/admin/callback?code=abc&state=not-mine")
    assert 400 == response.status_code
    assert "did not belong to this sign-in" in response.text
    assert f"{COOKIES.admin}=" not in response.headers.get("set-cookie", "")


async def test_callback_without_a_flow_cookie_is_refused(browser_for: BrowserFactory) -> None:
    """A callback in a browser that never started a dashboard sign-in is refused."""
    browser = await browser_for()
    response = await browser.get("/admin/callback?code=abc&state=xyz")
    assert 400 == response.status_code
    assert "Sign-in to the dashboard did not finish" in response.text


async def test_dashboard_ends_with_the_shared_session(admin: AdminBrowser) -> None:
    """Revoking the shared session (here by another admin's action) signs the dashboard out:
    the next page visit starts the sign-in flow again."""
    assert 200 == (await admin.get("/admin/apps")).status_code
    (session,) = await admin.services.sessions.all()
    await admin.services.logout.revoke_session(session.id)
    response = await admin.get("/admin/apps")
    assert 303 == response.status_code
    assert response.headers["location"].startswith("/oauth/authorize?")


async def test_tampered_dashboard_cookie_is_not_accepted(admin: AdminBrowser) -> None:
    """The dashboard's sign-in cookie is HMAC-protected: an altered one means signing in
    again."""
    marker = admin.client.cookies.get(COOKIES.admin)
    assert marker is not None
    body, mac = marker.rsplit(".", 1)
    admin.client.cookies.set(COOKIES.admin, f"{body}.{'0' * len(mac)}", path="/admin")
    response = await admin.get("/admin/apps")
    assert 303 == response.status_code
    assert response.headers["location"].startswith("/oauth/authorize?")


async def test_callback_with_a_non_ascii_state_is_refused_not_a_500(
    browser_for: BrowserFactory,
) -> None:
    """A state with non-ASCII characters is an ordinary state mismatch (400 page), not a crash
    in the comparison."""
    browser = await browser_for()
    await browser.get("/admin")  # sets the flow cookie
    response = await browser.client.get("/admin/callback", params={"code": "a", "state": "é" * 32})
    assert (400, True) == (response.status_code, "did not belong to this sign-in" in response.text)


def _with_cookie(name: str, value: str) -> list[tuple[bytes, bytes]]:
    """A Cookie header carrying ``value`` as UTF-8 bytes (httpx's jar only takes ASCII)."""
    return [(b"cookie", f"{name}={value}".encode())]


async def test_dashboard_cookie_with_a_non_ascii_mac_means_signing_in_again(
    browser_for: BrowserFactory,
) -> None:
    """A marker cookie whose MAC has non-ASCII characters starts the sign-in flow (303), not a
    500."""
    browser = await browser_for()
    response = await browser.client.get(
        "/admin/apps", headers=_with_cookie(COOKIES.admin, "eyJzdWIiOiJ4In0.é")
    )
    assert 303 == response.status_code
    assert response.headers["location"].startswith("/oauth/authorize?")


async def test_flow_cookie_with_a_non_ascii_mac_is_refused_not_a_500(
    browser_for: BrowserFactory,
) -> None:
    """A flow cookie whose MAC has non-ASCII characters makes the callback's error page (400),
    not a 500."""
    browser = await browser_for()
    response = await browser.client.get(
        "/admin/callback?code=abc&state=xyz",
        headers=_with_cookie(COOKIES.admin_flow, "eyJzdGF0ZSI6Inh5eiJ9.é"),
    )
    assert 400 == response.status_code
    assert "Sign-in to the dashboard did not finish" in response.text
