"""The authorization code flow end to end against an in-process Ostiary (async client)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from ostiary.bootstrap import build_services, prepare
from ostiary.web.app import create_web_app

from ostiary_client import (
    AsyncOstiaryClient,
    IssuerMismatch,
    LoginRequired,
    OAuthError,
    OstiaryClient,
    StateMismatch,
    TokenSet,
)
from sdk_harness import ISSUER, InProcessOstiary, ostiary_settings

WEB_CALLBACK = "https://app.example.com/auth/callback"
NATIVE_CALLBACK = "com.example.app:/callback"


@pytest.fixture
async def web(ostiary):
    """A web app (with a secret) and an SDK client for it."""
    app, secret = await ostiary.services.apps.create(
        "Web", "web", redirect_uris=[WEB_CALLBACK],
        post_logout_redirect_uris=["https://app.example.com/"],
    )  # fmt: skip
    client = AsyncOstiaryClient(
        ostiary.issuer,
        app.client_id,
        secret.value,
        http=httpx.AsyncClient(transport=ostiary.transport()),
    )
    yield client
    await client._http.aclose()


async def _login(ostiary, client, redirect_uri, email="ada@example.com", **kwargs) -> TokenSet:
    request = await client.authorization_url(redirect_uri, **kwargs)
    async with ostiary.browser() as browser:
        callback = await ostiary.sign_in(browser, request.url, email)
    return await client.exchange_code(callback, request)


async def test_web_app_signs_in_with_secret(ostiary, web):
    """A confidential web app gets validated tokens for the user who signed in."""
    user = await ostiary.user()
    tokens = await _login(ostiary, web, WEB_CALLBACK)
    assert user.id == tokens.id_claims["sub"]
    assert tokens.id_claims["email"] == "ada@example.com"
    assert tokens.refresh_token and tokens.id_token
    assert {"openid", "profile", "email", "offline_access"} == set(tokens.scope)
    access = await web.validate_access_token(tokens.access_token)
    assert user.id == access.sub
    assert tokens.id_claims["sid"] == access.sid
    assert {"sub": user.id, "name": "Ada Lovelace"}.items() <= (
        await web.userinfo(tokens.access_token, expected_sub=user.id)
    ).items()


async def test_web_app_with_client_secret_post(ostiary):
    """client_secret_post works as well as the default client_secret_basic."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create("Web", "web", redirect_uris=[WEB_CALLBACK])
    client = AsyncOstiaryClient(
        ostiary.issuer, app.client_id, secret.value,
        token_endpoint_auth_method="client_secret_post",
        http=httpx.AsyncClient(transport=ostiary.transport()),
    )  # fmt: skip
    tokens = await _login(ostiary, client, WEB_CALLBACK)
    assert tokens.id_claims["azp"] == app.client_id


async def test_public_native_client_signs_in_with_pkce_only(ostiary):
    """A native (public) app redeems the code with client_id and code_verifier, no secret."""
    await ostiary.user()
    app, secret = await ostiary.services.apps.create(
        "Mobile", "native", redirect_uris=[NATIVE_CALLBACK]
    )
    assert secret is None
    client = AsyncOstiaryClient(
        ostiary.issuer, app.client_id, http=httpx.AsyncClient(transport=ostiary.transport())
    )
    request = await client.authorization_url(NATIVE_CALLBACK, scope="openid email offline_access")
    query = parse_qs(urlsplit(request.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert [request.nonce] == query["nonce"]
    tokens = await _login(ostiary, client, NATIVE_CALLBACK, scope="openid email offline_access")
    assert tokens.refresh_token
    assert "name" not in tokens.id_claims  # no profile scope asked


async def test_refresh_rotates_and_reuse_revokes_the_family(ostiary, web):
    """Each refresh returns a new refresh token; presenting an old one ends the whole login."""
    await ostiary.user()
    first = await _login(ostiary, web, WEB_CALLBACK)
    second = await web.refresh(first)
    assert second.refresh_token != first.refresh_token
    assert first.id_claims["sub"] == second.id_claims["sub"]
    await web.validate_access_token(second.access_token)
    with pytest.raises(LoginRequired) as reused:
        await web.refresh(first.refresh_token)
    assert reused.value.error == "invalid_grant"
    with pytest.raises(LoginRequired):
        await web.refresh(second)


async def test_state_mismatch_is_refused_before_redeeming(ostiary, web):
    """A callback whose state differs raises StateMismatch, and the code stays unused."""
    await ostiary.user()
    request = await web.authorization_url(WEB_CALLBACK)
    other = await web.authorization_url(WEB_CALLBACK)
    async with ostiary.browser() as browser:
        callback = await ostiary.sign_in(browser, request.url, "ada@example.com")
    with pytest.raises(StateMismatch):
        await web.exchange_code(callback, other)
    tokens = await web.exchange_code(callback, request)
    assert tokens.access_token


async def test_callback_from_another_issuer_is_refused(ostiary, web):
    """RFC 9207: an iss parameter naming another server raises IssuerMismatch."""
    request = await web.authorization_url(WEB_CALLBACK)
    forged = f"{WEB_CALLBACK}?code=abc&state={request.state}&iss=https://evil.example"
    with pytest.raises(IssuerMismatch):
        await web.exchange_code(forged, request)
    missing = f"{WEB_CALLBACK}?code=abc&state={request.state}"
    with pytest.raises(IssuerMismatch):
        await web.exchange_code(missing, request)


async def test_prompt_none_without_session_raises_login_required(ostiary, web):
    """An error callback (prompt=none, no session) becomes LoginRequired with its words."""
    request = await web.authorization_url(WEB_CALLBACK, prompt="none")
    async with ostiary.browser() as browser:
        callback = await ostiary.sign_in(browser, request.url, "nobody@example.com")
    with pytest.raises(LoginRequired) as raised:
        await web.exchange_code(callback, request)
    assert raised.value.error == "login_required"
    assert raised.value.error_description


async def test_code_redeemed_twice_is_an_oauth_error(ostiary, web):
    """A second redemption of the same code is refused with invalid_grant."""
    await ostiary.user()
    request = await web.authorization_url(WEB_CALLBACK)
    async with ostiary.browser() as browser:
        callback = await ostiary.sign_in(browser, request.url, "ada@example.com")
    await web.exchange_code(callback, request)
    with pytest.raises(OAuthError) as raised:
        await web.exchange_code(callback, request)
    assert raised.value.error == "invalid_grant"


async def test_revoke_and_introspect(ostiary, web):
    """Introspection says a refresh token is active until it is revoked."""
    await ostiary.user()
    tokens = await _login(ostiary, web, WEB_CALLBACK)
    assert (await web.introspect(tokens.refresh_token, token_type_hint="refresh_token"))["active"]
    assert (await web.introspect(tokens.access_token))["active"]
    await web.revoke(tokens.refresh_token)
    assert not (await web.introspect(tokens.refresh_token, token_type_hint="refresh_token"))[
        "active"
    ]
    with pytest.raises(LoginRequired):
        await web.refresh(tokens)


async def test_revoking_an_access_token_makes_introspection_say_inactive(ostiary, web):
    """revoke(access_token) (with the SDK's default hint) ends that token: introspection says
    inactive, and the refresh token still gets a new, active access token."""
    await ostiary.user()
    tokens = await _login(ostiary, web, WEB_CALLBACK)
    await web.revoke(tokens.access_token)
    revoked = await web.introspect(tokens.access_token)
    refreshed = await web.refresh(tokens)
    assert {"active": False} == revoked
    assert True is (await web.introspect(refreshed.access_token))["active"]


async def test_logout_url_ends_the_shared_session(ostiary, web):
    """Following logout_url signs the user out and returns to the post-logout URI with state."""
    await ostiary.user()
    request = await web.authorization_url(WEB_CALLBACK)
    async with ostiary.browser() as browser:
        callback = await ostiary.sign_in(browser, request.url, "ada@example.com")
        tokens = await web.exchange_code(callback, request)
        url = await web.logout_url(tokens.id_token, "https://app.example.com/", state="bye")
        query = parse_qs(urlsplit(url).query)
        assert [web.client_id] == query["client_id"]
        response = await browser.get(url)
        assert response.status_code == 303
        assert response.headers["location"] == "https://app.example.com/?state=bye"
    with pytest.raises(LoginRequired):
        await web.refresh(tokens)


async def test_client_credentials_for_the_management_api(ostiary):
    """A web app with management API access gets an app token whose sub is its client_id."""
    app, secret = await ostiary.services.apps.create(
        "Backend", "web", redirect_uris=[WEB_CALLBACK], management_api_access=True
    )
    client = AsyncOstiaryClient(
        ostiary.issuer, app.client_id, secret.value,
        http=httpx.AsyncClient(transport=ostiary.transport()),
    )  # fmt: skip
    tokens = await client.client_credentials("management:read")
    assert tokens.id_token is None and tokens.refresh_token is None
    access = await client.validate_access_token(
        tokens.access_token, required_scopes=["management:read"]
    )
    assert app.client_id == access.sub
    assert access.sid is None


async def test_es256_server(tmp_path):
    """Against an ES256-signing Ostiary, the ID token (with at_hash) and access token validate."""
    services = build_services(
        ostiary_settings(tmp_path / "es", ISSUER, OSTIARY_SIGNING_ALGORITHM="ES256")
    )
    await prepare(services)
    try:
        es = InProcessOstiary(services, create_web_app(services))
        await es.user()
        assert "EC" == (await services.keys.jwks())["keys"][0]["kty"]
        app, secret = await services.apps.create("Web", "web", redirect_uris=[WEB_CALLBACK])
        client = AsyncOstiaryClient(
            es.issuer, app.client_id, secret.value, http=httpx.AsyncClient(transport=es.transport())
        )
        tokens = await _login(es, client, WEB_CALLBACK)
        assert tokens.id_claims["at_hash"]
        assert (await client.validate_access_token(tokens.access_token)).sub
        await client._http.aclose()
    finally:
        await services.engine.dispose()


def test_sync_client_against_a_real_server(live_ostiary, unique_email):
    """OstiaryClient (sync, real HTTP): sign in, refresh, userinfo, validate."""
    email = unique_email("sync")
    live_ostiary.user(email)
    app, secret = live_ostiary.call(
        live_ostiary.services.apps.create("Sync web", "web", redirect_uris=[WEB_CALLBACK])
    )
    with (
        OstiaryClient(live_ostiary.issuer, app.client_id, secret.value) as client,
        httpx.Client() as browser,
    ):
        request = client.authorization_url(WEB_CALLBACK, login_hint=email)
        callback = live_ostiary.sign_in(browser, request.url, email)
        tokens = client.exchange_code(callback, request)
        fresh = client.refresh(tokens)
        assert (
            email
            == client.userinfo(fresh.access_token, expected_sub=tokens.id_claims["sub"])["email"]
        )
        assert tokens.id_claims["sub"] == client.validate_access_token(fresh.access_token).sub
