"""No value in a cookie or parameter that Ostiary compares with a secret (session, pre-session
and dashboard cookies, CSRF tokens, the dashboard's state, codes, PKCE verifiers, client
secrets, refresh tokens, email links) makes a 5xx: arbitrary text, non-ASCII, NUL, very long
values and malformed ``body.mac`` values are all ordinary refusals.

Hypothesis drives one in-process server (built once per test, on its own event loop, since
hypothesis runs examples synchronously) with a signed-in administrator, a web app and a login
in progress; each example puts one value in one place."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from admin_helpers import ADMIN_EMAIL, AdminBrowser, hidden
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.protocol.compare import secrets_equal
from ostiary.protocol.digests import Digester
from ostiary.services.clock import Clock
from ostiary.web.admin.auth import read_signed, sign_value
from ostiary.web.app import create_web_app
from ostiary.web.cookies import cookie_names

COOKIES = cookie_names(production=False)
REDIRECT = "https://web.example.com/callback"

# Values every target gets, whatever hypothesis draws.
NASTY = [
    "",
    "é",
    "\x00",
    "a\x00b",
    "é" * 43,
    "a" * 42 + "é",
    "x" * 20_000,
    "🔑" * 100,
    "\u2028\u2029",
    ".",
    "..",
    "a.b.c",
    "é.é",
    "eyJzdWIiOiJ4In0.é",
    "eyJzdWIiOiJ4In0.",
    ".0000",
    "e30." + "0" * 64,
    "%00%ff",
    "=;,",
    "\\\"'",
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=200)
VALUES = st.one_of(
    st.sampled_from(NASTY),
    TEXT,
    st.builds(lambda body, mac: f"{body}.{mac}", TEXT, TEXT),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1_000, max_size=5_000),
)


def _cookie_header(cookies: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """A Cookie header with the values as UTF-8 bytes (httpx's own jar takes only ASCII)."""
    return [(b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode())]


@dataclasses.dataclass
class World:
    """One server and what each request needs besides the value under test."""

    run: Callable[[Awaitable[httpx.Response]], httpx.Response]
    http: httpx.AsyncClient  # sends exactly the cookies each request names
    admin: dict[str, str]  # the signed-in administrator's session and marker cookies
    browser: str  # a real pre-session value
    flow: str  # a real dashboard flow cookie
    txn: str  # a login in progress
    client_id: str
    secret: str
    app_id: str

    def get(self, url: str, cookies: dict[str, str], **params: str) -> httpx.Response:
        self.http.cookies.clear()
        return self.run(self.http.get(url, params=params, headers=_cookie_header(cookies)))

    def post(
        self,
        url: str,
        cookies: dict[str, str],
        data: dict[str, str],
        auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        self.http.cookies.clear()
        headers = _cookie_header(cookies)
        if auth is not None:
            basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers.append((b"authorization", f"Basic {basic}".encode()))
        return self.run(self.http.post(url, data=data, headers=headers))


Target = Callable[[World, str], httpx.Response]


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


TARGETS: dict[str, Target] = {
    # cookies
    "session cookie": lambda w, v: w.get("/ui/account/sessions", {COOKIES.session: v}),
    "session cookie and csrf_token": lambda w, v: w.post(
        "/ui/account/sessions", {COOKIES.session: v}, {"csrf_token": v, "session_id": v}
    ),
    "pre-session cookie and csrf_token": lambda w, v: w.post(
        "/ui/password/forgot", {COOKIES.browser: v}, {"csrf_token": v, "email": "a@b.example"}
    ),
    "admin marker cookie": lambda w, v: w.get(
        "/admin/apps", {COOKIES.session: w.admin[COOKIES.session], COOKIES.admin: v}
    ),
    "admin flow cookie": lambda w, v: w.get(
        "/admin/callback", {COOKIES.admin_flow: v}, state=v, code=v
    ),
    "admin notice cookie": lambda w, v: w.get("/admin/apps", {**w.admin, COOKIES.admin_notice: v}),
    "admin reveal cookie": lambda w, v: w.get(
        f"/admin/apps/{w.app_id}", {**w.admin, COOKIES.admin_reveal: v}
    ),
    # parameters
    "dashboard state": lambda w, v: w.get(
        "/admin/callback", {COOKIES.admin_flow: w.flow}, state=v, code="c", iss=v
    ),
    "login csrf_token": lambda w, v: w.post(
        "/ui/login",
        {COOKIES.browser: w.browser},
        {"txn": w.txn, "csrf_token": v, "email": ADMIN_EMAIL, "password": v},
    ),
    "login txn": lambda w, v: w.post(
        "/ui/login", {COOKIES.browser: w.browser}, {"txn": v, "csrf_token": v}
    ),
    "dashboard csrf_token": lambda w, v: w.post("/admin/keys/rotate", w.admin, {"csrf_token": v}),
    "logout csrf_token": lambda w, v: w.post(
        "/oidc/logout", w.admin, {"confirm": "yes", "csrf_token": v}
    ),
    "code and verifier": lambda w, v: w.post(
        "/oauth/token",
        {},
        {"grant_type": "authorization_code", "code": v, "code_verifier": v, "redirect_uri": v},
        auth=(w.client_id, w.secret),
    ),
    "client secret (basic)": lambda w, v: w.post(
        "/oauth/token", {}, {"grant_type": "client_credentials"}, auth=(w.client_id, v)
    ),
    "client secret (post)": lambda w, v: w.post(
        "/oauth/token",
        {},
        {"grant_type": "client_credentials", "client_id": w.client_id, "client_secret": v},
    ),
    "client id": lambda w, v: w.post(
        "/oauth/token", {}, {"grant_type": "client_credentials"}, auth=(v, w.secret)
    ),
    "refresh token": lambda w, v: w.post(
        "/oauth/token",
        {},
        {"grant_type": "refresh_token", "refresh_token": v},
        auth=(w.client_id, w.secret),
    ),
    "revoked token": lambda w, v: w.post(
        "/oauth/revoke", {}, {"token": v}, auth=(w.client_id, w.secret)
    ),
    "introspected token": lambda w, v: w.post(
        "/oauth/introspect", {}, {"token": v}, auth=(w.client_id, w.secret)
    ),
    "magic link": lambda w, v: w.get("/ui/login/link", {COOKIES.browser: v}, token=v),
    "reset link": lambda w, v: w.get("/ui/password/reset", {COOKIES.browser: w.browser}, token=v),
    "verification link": lambda w, v: w.get("/ui/email/verify", {}, token=v),
}


def _login_in_progress(location: str) -> str:
    return parse_qs(urlsplit(location).query)["txn"][0]


@pytest.fixture
def world(make_settings: Callable[..., Settings], clock: Clock, data_dir: Path) -> Iterator[World]:
    """A prepared server with everything the targets need, on a loop of its own."""
    runner = asyncio.Runner()
    services = build_services(make_settings(), clock=clock)
    app = create_web_app(services)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=services.settings.issuer
        )

    async def build() -> World:
        await prepare(services)
        browser = AdminBrowser(client(), services)
        await browser.user(ADMIN_EMAIL, admin=True)
        assert 200 == (await browser.sign_in()).status_code
        admin = {
            name: str(browser.client.cookies.get(name)) for name in (COOKIES.session, COOKIES.admin)
        }
        web, secret = await services.apps.create("Web", "web", redirect_uris=[REDIRECT])
        assert secret is not None
        fresh = client()
        started = await fresh.get("/admin")
        flow = str(fresh.cookies.get(COOKIES.admin_flow))
        _, challenge = _pkce()
        authorize = await fresh.get(
            "/oauth/authorize",
            params={"response_type": "code", "client_id": web.client_id, "scope": "openid",
                    "redirect_uri": REDIRECT, "state": "s", "code_challenge": challenge,
                    "code_challenge_method": "S256"},
        )  # fmt: skip
        login = await fresh.get(authorize.headers["location"])
        assert (303, 200) == (started.status_code, login.status_code)
        assert hidden(login.text, "csrf_token")
        return World(
            run=runner.run,
            http=client(),
            admin=admin,
            browser=str(fresh.cookies.get(COOKIES.browser)),
            flow=flow,
            txn=_login_in_progress(authorize.headers["location"]),
            client_id=web.client_id,
            secret=secret.value,
            app_id=web.id,
        )

    try:
        yield runner.run(build())
    finally:
        runner.run(services.engine.dispose())
        runner.close()


def _status(world: World, target: str, value: str) -> int:
    try:
        return TARGETS[target](world, value).status_code
    except Exception as err:  # ASGITransport re-raises what the app raised
        raise AssertionError(f"{target} with {value[:80]!r} raised {err!r}") from err


def test_nasty_values_in_every_compared_place_are_refused_without_a_5xx(world: World) -> None:
    """Each of the fixed nasty values, in each compared cookie and parameter: no 5xx."""
    statuses = {
        (target, value[:40]): _status(world, target, value) for target in TARGETS for value in NASTY
    }
    assert {} == {key: status for key, status in statuses.items() if status >= 500}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(target=st.sampled_from(sorted(TARGETS)), value=VALUES)
def test_arbitrary_values_in_compared_places_never_make_a_5xx(
    world: World, target: str, value: str
) -> None:
    """Arbitrary text in any compared cookie or parameter is answered below 500."""
    status = _status(world, target, value)
    assert (target, True) == (target, status < 500), (target, value[:80], status)


# -- the comparisons themselves ------------------------------------------------------------------

ANY_TEXT = st.text(max_size=300)  # surrogates included: nothing may raise


@settings(max_examples=200, deadline=None)
@given(presented=ANY_TEXT, expected=ANY_TEXT)
def test_secrets_equal_never_raises_and_means_equality(presented: str, expected: str) -> None:
    """``secrets_equal`` answers for any two texts, and answers exactly whether they are
    equal."""
    assert (presented == expected) == secrets_equal(presented, expected)


@settings(max_examples=200, deadline=None)
@given(value=ANY_TEXT, mac=ANY_TEXT)
def test_signed_cookie_values_are_never_forged_and_never_raise(value: str, mac: str) -> None:
    """``read_signed`` returns None for any value not signed with the key (whatever its
    characters), and the payload for one that is."""
    digester = Digester("test-key-" + "k" * 40)
    assert None is read_signed(digester, "marker", f"{value}.{mac}")
    assert None is read_signed(digester, "marker", value)
    assert digester.matches("p", value, mac) is (mac == digester.digest("p", value))
    signed = sign_value(digester, "marker", {"sid": value})
    assert {"sid": value} == read_signed(digester, "marker", signed)
