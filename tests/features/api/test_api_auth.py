"""Who may call /api/v1: only client_credentials tokens of web apps with management access, with
management:read for reads and management:write for changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_helpers import Api

from ostiary.protocol.jose import generate_private_key, sign_jwt

# One read and one write of every resource, to prove that each router applies the same gate.
READS = [
    "/applications",
    "/users",
    "/organizations",
    "/roles",
    "/permissions",
    "/keys",
    "/sessions/ses_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/sessions",
]
WRITES = [
    ("POST", "/applications", {"name": "X", "type": "spa"}),
    ("POST", "/users", {"email": "someone@example.com"}),
    ("POST", "/organizations", {"display_name": "Acme"}),
    ("POST", "/roles", {"name": "billing"}),
    ("POST", "/permissions", {"name": "invoices:read"}),
    ("POST", "/keys/rotate", {"delay": 0}),
    ("DELETE", "/sessions/ses_01ARZ3NDEKTSV4RRFFQ69G5FAV", None),
    ("DELETE", "/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/sessions", None),
]


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


@pytest.mark.parametrize("path", READS)
async def test_no_token_is_401_with_a_bearer_challenge(api: Api, path: str) -> None:
    """A request without Authorization gets 401 unauthenticated and a Bearer challenge."""
    response = await api.get(path, token=None)
    assert (401, "unauthenticated") == _code(response)
    assert response.headers["www-authenticate"].startswith('Bearer realm="ostiary-management-api"')


async def test_garbage_and_tampered_tokens_are_401_invalid_token(api: Api) -> None:
    """A malformed token and one with an altered signature get 401 with error=invalid_token."""
    good = await api.token()
    head, payload, signature = good.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    tampered = f"{head}.{payload}.{signature[:10]}{flipped}{signature[11:]}"
    for token in ("not-a-jwt", tampered):
        response = await api.get("/users", token=token)
        assert (401, "unauthenticated") == _code(response)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_basic_credentials_instead_of_a_bearer_token_are_401(api: Api) -> None:
    """Authorization: Basic … is not a bearer token: 401."""
    response = await api.get("/users", token=None, headers={"authorization": "Basic eDp5"})
    assert (401, "unauthenticated") == _code(response)


async def test_a_token_signed_by_someone_else_is_401(api: Api) -> None:
    """Our claims re-signed with a foreign key under our kid: 401."""
    claims = await api.services.bearer.verify(await api.token(), check_grant=False)
    kid = (await api.services.keys.all())[0].kid
    forged = sign_jwt(
        claims, generate_private_key("RS256"), kid=kid, algorithm="RS256", typ="at+jwt"
    )
    assert (401, "unauthenticated") == _code(await api.get("/users", token=forged))


async def test_an_expired_token_is_401(api: Api, clock: Any) -> None:
    """A client_credentials token lives one hour; after that the API refuses it."""
    token = await api.token()
    clock.advance(3600 + 60)
    assert (401, "unauthenticated") == _code(await api.get("/users", token=token))


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_read_only_token_cannot_write(
    api: Api, method: str, path: str, body: dict[str, object] | None
) -> None:
    """A token with only management:read gets 403 insufficient_scope on every change."""
    token = await api.new_token("management:read")
    response = await api.request(method, path, token=token, json=body)
    assert (403, "permission_denied") == _code(response)
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="management:write"' in challenge


async def test_a_read_only_token_can_read(api: Api) -> None:
    """management:read alone is enough for every list."""
    token = await api.new_token("management:read")
    for path in READS[:6]:
        assert 200 == (await api.get(path, token=token)).status_code, path


async def test_a_write_only_token_cannot_read(api: Api) -> None:
    """management:write does not imply management:read."""
    token = await api.new_token("management:write")
    response = await api.get("/users", token=token)
    assert (403, "permission_denied") == _code(response)
    assert (
        201 == (await api.post("/users", token=token, json={"email": "w@example.com"})).status_code
    )


async def test_an_app_without_management_access_is_403(api: Api) -> None:
    """A web app without management_api_access gets a token with no scope; the API says 403."""
    token = await api.new_token(management=False)
    claims = await api.services.bearer.verify(token, check_grant=False)
    assert "" == claims["scope"]
    for path in READS[:6]:
        assert (403, "permission_denied") == _code(await api.get(path, token=token)), path


async def test_losing_management_access_takes_effect_at_once(api: Api) -> None:
    """Turn management_api_access off and the app's still-valid token gets 403."""
    app = await api.register("Ex-admin")
    token = await api.token_for(app)
    assert 200 == (await api.get("/users", token=token)).status_code
    await api.services.apps.update(app.app.id, management_api_access=False)
    assert (403, "permission_denied") == _code(await api.get("/users", token=token))


async def test_a_revoked_client_credentials_token_is_401(api: Api) -> None:
    """An app that revokes its own management token (RFC 7009) cannot call the API with it."""
    app = await api.register("Rotating robot")
    token = await api.token_for(app)
    assert 200 == (await api.get("/users", token=token)).status_code
    revoked = await api.client.post(
        "/oauth/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=(app.app.client_id, app.secret),
    )
    assert 200 == revoked.status_code
    assert (401, "unauthenticated") == _code(await api.get("/users", token=token))
    assert 200 == (await api.get("/users", token=await api.token_for(app))).status_code


async def test_a_deleted_apps_token_is_401(api: Api) -> None:
    """Once its app is deleted, a token no longer authenticates anyone: 401."""
    app = await api.register("Temporary")
    token = await api.token_for(app)
    await api.services.apps.delete(app.app.id)
    assert (401, "unauthenticated") == _code(await api.get("/users", token=token))


async def test_a_users_access_token_is_refused(api: Api) -> None:
    """A user's access token (authorization code flow, even via a management app) gets 403."""
    await api.services.users.create("ada@example.com", password="correct horse battery staple")
    signed_in = await api.sign_in("ada@example.com")
    response = await api.get("/users", token=signed_in.access_token)
    assert (403, "permission_denied") == _code(response)
    assert "user" in response.json()["message"]


async def test_the_openapi_document_needs_no_token(api: Api) -> None:
    """GET /api/v1/openapi.json is public: it describes the API, it reveals no data."""
    response = await api.get("/openapi.json", token=None)
    assert 200 == response.status_code
    assert "3.1.0" == response.json()["openapi"]
