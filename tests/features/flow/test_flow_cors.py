"""CORS on /oauth/token for registered SPA origins only (never ``*``, never credentials)."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import pytest
from flow_helpers import SPA_ORIGIN, FlowHelper

import ostiary.web.cors

PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
}


@pytest.fixture(autouse=True)
def _no_origin_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps registered during a test are seen at once (the origin list is cached 5 s)."""
    monkeypatch.setattr(ostiary.web.cors, "CACHE_SECONDS", 0)


async def test_preflight_from_spa_origin_is_allowed_for_that_origin(flow: FlowHelper) -> None:
    """Preflight from the SPA origin: 204, allow-origin = that origin, no allow-credentials."""
    await flow.spa()
    response = await flow.client.options(
        "/oauth/token", headers={"origin": SPA_ORIGIN, **PREFLIGHT}
    )
    assert 204 == response.status_code
    assert SPA_ORIGIN == response.headers["access-control-allow-origin"]
    assert "access-control-allow-credentials" not in response.headers
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_preflight_from_unregistered_origin_is_403(flow: FlowHelper) -> None:
    """OPTIONS /oauth/token from an origin no SPA registered: 403 and no allow-origin."""
    await flow.spa()
    response = await flow.client.options(
        "/oauth/token", headers={"origin": "https://evil.example.com", **PREFLIGHT}
    )
    assert 403 == response.status_code
    assert "access-control-allow-origin" not in response.headers


async def test_web_app_redirect_origin_is_not_a_cors_origin(flow: FlowHelper) -> None:
    """A web app's redirect URI origin does not get CORS (only SPAs do)."""
    await flow.web()
    response = await flow.client.options(
        "/oauth/token", headers={"origin": "https://web.example.com", **PREFLIGHT}
    )
    assert (403, None) == (
        response.status_code,
        response.headers.get("access-control-allow-origin"),
    )


async def test_origin_differing_in_port_is_not_allowed(flow: FlowHelper) -> None:
    """The SPA's host on another port is another origin: 403."""
    await flow.spa()
    response = await flow.client.options(
        "/oauth/token", headers={"origin": "http://localhost:5174", **PREFLIGHT}
    )
    assert 403 == response.status_code


async def test_token_post_from_spa_origin_carries_allow_origin(flow: FlowHelper) -> None:
    """The SPA's actual code exchange from its origin carries Access-Control-Allow-Origin."""
    app = await flow.spa()
    await flow.user()
    authorization = await flow.login(app)
    form = {
        "grant_type": "authorization_code",
        "code": authorization.code,
        "redirect_uri": authorization.attempt.redirect_uri,
        "code_verifier": authorization.attempt.pkce.verifier,  # type: ignore[union-attr]
    }
    response = await flow.post_token(app, form, headers={"origin": SPA_ORIGIN})
    assert 200 == response.status_code
    assert SPA_ORIGIN == response.headers["access-control-allow-origin"]
    assert "access-control-allow-credentials" not in response.headers


async def test_token_post_from_other_origin_has_no_allow_origin(flow: FlowHelper) -> None:
    """A token request from an unregistered origin gets no Access-Control-Allow-Origin."""
    app = await flow.spa()
    response = await flow.post_token(
        app,
        {"grant_type": "refresh_token", "refresh_token": "x"},
        headers={"origin": "https://evil.example.com"},
    )
    assert "access-control-allow-origin" not in response.headers


async def test_spa_registered_after_first_request_is_seen_without_cache(
    flow: FlowHelper,
) -> None:
    """With the cache off, a SPA registered after the app served requests gets CORS."""
    await flow.client.get("/.well-known/openid-configuration")
    await flow.spa(redirect_uris=["http://localhost:4200/cb"])
    response = await flow.client.options(
        "/oauth/token", headers={"origin": "http://localhost:4200", **PREFLIGHT}
    )
    assert "http://localhost:4200" == response.headers.get("access-control-allow-origin")


async def test_userinfo_and_keys_answer_cors_for_the_spa(flow: FlowHelper) -> None:
    """GET /keys and /userinfo with the SPA origin carry Access-Control-Allow-Origin."""
    await flow.spa()
    keys = await flow.client.get("/keys", headers={"origin": SPA_ORIGIN})
    bearer = {"authorization": "Bearer x.y.z"}
    userinfo = await flow.client.get("/userinfo", headers={"origin": SPA_ORIGIN, **bearer})
    assert (SPA_ORIGIN, SPA_ORIGIN) == (
        keys.headers.get("access-control-allow-origin"),
        userinfo.headers.get("access-control-allow-origin"),
    )
