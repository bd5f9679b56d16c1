"""openid-client (Node, v6) as a strict relying party accepts Ostiary's discovery and JWKS."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from interop_harness import LiveServer, NodeRP

pytestmark = pytest.mark.interop

REDIRECT_URI = "http://127.0.0.1:9/cb"


@pytest.fixture(scope="module")
def web_app(live_server: LiveServer) -> dict[str, Any]:
    return live_server.create_app("web", name="openid-client RP", redirect_uris=[REDIRECT_URI])


@pytest.fixture
def rp(node_rp: NodeRP, live_server: LiveServer, web_app: dict[str, Any]) -> NodeRP:
    return node_rp.bind(
        issuer=live_server.issuer,
        client_id=web_app["client_id"],
        client_secret=web_app["client_secret"],
    )


def _get_json(url: str) -> Any:
    response = httpx.get(url, timeout=10, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


def test_openid_client_accepts_discovery_document(rp: NodeRP, live_server: LiveServer) -> None:
    """openid-client's discovery accepts the document and its issuer is the configured one."""
    result = rp("discover")
    metadata = result["metadata"]
    assert metadata["issuer"] == live_server.issuer
    assert metadata["jwks_uri"] == live_server.url("/keys")
    assert result["client_id"] == rp.defaults["client_id"]
    assert metadata == _get_json(live_server.url("/.well-known/openid-configuration"))


def test_openid_client_refuses_a_different_issuer(rp: NodeRP, live_server: LiveServer) -> None:
    """Discovery through another name for the same host fails the issuer check (not lax)."""
    failure = rp.fails("discover", issuer=f"http://localhost:{live_server.port}")
    assert failure.code == "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED"


def test_openid_client_imports_every_published_key(rp: NodeRP, live_server: LiveServer) -> None:
    """Every JWKS key imports with jose as a public sig key; kids equal GET /keys."""
    result = rp("jwks")
    published = _get_json(live_server.url("/keys"))["keys"]
    assert published, "the JWKS is empty"
    assert result["jwks_uri"] == live_server.url("/keys")
    assert result["kids"] == [key["kid"] for key in published]
    assert result["content_type"] in ("application/json", "application/jwk-set+json")
    for key in result["keys"]:
        assert key["use"] == "sig"
        if key["kty"] == "RSA":
            assert key["modulus_bits"] >= 2048


def test_rfc8414_path_serves_the_same_document(rp: NodeRP, live_server: LiveServer) -> None:
    """/.well-known/oauth-authorization-server equals the OIDC document, also via openid-client."""
    oidc = _get_json(live_server.url("/.well-known/openid-configuration"))
    oauth = _get_json(live_server.url("/.well-known/oauth-authorization-server"))
    assert oauth == oidc
    assert rp("discover", discovery="oauth2")["metadata"] == oidc
