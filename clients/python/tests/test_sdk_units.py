"""The sans-IO pieces on their own: return-path rules, callback parsing, client
authentication, the JWKS cache's rate limit, the session store, and provider failures."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from ostiary.protocol.claims import at_hash as server_at_hash

from ostiary_client import (
    IssuerMismatch,
    OstiaryClient,
    ProviderError,
    StateMismatch,
    TokenSet,
)
from ostiary_client._claims import at_hash
from ostiary_client._core import ClientConfig, ClientCore
from ostiary_client._jose import JwksCache
from ostiary_client._oauth import parse_callback
from ostiary_client._web import safe_return_to, wants_redirect
from ostiary_client.sessions import InMemorySessionStore


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/orders?id=1#top", "/orders?id=1#top"),
        ("/", "/"),
        (None, "/home"),
        ("", "/home"),
        ("https://evil.example/", "/home"),
        ("//evil.example/", "/home"),
        ("/\\evil.example", "/home"),
        ("/a\\b", "/home"),
        ("/ok\r\nSet-Cookie: x=1", "/home"),
        ("javascript:alert(1)", "/home"),
        ("orders", "/home"),
    ],
)
def test_return_to_is_a_same_origin_path(value, expected):
    """returnTo keeps only paths on this site; anything else becomes the default page."""
    assert expected == safe_return_to(value, "/home")


def test_page_navigations_are_told_from_api_calls():
    """Browsers asking for HTML are redirected; JSON, XHR and non-GET requests get 401."""
    assert wants_redirect("GET", "text/html,application/xhtml+xml", None)
    assert not wants_redirect("GET", "application/json", None)
    assert not wants_redirect("GET", "text/html", "XMLHttpRequest")
    assert not wants_redirect("POST", "text/html", None)
    assert not wants_redirect("GET", None, None)


def test_callback_parsing():
    """URLs, query strings, mappings and bare codes parse; a repeated parameter is refused."""
    assert ({"code": "c", "state": "s"}, False) == parse_callback("myapp:/cb?code=c&state=s")
    assert ({"code": "c", "state": "s"}, False) == parse_callback("code=c&state=s")
    assert ({"code": "c"}, False) == parse_callback({"code": "c"})
    assert ({"code": "abc"}, True) == parse_callback("abc")
    with pytest.raises(StateMismatch):
        parse_callback("https://app/cb?code=c&state=s&state=t")


def test_client_secret_basic_form_encodes_before_base64():
    """RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined and base64-encoded."""
    core = ClientCore(ClientConfig("https://id.example", "web_1", "s:e c+r/t"))
    request = core._authenticated_post("https://id.example/oauth/token", {"grant_type": "x"})
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert "Basic" == scheme
    assert "web_1:s%3Ae+c%2Br%2Ft" == base64.b64decode(encoded).decode()
    assert b"client_secret" not in request.content


def test_public_client_sends_only_its_client_id():
    """A client without a secret authenticates with client_id in the body, no header."""
    core = ClientCore(ClientConfig("https://id.example", "ntv_1"))
    request = core._authenticated_post("https://id.example/oauth/token", {"grant_type": "x"})
    assert "authorization" not in request.headers
    assert b"client_id=ntv_1" in request.content


def test_config_refuses_nonsense():
    """A non-URL issuer, or a secret method without a secret, fails at construction."""
    with pytest.raises(ValueError):
        ClientConfig("auth.example.com", "web_1")
    with pytest.raises(ValueError):
        ClientConfig("https://id.example", "web_1", token_endpoint_auth_method="client_secret_post")


def test_at_hash_matches_the_server():
    """The SDK computes at_hash exactly as Ostiary does for RS256/ES256."""
    assert server_at_hash("a.b.c") == at_hash("a.b.c", "RS256") == at_hash("a.b.c", "ES256")


def test_jwks_cache_rate_limits_unknown_kids():
    """The JWKS cache refetches for unknown kids at most once per interval, and after max_age."""
    now = [0.0]
    cache = JwksCache(max_age=300, refetch_interval=60, monotonic=lambda: now[0])
    assert cache.wants_fetch("k1")
    cache.store({"keys": []})
    assert cache.wants_fetch("k2")  # unknown: first refetch
    assert not cache.wants_fetch("k3")  # unknown again, inside the window
    now[0] = 61
    assert cache.wants_fetch("k3")
    now[0] = 400
    assert cache.wants_fetch("k1")  # older than max_age


def test_jwks_without_keys_list_is_a_provider_error():
    """A JWKS that is not {"keys": [...]} is the provider's fault, not the token's."""
    cache = JwksCache(max_age=300, refetch_interval=60, monotonic=lambda: 0.0)
    with pytest.raises(ProviderError):
        cache.store({"nope": 1})


def test_in_memory_store_expires_entries():
    """Values vanish after their time to live."""
    now = [0.0]
    store = InMemorySessionStore(clock=lambda: now[0])
    store.set("a", {"x": 1}, ttl=10)
    assert {"x": 1} == store.get("a")
    now[0] = 11
    assert store.get("a") is None
    store.set("b", {}, ttl=5)
    store.delete("b")
    assert 0 == len(store)


def test_token_set_round_trips_through_json():
    """A TokenSet survives to_dict → JSON → from_dict (what session stores do)."""
    tokens = TokenSet(
        access_token="at", expires_at=10.0, scope=("openid",), refresh_token="rt",
        id_token="it", id_claims={"sub": "usr_1"},
    )  # fmt: skip
    assert tokens == TokenSet.from_dict(json.loads(json.dumps(tokens.to_dict())))


def test_discovery_naming_another_issuer_is_refused():
    """OIDC Discovery §4.3: the document's issuer must be the configured one."""
    document = {
        "issuer": "https://other.example", "authorization_endpoint": "https://x/a",
        "token_endpoint": "https://x/t", "jwks_uri": "https://x/k",
    }  # fmt: skip
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=document)))
    with (
        OstiaryClient("https://id.example", "web_1", http=http) as client,
        pytest.raises(IssuerMismatch),
    ):
        client.metadata()


def test_unreachable_provider_is_a_provider_error():
    """Connection failures surface as ProviderError, not as httpx exceptions."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with (
        OstiaryClient("https://id.example", "web_1", http=http) as client,
        pytest.raises(ProviderError),
    ):
        client.authorization_url("https://app.example/cb")


async def test_cached_keys_keep_working_while_the_provider_is_down(ostiary):
    """With Ostiary unreachable, cached keys still validate; an unknown kid raises ProviderError."""
    import time as _time

    from ostiary_client import AsyncOstiaryClient

    up = [True]
    inner = ostiary.transport()

    class Flaky(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if not up[0]:
                raise httpx.ConnectError("down", request=request)
            return await inner.handle_async_request(request)

    now = [0.0]
    client = AsyncOstiaryClient(
        ostiary.issuer, "web_x", audience="web_x",
        http=httpx.AsyncClient(transport=Flaky()), monotonic=lambda: now[0],
    )  # fmt: skip
    t = int(_time.time())
    claims = {"iss": ostiary.issuer, "aud": "web_x", "sub": "u", "iat": t, "exp": t + 60}
    token = await ostiary.sign(claims, typ="at+jwt")
    await client.validate_access_token(token)
    up[0], now[0] = False, 10_000.0
    assert "u" == (await client.validate_access_token(token)).sub
    await ostiary.services.keys.rotate(delay=0)
    with pytest.raises(ProviderError):
        await client.validate_access_token(await ostiary.sign(claims, typ="at+jwt"))
