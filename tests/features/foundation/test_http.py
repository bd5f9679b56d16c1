"""Foundation endpoints over HTTP: discovery, the JWKS, health probes and security headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from ostiary.bootstrap import build_services
from ostiary.config import Settings
from ostiary.protocol.jose import PRIVATE_JWK_PARAMS, verify_jwt
from ostiary.services.container import Services
from ostiary.web.app import create_web_app

DISCOVERY_PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
UNREACHABLE_DB = "postgresql+asyncpg://nobody@127.0.0.1:1/x"


@pytest.fixture
async def unprepared_client(
    make_settings: Callable[..., Settings], clock: Any, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on services built from the overrides in ``request.param`` (never prepared)."""
    services = build_services(make_settings(**request.param), clock=clock)
    transport = httpx.ASGITransport(app=create_web_app(services))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=services.settings.issuer
        ) as client:
            yield client
    finally:
        await services.engine.dispose()


@pytest.mark.parametrize("path", DISCOVERY_PATHS)
async def test_discovery_names_the_issuer_and_the_jwks_uri(
    client: httpx.AsyncClient, services: Services, path: str
) -> None:
    """Both well-known paths serve JSON whose issuer is ours and whose jwks_uri is issuer/keys."""
    response = await client.get(path)
    document = response.json()
    assert 200 == response.status_code
    assert "application/json" == response.headers["content-type"].split(";")[0]
    assert services.settings.issuer == document["issuer"]
    assert f"{services.settings.issuer}/keys" == document["jwks_uri"]
    assert ["code"] == document["response_types_supported"]
    assert ["RS256"] == document["id_token_signing_alg_values_supported"]


async def test_both_discovery_paths_serve_the_same_document(client: httpx.AsyncClient) -> None:
    """The OIDC and the RFC 8414 discovery paths return identical documents."""
    first, second = [(await client.get(path)).json() for path in DISCOVERY_PATHS]
    assert first == second


async def test_jwks_is_a_cacheable_public_key_set(
    client: httpx.AsyncClient, services: Services
) -> None:
    """/keys is a cacheable application/jwk-set+json of public keys with kid/kty/alg/use."""
    response = await client.get("/keys")
    keys = response.json()["keys"]
    max_age = re.search(r"max-age=(\d+)", response.headers["cache-control"])
    assert 200 == response.status_code
    assert "application/jwk-set+json" == response.headers["content-type"].split(";")[0]
    assert max_age is not None and int(max_age.group(1)) > 0
    assert [info.kid for info in await services.keys.all()] == [key["kid"] for key in keys]
    for key in keys:
        assert {"kid", "kty", "alg", "use"} <= set(key)
        assert ("RSA", "RS256", "sig") == (key["kty"], key["alg"], key["use"])
        assert set() == set(key) & PRIVATE_JWK_PARAMS


async def test_a_rotated_key_is_published_before_it_signs(
    client: httpx.AsyncClient, services: Services
) -> None:
    """After a rotation /keys lists the waiting key next to the one that signs now, also when
    /keys was served just before (its response is kept while the key set stays the same)."""
    signing = (await services.keys.signing_key())[0]
    before = {key["kid"] for key in (await client.get("/keys")).json()["keys"]}
    new = await services.keys.rotate(delay=900)
    kids = {key["kid"] for key in (await client.get("/keys")).json()["keys"]}
    assert ({signing}, {signing, new.kid}) == (before, kids)


async def test_a_token_verifies_with_the_keys_fetched_over_http(
    client: httpx.AsyncClient, services: Services
) -> None:
    """A relying party that fetches jwks_uri can verify an access token Ostiary signed."""
    token = await services.keys.sign({"iss": services.settings.issuer}, typ="at+jwt")
    discovery = (await client.get(DISCOVERY_PATHS[0])).json()
    jwks = (await client.get(discovery["jwks_uri"])).json()
    verified = verify_jwt(token, jwks, ["RS256"])
    assert {"iss": services.settings.issuer} == dict(verified.claims)


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    """/healthz answers 200 while the process runs."""
    response = await client.get("/healthz")
    assert (200, {"status": "ok"}) == (response.status_code, response.json())


async def test_readyz_reports_the_database_reachable(client: httpx.AsyncClient) -> None:
    """/readyz answers 200 with database true when the database answers."""
    response = await client.get("/readyz")
    assert (200, True) == (response.status_code, response.json()["database"])


@pytest.mark.parametrize(
    "unprepared_client", [{"OSTIARY_DATABASE_URL": UNREACHABLE_DB}], indirect=True
)
async def test_readyz_is_503_when_the_database_is_unreachable(
    unprepared_client: httpx.AsyncClient,
) -> None:
    """/readyz answers 503 with database false when nothing listens at the database address."""
    ready = await unprepared_client.get("/readyz")
    alive = await unprepared_client.get("/healthz")
    assert (503, False) == (ready.status_code, ready.json()["database"])
    assert 200 == alive.status_code


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/keys", 200),
        ("GET", DISCOVERY_PATHS[0], 200),
        ("GET", DISCOVERY_PATHS[1], 200),
        ("GET", "/no-such-page", 404),
        ("POST", "/keys", 405),
    ],
)
async def test_every_response_forbids_framing(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    """Every response, errors included, has X-Frame-Options DENY and CSP frame-ancestors 'none'."""
    response = await client.request(method, path)
    assert status == response.status_code
    assert "DENY" == response.headers["x-frame-options"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "nosniff" == response.headers["x-content-type-options"]


async def test_development_sends_no_hsts(client: httpx.AsyncClient) -> None:
    """Development (plain http on a laptop) does not send Strict-Transport-Security."""
    response = await client.get("/healthz")
    assert None is response.headers.get("strict-transport-security")


@pytest.mark.parametrize(
    "unprepared_client",
    [
        {
            "OSTIARY_ENVIRONMENT": "production",
            "OSTIARY_ISSUER": "https://auth.example.com",
            "OSTIARY_SECRET_KEY": "p" * 48,
        }
    ],
    indirect=True,
)
async def test_production_sends_hsts(unprepared_client: httpx.AsyncClient) -> None:
    """Production responses carry Strict-Transport-Security with a max-age."""
    response = await unprepared_client.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_a_safe_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    """A caller's X-Request-ID made of safe characters comes back on the response."""
    response = await client.get("/keys", headers={"x-request-id": "trace-42.a_B"})
    assert "trace-42.a_B" == response.headers["x-request-id"]


@pytest.mark.parametrize("incoming", ["two words", "x" * 65, "a;b=c", "<script>", ""])
async def test_an_unsafe_request_id_is_replaced(client: httpx.AsyncClient, incoming: str) -> None:
    """A request id that could forge or bloat a log line is not echoed: the response carries
    one of Ostiary's own instead."""
    response = await client.get("/healthz", headers={"x-request-id": incoming})
    assert re.fullmatch(r"[0-9a-f]{10}-[0-9a-f]+", response.headers["x-request-id"])


async def test_a_form_that_cannot_be_parsed_is_a_400_not_a_500(client: httpx.AsyncClient) -> None:
    """A multipart body without its boundary, posted to the logout endpoint (which reads any
    form), is refused as a bad request."""
    response = await client.post(
        "/oidc/logout", content=b"--x\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert 400 == response.status_code


async def test_a_protocol_endpoint_refuses_another_method_with_405(
    client: httpx.AsyncClient,
) -> None:
    for method, path in (("POST", "/keys"), ("GET", "/oauth/token"), ("PUT", "/userinfo")):
        response = await client.request(method, path)
        assert 405 == response.status_code, (method, path)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("method", "path", "status", "title"),
    [
        ("GET", "/no-such-page", 404, "Page not found"),
        ("GET", "/admin/no-such-page", 404, "Page not found"),
        ("GET", "/oauth/token", 405, "This page can&#39;t be opened this way"),
        ("POST", "/ui/login/link", 405, "This page can&#39;t be opened this way"),
    ],
)
async def test_a_browser_gets_a_styled_page_for_404_and_405(
    client: httpx.AsyncClient, method: str, path: str, status: int, title: str
) -> None:
    """A browser asking for a missing page, or with the wrong method, gets an HTML page in
    Ostiary's style (its stylesheet, a heading, the code) with the same status and headers."""
    response = await client.request(method, path, headers={"accept": BROWSER_ACCEPT})
    assert status == response.status_code
    assert "text/html; charset=utf-8" == response.headers["content-type"]
    assert f"<h1>{title}</h1>" in response.text
    assert '<link rel="stylesheet" href="/ui/static/ostiary.css">' in response.text
    if status == 405:
        assert response.headers["allow"]


async def test_programs_still_get_plain_text_and_the_api_json_for_404(
    client: httpx.AsyncClient,
) -> None:
    """Without text/html in Accept a 404 stays plain text, and the management API keeps its JSON
    error even for a browser."""
    plain = await client.get("/no-such-page")
    assert (404, "Not Found") == (plain.status_code, plain.text)
    api = await client.get("/api/v1/no-such-thing", headers={"accept": BROWSER_ACCEPT})
    assert 404 == api.status_code
    assert "application/json" == api.headers["content-type"]
