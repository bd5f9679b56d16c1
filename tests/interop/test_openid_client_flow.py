"""openid-client (Node, v6) as a strict relying party through the whole authorization code flow:
Chromium signs in on Ostiary's hosted login page, openid-client validates the authorization
response (iss, state), exchanges the code with PKCE, validates the ID token, then uses UserInfo,
refresh (rotation), introspection and revocation. A web app (client secret) and a SPA (public
client, PKCE only) take the same path. The last tests tamper with the authorization response and
check that openid-client refuses it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from browser_harness import BrowserSession, CallbackCatcher
from flows import SCOPE, Person, jwt_header, jwt_payload, query, sign_in, with_query
from interop_harness import LiveServer, NodeRP, RpError, app_command

pytestmark = [pytest.mark.interop, pytest.mark.browser]


@dataclass(frozen=True)
class Registered:
    """This module's user and apps, each app with its loopback callback."""

    person: Person
    web: dict[str, Any]
    web_cb: CallbackCatcher
    spa: dict[str, Any]
    spa_cb: CallbackCatcher


@pytest.fixture(scope="module")
def registered(live_server: LiveServer, app_callback: Callable[..., CallbackCatcher]) -> Registered:
    web_cb, spa_cb = app_callback("/cb"), app_callback("/spa/callback")
    user, web, spa = live_server.cli_many(
        Person.command("ada@example.com", "Ada Lovelace"),
        app_command("web", name="Interop Web", redirect_uris=[web_cb.redirect_uri]),
        app_command("spa", name="Interop SPA", redirect_uris=[spa_cb.redirect_uri]),
    )
    return Registered(Person.from_cli(user), web, web_cb, spa, spa_cb)


@pytest.fixture
def person(registered: Registered) -> Person:
    return registered.person


@pytest.fixture
def web_cb(registered: Registered) -> CallbackCatcher:
    return registered.web_cb


@pytest.fixture
def spa_cb(registered: Registered) -> CallbackCatcher:
    return registered.spa_cb


@pytest.fixture
def web_app(registered: Registered) -> dict[str, Any]:
    return registered.web


@pytest.fixture
def spa_app(registered: Registered) -> dict[str, Any]:
    return registered.spa


@pytest.fixture
def web_rp(node_rp: NodeRP, live_server: LiveServer, web_app: dict[str, Any]) -> NodeRP:
    return node_rp.bind(
        issuer=live_server.issuer,
        client_id=web_app["client_id"],
        client_secret=web_app["client_secret"],
    )


@pytest.fixture
def spa_rp(node_rp: NodeRP, live_server: LiveServer, spa_app: dict[str, Any]) -> NodeRP:
    assert "client_secret" not in spa_app or not spa_app["client_secret"], spa_app
    return node_rp.bind(
        issuer=live_server.issuer,
        client_id=spa_app["client_id"],
        token_endpoint_auth_method="none",
    )


def _reason(failure: RpError) -> str:
    """oauth4webapi's own message, under openid-client's generic ``ClientError``."""
    cause = failure.error.get("cause") or {}
    return str(cause.get("message", failure.error.get("message", "")))


def _assert_id_token(
    tokens: dict[str, Any], live_server: LiveServer, client_id: str, person: Person, nonce: str
) -> dict[str, Any]:
    """The ID token openid-client validated carries what an RP needs (SPEC §3.3)."""
    claims = tokens["claims"]
    assert claims == jwt_payload(tokens["id_token"])
    assert claims["iss"] == live_server.issuer
    assert claims["aud"] in (client_id, [client_id])
    assert claims["azp"] == client_id
    assert claims["sub"] == person.id
    assert claims["nonce"] == nonce
    assert claims["sid"].startswith("ses_")
    assert "pwd" in claims["amr"]
    assert isinstance(claims["auth_time"], int)
    assert claims["email"] == person.email
    assert claims["name"] == person.name
    # at_hash (OIDC Core §3.1.3.6): openid-client does not check it, so check it here.
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
    header = jwt_header(tokens["id_token"])
    assert header["alg"] == "RS256"
    assert header["kid"]
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["expires_in"] > 0
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    assert tokens["refresh_token"]
    return claims


def test_web_app_code_flow_through_the_hosted_login_page(
    web_rp: NodeRP,
    browser: BrowserSession,
    web_cb: CallbackCatcher,
    web_app: dict[str, Any],
    person: Person,
    live_server: LiveServer,
) -> None:
    """A web app signs a user in via Chromium; openid-client validates it all; UserInfo works."""
    discovered = web_rp("discover")
    assert discovered["supports_pkce_s256"] is True
    flow = sign_in(web_rp, browser, web_cb, person, exchange=False)

    sent = query(flow.start["url"])
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["state"] == [flow.start["state"]]
    assert sent["nonce"] == [flow.start["nonce"]]
    back = query(flow.callback_url)
    assert set(back) == {"code", "state", "iss"}, back
    assert back["state"] == [flow.start["state"]]
    assert back["iss"] == [live_server.issuer]
    pages = [url.split("?")[0] for url in flow.landing.navigations]
    assert pages[0] == live_server.url("/oauth/authorize"), pages
    assert live_server.url("/ui/login") in pages, pages
    assert pages[-1] == web_cb.redirect_uri, pages

    tokens = flow.exchange(web_rp)
    claims = _assert_id_token(
        tokens, live_server, web_app["client_id"], person, flow.start["nonce"]
    )
    userinfo = web_rp(
        "userinfo", access_token=tokens["access_token"], expected_subject=claims["sub"]
    )["userinfo"]
    assert userinfo["sub"] == person.id
    assert userinfo["email"] == person.email
    assert userinfo["name"] == person.name


def test_web_app_refresh_rotates_and_refuses_the_old_token(
    web_rp: NodeRP, browser: BrowserSession, web_cb: CallbackCatcher, person: Person
) -> None:
    """Refresh gives a new refresh token; the rotated one is refused and kills the family."""
    first = sign_in(web_rp, browser, web_cb, person).tokens
    assert first is not None
    second = web_rp("refresh", refresh_token=first["refresh_token"])
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["id_token"] != first["id_token"]
    assert second["claims"]["sub"] == first["claims"]["sub"]
    assert second["claims"]["sid"] == first["claims"]["sid"]

    reused = web_rp.fails("refresh", refresh_token=first["refresh_token"])
    assert reused.error.get("error") == "invalid_grant", reused
    # SPEC §3.2: presenting a rotated refresh token revokes every refresh token of that login.
    after = web_rp("introspect", token=second["refresh_token"])["introspection"]
    assert after == {"active": False}, after
    failure = web_rp.fails("refresh", refresh_token=second["refresh_token"])
    assert failure.error.get("error") == "invalid_grant", failure


def test_web_app_introspects_and_revokes(
    web_rp: NodeRP,
    browser: BrowserSession,
    web_cb: CallbackCatcher,
    web_app: dict[str, Any],
    person: Person,
    live_server: LiveServer,
) -> None:
    """With client_secret_basic: introspection active; after revocation inactive, refresh fails."""
    # openid-client form-urlencodes the client_id before base64 (`web_…` → `web%5F…`).
    web_rp = web_rp.bind(token_endpoint_auth_method="client_secret_basic")
    tokens = sign_in(web_rp, browser, web_cb, person).tokens
    assert tokens is not None

    access = web_rp("introspect", token=tokens["access_token"])["introspection"]
    assert access["active"] is True, access
    assert access["sub"] == person.id
    assert access["client_id"] == web_app["client_id"]
    assert access["iss"] == live_server.issuer
    refresh = web_rp("introspect", token=tokens["refresh_token"], token_type_hint="refresh_token")[
        "introspection"
    ]
    assert refresh["active"] is True, refresh

    assert web_rp("revoke", token=tokens["refresh_token"], token_type_hint="refresh_token") == {
        "revoked": True
    }
    refresh = web_rp("introspect", token=tokens["refresh_token"])["introspection"]
    assert refresh == {"active": False}, refresh
    failure = web_rp.fails("refresh", refresh_token=tokens["refresh_token"])
    assert failure.error.get("error") == "invalid_grant", failure
    # Revoking an unknown or already revoked token is still a 200 (RFC 7009 §2.2).
    assert web_rp("revoke", token=tokens["refresh_token"]) == {"revoked": True}


def test_replayed_code_is_refused_and_revokes_its_tokens(
    web_rp: NodeRP, browser: BrowserSession, web_cb: CallbackCatcher, person: Person
) -> None:
    """SPEC §3.1 / RFC 6749 §4.1.2: a code used twice fails, and its tokens are revoked."""
    flow = sign_in(web_rp, browser, web_cb, person)
    assert flow.tokens is not None
    replay = flow.exchange_fails(web_rp)
    assert replay.error.get("error") == "invalid_grant", replay

    refresh = web_rp("introspect", token=flow.tokens["refresh_token"])["introspection"]
    assert refresh == {"active": False}, refresh
    failure = web_rp.fails("refresh", refresh_token=flow.tokens["refresh_token"])
    assert failure.error.get("error") == "invalid_grant", failure


def test_spa_public_client_code_flow(
    spa_rp: NodeRP,
    browser: BrowserSession,
    spa_cb: CallbackCatcher,
    spa_app: dict[str, Any],
    person: Person,
    live_server: LiveServer,
) -> None:
    """A SPA (no secret, PKCE) signs in, uses UserInfo, refreshes with rotation and revokes."""
    flow = sign_in(spa_rp, browser, spa_cb, person)
    tokens = flow.tokens
    assert tokens is not None
    claims = _assert_id_token(
        tokens, live_server, spa_app["client_id"], person, flow.start["nonce"]
    )
    userinfo = spa_rp(
        "userinfo", access_token=tokens["access_token"], expected_subject=claims["sub"]
    )["userinfo"]
    assert userinfo["sub"] == person.id

    rotated = spa_rp("refresh", refresh_token=tokens["refresh_token"])
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["claims"]["sub"] == person.id
    assert spa_rp("revoke", token=rotated["refresh_token"]) == {"revoked": True}
    failure = spa_rp.fails("refresh", refresh_token=rotated["refresh_token"])
    assert failure.error.get("error") == "invalid_grant", failure


def test_spa_code_needs_the_pkce_verifier(
    spa_rp: NodeRP, browser: BrowserSession, spa_cb: CallbackCatcher, person: Person
) -> None:
    """A public client's code is useless without the right code_verifier (invalid_grant)."""
    flow = sign_in(spa_rp, browser, spa_cb, person, exchange=False)
    failure = spa_rp.fails(
        "callback",
        callback_url=flow.callback_url,
        state=flow.start["state"],
        nonce=flow.start["nonce"],
        code_verifier="x" * 64,
    )
    assert failure.error.get("error") == "invalid_grant", failure


# -- what openid-client refuses ---------------------------------------------------------------


def test_openid_client_refuses_a_tampered_state(
    web_rp: NodeRP, browser: BrowserSession, web_cb: CallbackCatcher, person: Person
) -> None:
    """A callback whose state differs from the one sent is refused before the code is used."""
    flow = sign_in(web_rp, browser, web_cb, person, exchange=False)
    tampered = with_query(flow.callback_url, state="forged-" + flow.start["state"])
    failure = flow.exchange_fails(web_rp, tampered)
    assert failure.code == "OAUTH_INVALID_RESPONSE", failure
    assert "state" in _reason(failure), failure
    missing = flow.exchange_fails(web_rp, with_query(flow.callback_url, state=None))
    assert missing.code == "OAUTH_INVALID_RESPONSE", missing
    # The RP refused before redeeming: the untouched callback still completes.
    assert flow.exchange(web_rp)["claims"]["sub"] == person.id


def test_openid_client_refuses_a_foreign_issuer(
    web_rp: NodeRP,
    browser: BrowserSession,
    web_cb: CallbackCatcher,
    person: Person,
    live_server: LiveServer,
) -> None:
    """RFC 9207: a callback whose iss is another issuer, or has none, is refused (mix-up)."""
    flow = sign_in(web_rp, browser, web_cb, person, exchange=False)
    other = f"http://localhost:{live_server.port}"
    failure = flow.exchange_fails(web_rp, with_query(flow.callback_url, iss=other))
    assert failure.code == "OAUTH_INVALID_RESPONSE", failure
    assert "iss" in _reason(failure), failure
    # Ostiary advertises authorization_response_iss_parameter_supported, so iss is mandatory.
    missing = flow.exchange_fails(web_rp, with_query(flow.callback_url, iss=None))
    assert missing.code == "OAUTH_INVALID_RESPONSE", missing
    assert flow.exchange(web_rp)["claims"]["sub"] == person.id


def test_error_redirect_carries_state_and_iss(
    web_rp: NodeRP, browser: BrowserSession, web_cb: CallbackCatcher, live_server: LiveServer
) -> None:
    """prompt=none without a session: the error redirect passes openid-client's iss/state checks."""
    start = web_rp(
        "auth-url", redirect_uri=web_cb.redirect_uri, scope=SCOPE, extra={"prompt": "none"}
    )
    landing = browser.authorize(start["url"], web_cb, "login-required")
    back = query(landing.callback_url)
    assert back["error"] == ["login_required"], back
    assert back["state"] == [start["state"]]
    assert back["iss"] == [live_server.issuer]
    assert not landing.hosted_pages, landing.hosted_pages
    failure = web_rp.fails(
        "callback",
        callback_url=landing.callback_url,
        state=start["state"],
        nonce=start["nonce"],
        code_verifier=start["code_verifier"],
    )
    assert failure.name == "AuthorizationResponseError", failure
    assert failure.error.get("error") == "login_required", failure
