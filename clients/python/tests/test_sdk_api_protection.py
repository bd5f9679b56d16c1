"""API protection for Starlette and FastAPI: only valid bearer access tokens with the required
scopes or permissions get through; failures follow RFC 6750."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ostiary_client import AccessToken, AsyncOstiaryClient, User
from ostiary_client.starlette import OstiaryAuth, require_token


@pytest.fixture
async def api(ostiary):
    """A Starlette API accepting the tokens of a SPA app, and a token factory."""
    spa, _ = await ostiary.services.apps.create(
        "SPA", "spa", redirect_uris=["http://localhost:5173/cb"]
    )
    client = AsyncOstiaryClient(
        ostiary.issuer, "api", audience=[spa.client_id],
        http=httpx.AsyncClient(transport=ostiary.transport()),
    )  # fmt: skip
    read_orders = require_token(client, scopes=["email"])
    delete_orders = require_token(client, permissions=["orders:delete"])

    async def orders(request: Request) -> Response:
        token = await read_orders(request)
        return JSONResponse({"sub": token.sub})

    async def delete(request: Request) -> Response:
        token = await delete_orders(request)
        return JSONResponse({"deleted_by": token.sub})

    app = Starlette(routes=[Route("/orders", orders), Route("/orders", delete, methods=["DELETE"])])

    async def make_token(**overrides) -> str:
        now = int(time.time())
        claims = {
            "iss": ostiary.issuer, "aud": [spa.client_id], "sub": "usr_1",
            "client_id": spa.client_id, "scope": "openid email", "jti": "j",
            "iat": now, "nbf": now, "exp": now + 300, "permissions": ["orders:read"],
        }  # fmt: skip
        claims.update(overrides)
        return await ostiary.sign(claims, typ="at+jwt")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api.test"
    ) as http:
        yield http, make_token
    await client._http.aclose()


async def test_valid_token_reaches_the_endpoint(api):
    """A token for an accepted audience with the needed scope is let through."""
    http, make_token = api
    response = await http.get("/orders", headers={"authorization": f"Bearer {await make_token()}"})
    assert 200 == response.status_code
    assert {"sub": "usr_1"} == response.json()


async def test_missing_token_gets_a_bare_challenge(api):
    """No credentials: 401 with a challenge but no error code (RFC 6750 §3.1)."""
    http, _ = api
    response = await http.get("/orders")
    assert 401 == response.status_code
    assert 'Bearer realm="api"' == response.headers["www-authenticate"]


async def test_invalid_and_expired_tokens_get_invalid_token(api):
    """A garbage or expired token: 401 with error="invalid_token"."""
    http, make_token = api
    garbage = await http.get("/orders", headers={"authorization": "Bearer not-a-jwt"})
    assert 401 == garbage.status_code
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    now = int(time.time())
    expired = await make_token(iat=now - 900, nbf=now - 900, exp=now - 300)
    response = await http.get("/orders", headers={"authorization": f"Bearer {expired}"})
    assert 401 == response.status_code
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and "expired" in challenge


async def test_token_for_another_app_gets_invalid_token(api):
    """A token whose audience the API does not accept is refused with 401."""
    http, make_token = api
    token = await make_token(aud=["web_someone_else"])
    response = await http.get("/orders", headers={"authorization": f"Bearer {token}"})
    assert 401 == response.status_code


async def test_missing_scope_or_permission_gets_insufficient_scope(api):
    """A valid token without the scope or permission: 403 with error="insufficient_scope"."""
    http, make_token = api
    token = await make_token(scope="openid")
    response = await http.get("/orders", headers={"authorization": f"Bearer {token}"})
    assert 403 == response.status_code
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="email"' in challenge
    response = await http.delete(
        "/orders", headers={"authorization": f"Bearer {await make_token()}"}
    )
    assert 403 == response.status_code
    allowed = await make_token(permissions=["orders:read", "orders:delete"])
    response = await http.delete("/orders", headers={"authorization": f"Bearer {allowed}"})
    assert {"deleted_by": "usr_1"} == response.json()


async def test_malformed_authorization_header_is_a_bad_request(api):
    """'Bearer' with a token containing spaces is invalid_request (400)."""
    http, _ = api
    response = await http.get("/orders", headers={"authorization": "Bearer a b"})
    assert 400 == response.status_code
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_fastapi_dependencies(ostiary):
    """FastAPI's Depends works with require_token (API) and auth.require_user (pages, JSON)."""
    web, secret = await ostiary.services.apps.create(
        "Web", "web", redirect_uris=["http://app.test/auth/callback"]
    )
    client = AsyncOstiaryClient(
        ostiary.issuer,
        web.client_id,
        secret.value,
        http=httpx.AsyncClient(transport=ostiary.transport()),
    )
    auth = OstiaryAuth(client, redirect_uri="http://app.test/auth/callback")
    app = FastAPI()
    app.mount("/auth", auth.router)

    @app.get("/api/orders")
    async def orders(token: AccessToken = Depends(require_token(client, scopes=["email"]))) -> dict:
        return {"sub": token.sub}

    @app.get("/me")
    async def me(user: User = Depends(auth.require_user)) -> dict:
        return {"sub": user.sub}

    now = int(time.time())
    token = await ostiary.sign(
        {"iss": ostiary.issuer, "aud": [web.client_id], "sub": "usr_9", "scope": "email",
         "iat": now, "exp": now + 60},
        typ="at+jwt",
    )  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://app.test"
    ) as http:
        ok = await http.get("/api/orders", headers={"authorization": f"Bearer {token}"})
        assert {"sub": "usr_9"} == ok.json()
        refused = await http.get("/api/orders", headers={"authorization": "Bearer x.y.z"})
        assert 401 == refused.status_code
        assert refused.headers["www-authenticate"].startswith(
            'Bearer realm="api", error="invalid_token"'
        )
        page = await http.get("/me", headers={"accept": "text/html"})
        assert 303 == page.status_code
        assert "/auth/login?returnTo=%2Fme" == page.headers["location"]
        assert 401 == (await http.get("/me", headers={"accept": "application/json"})).status_code
        login = await http.get("/auth/login")
        assert login.headers["location"].startswith(f"{ostiary.issuer}/oauth/authorize?")
    await client._http.aclose()
