"""The authorization code flow end to end for each kind of app (OpenID Basic OP plan:
OP-Response-code, OP-IDToken-*, OP-scope-*, OP-nonce, RFC 9207, RFC 9068)."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from typing import Any

import pytest
from flow_helpers import (
    EMAIL,
    NAME,
    AdvancingClock,
    Authorization,
    FlowHelper,
    Tokens,
    at_hash_of,
    query_of,
)

PROFILE_CLAIMS = {"name", "updated_at"}
EMAIL_CLAIMS = {"email", "email_verified"}
ALL_KINDS = ["web-basic", "web-post", "spa", "native"]


async def _sign_in(flow: FlowHelper, kind: str, **start: Any) -> tuple[Authorization, Tokens]:
    """Register one app of ``kind`` and a user; log in; exchange the code."""
    if kind.startswith("web"):
        app = await flow.web()
    elif kind == "spa":
        app = await flow.spa()
    else:
        app = await flow.native()
    await flow.user()
    authorization = await flow.login(app, **start)
    auth = {"web-basic": "basic", "web-post": "post"}.get(kind, "none")
    return authorization, await flow.tokens(authorization, auth=auth)


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_id_token_verifies_and_carries_the_login(
    flow: FlowHelper, clock: AdvancingClock, kind: str
) -> None:
    """The ID token verifies against /keys and carries every claim of the login, at_hash too."""
    authorization, tokens = await _sign_in(flow, kind)
    header, claims = await flow.verify(tokens.id_token)
    user = await flow.services.users.get(EMAIL)
    (session,) = await flow.services.sessions.for_user(user.id)
    now = int(clock.now().timestamp())
    client_id = authorization.attempt.app.client_id
    assert ("RS256", "JWT") == (header["alg"], header["typ"])
    assert flow.issuer == claims["iss"]
    assert [client_id] == ([claims["aud"]] if isinstance(claims["aud"], str) else claims["aud"])
    assert client_id == claims["azp"]
    assert user.id == claims["sub"]
    assert session.id == claims["sid"]
    assert now == claims["auth_time"]
    assert ["pwd"] == claims["amr"]
    assert authorization.attempt.nonce == claims["nonce"]
    assert at_hash_of(tokens.access_token) == claims["at_hash"]
    assert (now, now + 1800) == (claims["iat"], claims["exp"])


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_access_token_is_an_rfc9068_jwt(
    flow: FlowHelper, clock: AdvancingClock, kind: str
) -> None:
    """The access token is an at+jwt with the RFC 9068 claims and exp = iat + 300 s."""
    authorization, tokens = await _sign_in(flow, kind)
    header, claims = await flow.verify(tokens.access_token)
    _, id_claims = await flow.verify(tokens.id_token)
    now = int(clock.now().timestamp())
    client_id = authorization.attempt.app.client_id
    assert "at+jwt" == header["typ"]
    assert flow.issuer == claims["iss"]
    assert [client_id] == [aud for aud in claims["aud"] if aud == client_id]
    assert isinstance(claims["aud"], list)
    assert (id_claims["sub"], client_id, id_claims["sid"]) == (
        claims["sub"],
        claims["client_id"],
        claims["sid"],
    )
    assert "openid profile email offline_access" == claims["scope"]
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert (now, now, now + 300) == (claims["iat"], claims["nbf"], claims["exp"])


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_token_response_is_complete_and_not_cached(flow: FlowHelper, kind: str) -> None:
    """The token response has Bearer, 300 s, scope, ID and refresh tokens, and no-store."""
    _, tokens = await _sign_in(flow, kind)
    body = tokens.body
    assert "no-store" == tokens.response.headers["cache-control"]
    assert ("Bearer", 300) == (body["token_type"], body["expires_in"])
    assert "openid profile email offline_access" == body["scope"]
    assert {"access_token", "id_token", "refresh_token"} <= set(body)


async def test_app_access_token_ttl_override_sets_exp(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """An app's access_token_ttl (here 120 s) sets both expires_in and the token's exp."""
    app = await flow.update(await flow.spa(), access_token_ttl=120)
    await flow.user()
    tokens = await flow.tokens(await flow.login(app))
    _, claims = await flow.verify(tokens.access_token)
    assert 120 == tokens.body["expires_in"]
    assert claims["iat"] + 120 == claims["exp"]


async def test_no_refresh_token_without_offline_access(flow: FlowHelper) -> None:
    """Without offline_access the token response has no refresh_token."""
    app = await flow.web()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app, scope="openid"))
    assert "refresh_token" not in tokens.body
    assert "openid" == tokens.body["scope"]


async def test_openid_scope_alone_releases_no_profile_or_email(flow: FlowHelper) -> None:
    """With scope=openid the ID token and userinfo carry no profile or email claims."""
    app = await flow.web()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app, scope="openid"))
    _, claims = await flow.verify(tokens.id_token)
    info = (await flow.userinfo(tokens.access_token)).json()
    assert set() == set(claims) & (PROFILE_CLAIMS | EMAIL_CLAIMS)
    assert {"sub"} == set(info)


async def test_profile_scope_releases_profile_claims_only(flow: FlowHelper) -> None:
    """scope=openid profile gives name (and updated_at) but no email claims."""
    app = await flow.web()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app, scope="openid profile"))
    _, claims = await flow.verify(tokens.id_token)
    assert NAME == claims["name"]
    assert PROFILE_CLAIMS == set(claims) & (PROFILE_CLAIMS | EMAIL_CLAIMS)


async def test_email_scope_releases_email_claims_only(flow: FlowHelper) -> None:
    """scope=openid email gives email and email_verified but no profile claims."""
    app = await flow.web()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app, scope="openid email"))
    _, claims = await flow.verify(tokens.id_token)
    assert (EMAIL, False) == (claims["email"], claims["email_verified"])
    assert EMAIL_CLAIMS == set(claims) & (PROFILE_CLAIMS | EMAIL_CLAIMS)


async def test_userinfo_matches_the_id_token(flow: FlowHelper) -> None:
    """/userinfo with the access token returns the same sub and the scoped claims."""
    app = await flow.spa()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app))
    _, claims = await flow.verify(tokens.id_token)
    response = await flow.userinfo(tokens.access_token)
    info = response.json()
    assert 200 == response.status_code
    assert (claims["sub"], NAME, EMAIL) == (info["sub"], info["name"], info["email"])


async def test_success_redirect_has_code_state_and_iss(flow: FlowHelper) -> None:
    """The redirect back carries exactly code, state and iss (RFC 9207) = the issuer."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app, state="xyz-123")
    assert {"code", "state", "iss"} == set(authorization.params)
    assert ("xyz-123", flow.issuer) == (authorization.params["state"], authorization.params["iss"])


async def test_success_redirect_has_no_state_when_none_was_sent(flow: FlowHelper) -> None:
    """Without state in the request, the redirect carries code and iss only."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app, state=None)
    assert {"code", "iss"} == set(authorization.params)


async def test_refresh_rotates_and_returns_a_new_id_token(flow: FlowHelper) -> None:
    """A refresh returns a new access, refresh and ID token for the same sub and sid."""
    app = await flow.web()
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    response = await flow.refresh(app, first.refresh_token)
    second = Tokens(response)
    _, before = await flow.verify(first.id_token)
    _, after = await flow.verify(second.id_token)
    assert 200 == response.status_code
    assert "no-store" == response.headers["cache-control"]
    assert first.refresh_token != second.refresh_token
    assert first.access_token != second.access_token
    assert (before["sub"], before["sid"]) == (after["sub"], after["sid"])
    assert at_hash_of(second.access_token) == after["at_hash"]


async def test_discovery_advertises_iss_parameter_and_s256(flow: FlowHelper) -> None:
    """Discovery says authorization_response_iss_parameter_supported and S256 only."""
    document = (await flow.client.get("/.well-known/openid-configuration")).json()
    assert document["authorization_response_iss_parameter_supported"] is True
    assert ["S256"] == document["code_challenge_methods_supported"]
    assert f"{flow.issuer}/oauth/authorize" == document["authorization_endpoint"]
    assert f"{flow.issuer}/oauth/token" == document["token_endpoint"]


async def test_login_page_comes_from_authorize_without_session(flow: FlowHelper) -> None:
    """Without a session, /oauth/authorize sends the browser to /ui/login?txn=…"""
    app = await flow.web()
    attempt = await flow.start(app)
    location = attempt.response.headers["location"]
    assert 303 == attempt.response.status_code
    assert "/ui/login" == location.split("?", 1)[0]
    assert query_of(location)["txn"].startswith("txn_")
