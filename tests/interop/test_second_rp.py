"""A second, independent relying party: idpyoidc (Python, IdentityPython) with its own JOSE stack,
cryptojwt — nothing shared with Ostiary's joserfc code or with openid-client. idpyoidc discovers
the provider, builds the authorization request (PKCE S256, state, nonce) for a web app with a
secret, Chromium signs in on the hosted login page, and idpyoidc exchanges the code
(client_secret_basic, then client_secret_post), verifies the ID token against the keys it
fetched from ``jwks_uri``, and fetches UserInfo."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_harness import BrowserSession, CallbackCatcher
from flows import Person, query
from interop_harness import IN_CI, LiveServer, app_command

try:
    import requests
    from cryptojwt.exception import BadSignature
    from cryptojwt.jws.jws import factory as jws_factory
    from cryptojwt.key_jar import KeyJar
    from idpyoidc.client.rp_handler import RPHandler
except ImportError as missing:  # pragma: no cover - the `test` extra installs idpyoidc
    if IN_CI:
        raise
    pytest.skip(
        f"idpyoidc is not installed (pip install -e '.[test]'): {missing}", allow_module_level=True
    )

pytestmark = [pytest.mark.interop, pytest.mark.browser]

PKCE_ADD_ON = {
    "function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
    "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
}


@dataclass
class Exchange:
    """One HTTP request idpyoidc made, as it made it."""

    method: str
    url: str
    headers: dict[str, str]
    body: str


@dataclass
class RecordingHttp:
    """The ``httpc`` handed to idpyoidc: plain requests (no proxies from the environment) that
    remembers every request."""

    session: Any = field(default_factory=lambda: requests.Session())
    sent: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session.trust_env = False

    def __call__(
        self, method: str, url: str, data: Any = None, headers: Any = None, **kw: Any
    ) -> Any:
        body = data.decode() if isinstance(data, bytes) else str(data or "")
        self.sent.append(Exchange(method, url, dict(headers or {}), body))
        kw.pop("proxies", None)
        kw.setdefault("timeout", 30)
        return self.session.request(method, url, data=data, headers=headers, **kw)

    def to(self, url: str) -> list[Exchange]:
        return [exchange for exchange in self.sent if exchange.url.split("?")[0] == url]


@pytest.fixture(scope="module")
def registered(
    live_server: LiveServer, app_callback: Callable[..., CallbackCatcher]
) -> tuple[Person, dict[str, Any], CallbackCatcher]:
    """A user and a web app (with a secret) whose redirect URI is a loopback callback."""
    web_cb = app_callback("/oidc/callback")
    user, web = live_server.cli_many(
        Person.command("katherine@example.com", "Katherine Johnson"),
        app_command("web", name="idpyoidc RP", redirect_uris=[web_cb.redirect_uri]),
    )
    return Person.from_cli(user), web, web_cb


@pytest.fixture
def http() -> Iterator[RecordingHttp]:
    recorder = RecordingHttp()
    try:
        yield recorder
    finally:
        recorder.session.close()


def _rp_handler(
    live_server: LiveServer,
    app: dict[str, Any],
    redirect_uri: str,
    auth_method: str,
    http: RecordingHttp,
) -> RPHandler:
    """idpyoidc's high-level RP, statically registered (no dynamic registration)."""
    config = {
        live_server.issuer: {
            "issuer": live_server.issuer,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "redirect_uris": [redirect_uri],
            "client_type": "oidc",
            "preference": {
                "response_types": ["code"],
                "token_endpoint_auth_methods_supported": [auth_method],
            },
            "client_authn_methods": [auth_method],
            "add_ons": {"pkce": PKCE_ADD_ON},
        }
    }
    return RPHandler(
        base_url=redirect_uri.rsplit("/", 2)[0],
        client_configs=config,
        keyjar=KeyJar(),  # the RP signs nothing: no key files written
        httpc=http,
        httpc_params={"verify": True},
    )


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_idpyoidc_completes_the_code_flow(
    auth_method: str,
    browser: BrowserSession,
    live_server: LiveServer,
    registered: tuple[Person, dict[str, Any], CallbackCatcher],
    http: RecordingHttp,
) -> None:
    """idpyoidc discovers, signs in via Chromium, exchanges the code, verifies the ID token."""
    person, web_app, web_cb = registered
    issuer = live_server.issuer
    rph = _rp_handler(live_server, web_app, web_cb.redirect_uri, auth_method, http)
    auth_url = rph.begin(issuer_id=issuer, req_args={"scope": "openid profile email"})
    client = rph.issuer2rp[issuer]
    context = client.get_context()
    assert context.provider_info["issuer"] == issuer
    assert http.to(live_server.url("/.well-known/openid-configuration"))

    sent = query(auth_url)
    assert auth_url.startswith(live_server.url("/oauth/authorize?"))
    assert sent["response_type"] == ["code"]
    assert sent["client_id"] == [web_app["client_id"]]
    assert sent["redirect_uri"] == [web_cb.redirect_uri]
    assert sent["code_challenge_method"] == ["S256"]
    assert set(sent["scope"][0].split()) == {"openid", "profile", "email"}
    state, nonce = sent["state"][0], sent["nonce"][0]

    landing = browser.sign_in(auth_url, web_cb, person.email, person.password)
    response = {k: v[0] for k, v in parse_qs(urlsplit(landing.callback_url).query).items()}
    assert response["state"] == state
    assert response["iss"] == issuer

    # idpyoidc refuses an authorization response whose state it never issued.
    with pytest.raises(KeyError, match="state"):
        rph.finalize(issuer, {**response, "state": "forged-" + state})

    result = rph.finalize(issuer, response)
    assert "error" not in result, result
    assert result["state"] == state

    # The code exchange used the configured client authentication, and sent the PKCE verifier.
    (token_request,) = http.to(live_server.url("/oauth/token"))
    form = parse_qs(token_request.body)
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == [response["code"]]
    assert form["redirect_uri"] == [web_cb.redirect_uri]
    assert len(form["code_verifier"][0]) >= 43
    if auth_method == "client_secret_basic":
        scheme, _, credentials = token_request.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(credentials).decode().split(":")[0] == web_app["client_id"]
        assert "client_secret" not in form
    else:
        assert "Authorization" not in token_request.headers
        assert form["client_secret"] == [web_app["client_secret"]]
        assert form["client_id"] == [web_app["client_id"]]

    # The ID token idpyoidc verified (signature by cryptojwt with the JWKS it fetched).
    id_token = result["id_token"]
    assert id_token["iss"] == issuer
    assert id_token["sub"] == person.id
    assert web_app["client_id"] in (
        id_token["aud"] if isinstance(id_token["aud"], list) else [id_token["aud"]]
    )
    assert id_token["nonce"] == nonce
    assert id_token["email"] == person.email
    kid = id_token.jws_header["kid"]
    assert http.to(live_server.url("/keys")), "cryptojwt never fetched the JWKS"
    issuer_keys = client.keyjar.get_issuer_keys(issuer)
    assert kid in {key.kid for key in issuer_keys}, "the ID token's kid is not in the JWKS"

    # Independently: cryptojwt verifies the raw ID token with those keys, and refuses a forgery.
    raw = context.cstate.get_set(state, claim=["id_token"])["id_token"]
    verified = jws_factory(raw).verify_compact(raw, issuer_keys)
    assert verified["sub"] == person.id
    head, _, signature = raw.split(".")
    other_sub = json.dumps({**verified, "sub": "usr_someone_else"}).encode()
    forged = f"{head}.{base64.urlsafe_b64encode(other_sub).decode().rstrip('=')}.{signature}"
    with pytest.raises(BadSignature):
        jws_factory(forged).verify_compact(forged, issuer_keys)

    # UserInfo, fetched by idpyoidc with the access token and matched to the ID token's sub.
    userinfo = result["userinfo"]
    assert userinfo["sub"] == person.id
    assert userinfo["email"] == person.email
    assert userinfo["name"] == person.name
    (userinfo_request,) = http.to(live_server.url("/userinfo"))
    assert userinfo_request.headers["Authorization"] == f"Bearer {result['token']}"
