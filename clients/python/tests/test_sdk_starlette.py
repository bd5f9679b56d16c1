"""The Starlette integration end to end: a browser signs in to a web app through Ostiary's
hosted page, the app keeps the tokens server-side, and logouts end the local session."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ostiary_client import AsyncOstiaryClient
from ostiary_client.sessions import InMemorySessionStore
from ostiary_client.starlette import OstiaryAuth
from sdk_harness import PASSWORD, HostRouter, serve_on_loopback

APP = "http://app.test"
REDIRECT_URI = f"{APP}/auth/callback"
HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class RelyingParty:
    """A small web app using ``OstiaryAuth``, and a browser that can reach it and Ostiary."""

    def __init__(self, ostiary, client_id: str, secret: str, **options) -> None:
        self.ostiary = ostiary
        self.client_id = client_id
        self.store = InMemorySessionStore()
        self.client = AsyncOstiaryClient(
            ostiary.issuer, client_id, secret, http=httpx.AsyncClient(transport=ostiary.transport())
        )
        self.auth = OstiaryAuth(
            self.client,
            redirect_uri=REDIRECT_URI,
            post_logout_redirect_uri=f"{APP}/",
            store=self.store,
            **options,
        )

        async def home(request: Request) -> Response:
            return PlainTextResponse("home")

        @self.auth.login_required
        async def dashboard(request: Request) -> Response:
            user = request.state.user
            return JSONResponse(
                {"sub": user.sub, "sid": user.sid, "email": user.email, "at": user.access_token}
            )

        async def api_me(request: Request) -> Response:
            user = await self.auth.require_user(request)
            return JSONResponse({"sub": user.sub})

        self.app = Starlette(
            routes=[
                *self.auth.routes,
                Route("/", home),
                Route("/dashboard", dashboard),
                Route("/api/me", api_me),
            ]
        )
        self.browser = httpx.AsyncClient(
            transport=HostRouter({"ostiary.test": ostiary.app, "app.test": self.app}),
            headers=HTML,
        )

    async def sign_in(
        self, path: str = "/dashboard", email: str = "ada@example.com"
    ) -> httpx.Response:
        """Open ``path``, get sent to Ostiary's login page, sign in, come back."""
        page = await self.browser.get(f"{APP}{path}", follow_redirects=True)
        assert page.status_code == 200 and 'name="txn"' in page.text, page.text[:300]
        fields = {
            name: re.search(rf'name="{name}" value="([^"]+)"', page.text).group(1)
            for name in ("txn", "csrf_token")
        }
        return await self.browser.post(
            f"{self.ostiary.issuer}/ui/login",
            data={**fields, "email": email, "password": PASSWORD},
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        await self.browser.aclose()
        await self.client._http.aclose()


@pytest.fixture
async def rp(ostiary):
    """A registered web app running ``OstiaryAuth`` with its default settings."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create(
        "Shop", "web", redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[f"{APP}/"]
    )
    party = RelyingParty(ostiary, app.client_id, secret.value)
    party.record = app
    yield party
    await party.aclose()


async def test_sign_in_reaches_the_protected_page(rp):
    """login → Ostiary → callback → the page asked for, with the user's identity."""
    page = await rp.sign_in("/dashboard")
    assert page.status_code == 200
    assert f"{APP}/dashboard" == str(page.url)
    assert page.json()["email"] == "ada@example.com"
    callback = next(r for r in page.history if r.url.path == "/auth/callback")
    cookie = callback.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # http app in development
    assert sorted({k.split(":")[0] + ":" for k in rp.store._data} & {"session:"}) == ["session:"]


async def test_tokens_stay_on_the_server(rp):
    """The cookie is a random id: no token travels to the browser."""
    page = await rp.sign_in("/dashboard")
    cookie = rp.browser.cookies.get("ostiary_app_session", domain="app.test")
    assert cookie and len(cookie) >= 40
    assert page.json()["at"] not in cookie
    assert "." not in cookie


async def test_signed_out_pages_redirect_and_api_calls_get_401(rp):
    """Without a session a page navigation goes to /auth/login?returnTo=…; a JSON call gets 401."""
    page = await rp.browser.get(f"{APP}/dashboard?tab=orders")
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/login?returnTo=%2Fdashboard%3Ftab%3Dorders"
    api = await rp.browser.get(f"{APP}/api/me", headers={"accept": "application/json"})
    assert api.status_code == 401


async def test_return_to_accepts_only_same_origin_paths(rp):
    """returnTo pointing to another site is replaced by the app's home page."""
    await rp.ostiary.services.users.create("eve@example.com", password=PASSWORD)
    start = await rp.browser.get(f"{APP}/auth/login", params={"returnTo": "//evil.example/x"})
    page = await rp.browser.get(start.headers["location"], follow_redirects=True)
    fields = {
        name: re.search(rf'name="{name}" value="([^"]+)"', page.text).group(1)
        for name in ("txn", "csrf_token")
    }
    done = await rp.browser.post(
        f"{rp.ostiary.issuer}/ui/login",
        data={**fields, "email": "eve@example.com", "password": PASSWORD},
        follow_redirects=True,
    )
    assert f"{APP}/" == str(done.url)
    assert done.text == "home"


async def test_backchannel_logout_ends_the_local_session(ostiary):
    """Back-channel logout from Ostiary (real HTTP) ends the local session; pages ask to log in."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create(
        "Shop", "web", redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[f"{APP}/"]
    )
    rp = RelyingParty(ostiary, app.client_id, secret.value)
    try:
        async with serve_on_loopback(rp.app) as base:
            await ostiary.services.apps.update(
                app.id, backchannel_logout_uri=f"{base}/auth/backchannel-logout"
            )
            page = await rp.sign_in("/dashboard")
            assert page.status_code == 200
            sid = page.json()["sid"]
            await ostiary.services.logout.revoke_session(sid)  # e.g. an admin ends the session
            assert await ostiary.services.backchannel.deliver_due() == 1
        again = await rp.browser.get(f"{APP}/dashboard")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/auth/login?returnTo=")
        assert len(rp.store) == 0
    finally:
        await rp.aclose()


async def test_logout_ends_local_and_shared_sessions(rp):
    """/auth/logout ends the local session, then the shared one at Ostiary (id_token_hint)."""
    await rp.sign_in("/dashboard")
    out = await rp.browser.post(f"{APP}/auth/logout", headers={"origin": APP})
    assert out.status_code == 303
    target = urlsplit(out.headers["location"])
    assert f"{rp.ostiary.issuer}/oidc/logout" == f"{target.scheme}://{target.netloc}{target.path}"
    query = parse_qs(target.query)
    assert {"id_token_hint", "client_id", "post_logout_redirect_uri"} <= set(query)
    back = await rp.browser.get(out.headers["location"], follow_redirects=True)
    assert f"{APP}/" == str(back.url)
    # Signed out everywhere: the next sign-in shows Ostiary's login form again.
    page = await rp.browser.get(f"{APP}/dashboard", follow_redirects=True)
    assert 'name="txn"' in page.text


async def test_access_token_is_refreshed_before_it_expires(ostiary):
    """Within refresh_margin of expiry the app refreshes; the user sees a new access token."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create("Shop", "web", redirect_uris=[REDIRECT_URI])
    rp = RelyingParty(ostiary, app.client_id, secret.value, refresh_margin=10_000)
    try:
        first = (await rp.sign_in("/dashboard")).json()["at"]
        second = (await rp.browser.get(f"{APP}/dashboard")).json()["at"]
        assert first != second
        await rp.client.validate_access_token(second)
    finally:
        await rp.aclose()


async def test_failed_refresh_ends_the_local_session(ostiary):
    """When Ostiary refuses the refresh (the session ended elsewhere), the app signs out."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create("Shop", "web", redirect_uris=[REDIRECT_URI])
    rp = RelyingParty(ostiary, app.client_id, secret.value, refresh_margin=10_000)
    try:
        sid = (await rp.sign_in("/dashboard")).json()["sid"]
        await ostiary.services.logout.revoke_session(sid)  # no back-channel URI registered
        page = await rp.browser.get(f"{APP}/dashboard")
        assert page.status_code == 303
        assert len(rp.store) == 0
    finally:
        await rp.aclose()


async def test_backchannel_endpoint_refuses_bad_tokens(rp, ostiary):
    """A missing, forged or nonce-carrying logout token gets 400 and ends nothing."""
    page = await rp.sign_in("/dashboard")
    sid = page.json()["sid"]
    url = f"{APP}/auth/backchannel-logout"
    assert (await rp.browser.post(url, data={})).status_code == 400
    assert (await rp.browser.post(url, data={"logout_token": "a.b.c"})).status_code == 400
    now = int(__import__("time").time())
    claims = {
        "iss": ostiary.issuer, "aud": rp.client_id, "iat": now, "exp": now + 120, "jti": "j1",
        "sid": sid, "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        "nonce": "n",
    }  # fmt: skip
    token = await ostiary.sign(claims, typ="logout+jwt")
    assert (await rp.browser.post(url, data={"logout_token": token})).status_code == 400
    assert (await rp.browser.get(f"{APP}/dashboard")).status_code == 200


async def test_callback_without_a_started_login_is_refused(rp):
    """A callback this browser did not start (CSRF, replay) shows an error page, not a session."""
    response = await rp.browser.get(f"{APP}/auth/callback?code=abc&state=nope&iss=x")
    assert response.status_code == 400
    assert "Sign-in did not complete" in response.text
    assert len(rp.store) == 0


async def test_logins_started_in_two_tabs_both_complete(rp):
    """Two tabs start a login; after one completes, the other's callback still signs in."""
    tab_a = await rp.browser.get(f"{APP}/auth/login", params={"returnTo": "/dashboard?tab=a"})
    await rp.sign_in("/dashboard?tab=b")
    done = await rp.browser.get(tab_a.headers["location"], follow_redirects=True)
    assert f"{APP}/dashboard?tab=a" == str(done.url)
    assert 200 == done.status_code


async def test_cross_site_logout_link_asks_first(rp):
    """A GET to /auth/logout from another site shows a form; a same-origin click signs out."""
    await rp.sign_in("/dashboard")
    foreign = await rp.browser.get(f"{APP}/auth/logout", headers={"sec-fetch-site": "cross-site"})
    assert 200 == foreign.status_code
    assert '<form method="post" action="/auth/logout">' in foreign.text
    assert 200 == (await rp.browser.get(f"{APP}/dashboard")).status_code
    forged = await rp.browser.post(f"{APP}/auth/logout", headers={"origin": "https://evil.example"})
    assert 200 == forged.status_code and "Sign out?" in forged.text
    mine = await rp.browser.get(f"{APP}/auth/logout", headers={"sec-fetch-site": "same-origin"})
    assert 303 == mine.status_code
    assert mine.headers["location"].startswith(f"{rp.ostiary.issuer}/oidc/logout?")
    assert 303 == (await rp.browser.get(f"{APP}/dashboard")).status_code
