"""Every form of the dashboard is protected against cross-site request forgery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from admin_helpers import ADMIN_EMAIL, AdminBrowser

from ostiary.web.admin import admin_routes
from ostiary.web.cookies import cookie_names

BrowserFactory = Callable[[], Awaitable[AdminBrowser]]
CSRF_COOKIE = cookie_names(production=False).browser
CHOSEN = "a" * 43  # the attacker's value: well-formed, like a real one


async def test_every_dashboard_post_needs_the_csrf_token(admin: AdminBrowser) -> None:
    """Each POST route refuses a request without the form's CSRF token (and one with a wrong
    token) with a 403 page, and changes nothing."""
    await _every_post_is_refused(admin, lambda: [{}, {"csrf_token": "x" * 43}])


async def test_a_planted_cookie_with_a_matching_field_is_refused(admin: AdminBrowser) -> None:
    """The sibling-subdomain attack on double-submit: the attacker sets the CSRF cookie to a
    value of their choosing and posts the same value as the token; every POST is refused."""
    admin.client.cookies.set(CSRF_COOKIE, CHOSEN, domain="127.0.0.1", path="/")
    await _every_post_is_refused(admin, lambda: [{"csrf_token": CHOSEN}])


async def test_a_token_from_another_administrators_browser_is_refused(
    admin: AdminBrowser, browser_for: BrowserFactory
) -> None:
    """A token the attacker read in their own signed-in dashboard (their own session) is no
    good in the victim's browser."""
    attacker = await browser_for()
    await attacker.user("mallory@example.com", admin=True)
    assert 200 == (await attacker.sign_in("mallory@example.com")).status_code
    token = await attacker.csrf()
    await _every_post_is_refused(admin, lambda: [{"csrf_token": token}])


async def test_a_token_from_before_signing_in_is_refused(browser_for: BrowserFactory) -> None:
    """The login page's token (bound to the pre-session value) is not a dashboard token once
    the browser has a session: a token is good only for what it was minted for."""
    browser = await browser_for()
    await browser.user(ADMIN_EMAIL, admin=True)
    login = await browser.client.get("/admin", follow_redirects=True)
    token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert 200 == (await browser.sign_in()).status_code
    assert token != await browser.csrf()
    await _every_post_is_refused(browser, lambda: [{"csrf_token": token}])


async def _every_post_is_refused(
    admin: AdminBrowser, tokens: Callable[[], list[dict[str, str]]]
) -> None:
    """Each dashboard POST route, sent with each of ``tokens``, is a 403 "Please try again"
    page and changes nothing."""
    services = admin.services
    app, secret = await services.apps.create("Target", "web")
    assert secret is not None
    user = await admin.user("victim@example.com")
    org = await services.organizations.create("Acme")
    await services.organizations.add_member(org.id, user.id, roles=["member"])
    role = await services.roles.create("auditor", permissions=["logs:read"])
    session, _ = await services.sessions.create(user.id, amr=("pwd",), user_agent=None, ip=None)
    domain = await services.domains.add(org.id, "acme.test")
    params = {
        "domain_id": domain.id,
        "app_id": app.id,
        "secret_id": secret.secret.id,
        "user_id": user.id,
        "org_id": org.id,
        "role_id": role.id,
        "session_id": session.id,
    }
    keys_before = len(await services.keys.all())
    posts = [
        route.path.format(**params)
        for route in admin_routes()
        if "POST" in (getattr(route, "methods", None) or ())
    ]
    assert 15 <= len(posts)

    for path in posts:
        for token in tokens():
            response = await admin.client.post(path, data={"name": "Changed", **token})
            assert 403 == response.status_code, (path, response.status_code)
            assert "Please try again" in response.text, path

    assert "Target" == (await services.apps.get(app.id)).name
    assert [secret.secret.id] == [
        s.id for s in await services.apps.list_secrets(app.id) if s.active
    ]
    assert "victim@example.com" == (await services.users.get(user.id)).email
    assert ("member",) == (await services.organizations.membership(org.id, user.id)).roles
    assert ("logs:read",) == (await services.roles.get(role.id)).permissions
    assert (await services.sessions.get(session.id)).is_live(services.clock.now())
    assert keys_before == len(await services.keys.all())
    assert 2 == len(await services.apps.all())
    assert [(domain.id, False)] == [
        (d.id, d.verified) for d in await services.domains.of_organization(org.id)
    ]
