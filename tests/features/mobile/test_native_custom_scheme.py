"""A mobile app (a native, public client) whose redirect URI is a custom scheme, end to end.

The hosted login page's last answer is a 303 to ``com.example.app:/callback?code=…&state=…&iss=…``:
no browser can follow that URL; the OS hands it to the app that claimed the scheme. The tests then
play the app the way AppAuth for iOS and Android does it: parse the URL, check ``state`` and
``iss`` (RFC 9207), redeem the code with ``client_id`` and the PKCE ``code_verifier`` (no
secret), and validate the ID token against ``/keys``. Also: a plain ``myapp://callback`` and a
claimed https link work too, PKCE cannot be left out, and only native apps get custom schemes.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flow_helpers import EMAIL, FlowHelper
from joserfc import jwt
from joserfc.jwk import KeySet

from ostiary.services.errors import InvalidInput

REVERSE_DNS_REDIRECT = "com.example.app:/callback"
PLAIN_SCHEME_REDIRECT = "myapp://callback"
CLAIMED_LINK_REDIRECT = "https://app.example.com/oauth/callback"
SCOPE = "openid profile email offline_access"
TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "scope", "id_token", "refresh_token"}


@dataclasses.dataclass(frozen=True)
class PendingLogin:
    """What the app keeps on the device while the system browser is away."""

    redirect_uri: str
    state: str
    nonce: str
    code_verifier: str

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class MobileApp:
    """The app's side of the flow, as AppAuth does it (code written from the RFCs, not from
    Ostiary's own helpers), over the in-process HTTP client."""

    def __init__(self, client: httpx.AsyncClient, issuer: str, client_id: str) -> None:
        self.client = client
        self.issuer = issuer
        self.client_id = client_id

    def start(
        self, redirect_uri: str, *, pkce: dict[str, str] | None = None
    ) -> tuple[str, PendingLogin]:
        """The authorization URL to open in the system browser, and what to remember.
        ``pkce`` replaces the PKCE parameters (``{}`` leaves them out)."""
        login = PendingLogin(
            redirect_uri=redirect_uri,
            state=secrets.token_urlsafe(16),
            nonce=secrets.token_urlsafe(16),
            code_verifier=secrets.token_urlsafe(48),
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": login.state,
            "nonce": login.nonce,
        }
        if pkce is None:
            pkce = {"code_challenge": login.code_challenge, "code_challenge_method": "S256"}
        params.update(pkce)
        return f"/oauth/authorize?{urlencode(params)}", login

    def receive(self, url: str, login: PendingLogin) -> dict[str, str]:
        """The URL the OS handed over: it must be for the pending login (same redirect URI,
        ``state``) and from our Ostiary (``iss``). Returns its query parameters."""
        base, _, query = url.partition("?")
        assert login.redirect_uri == base, url
        params = {name: values[0] for name, values in parse_qs(query).items()}
        assert login.state == params["state"]
        assert self.issuer == params["iss"]
        return params

    async def redeem(self, code: str, login: PendingLogin) -> httpx.Response:
        """The token request of a public client: client_id and code_verifier, no secret."""
        return await self.client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "code": code,
                "redirect_uri": login.redirect_uri,
                "code_verifier": login.code_verifier,
            },
        )

    async def validate_id_token(self, id_token: str, login: PendingLogin) -> dict[str, Any]:
        """OIDC Core §3.1.3.7: RS256 signature by a key of ``/keys``, then iss, aud, azp,
        exp and nonce."""
        keys = KeySet.import_key_set((await self.client.get("/keys")).json())
        token = jwt.decode(id_token, keys, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": login.nonce},
        ).validate(token.claims)
        assert self.client_id == token.claims["azp"]
        return dict(token.claims)


async def register_native(flow: FlowHelper, *redirect_uris: str) -> MobileApp:
    """``ostiary apps create --type native --redirect-uri …`` through the services, plus a
    user to sign in with."""
    app, secret = await flow.services.apps.create(
        "Acme Mobile", "native", redirect_uris=list(redirect_uris)
    )
    assert secret is None
    await flow.user()
    return MobileApp(flow.client, flow.issuer, app.client_id)


async def sign_in_in_browser(flow: FlowHelper, authorize_path: str) -> httpx.Response:
    """The system browser: open the authorization URL, fill in the hosted login page, and
    return the last answer (the redirect it cannot follow)."""
    form = await flow.open_form(await flow.client.get(authorize_path))
    return await flow.submit_login(form)


@pytest.mark.parametrize("redirect_uri", [REVERSE_DNS_REDIRECT, PLAIN_SCHEME_REDIRECT])
async def test_custom_scheme_login_completes_in_the_app(
    flow: FlowHelper, redirect_uri: str
) -> None:
    """The login ends in a 303 to the custom scheme, and the app redeems it into valid tokens."""
    app = await register_native(flow, redirect_uri)
    authorize_path, login = app.start(redirect_uri)

    last = await sign_in_in_browser(flow, authorize_path)

    assert 303 == last.status_code
    location = last.headers["location"]
    assert location.startswith(f"{redirect_uri}?code=")
    params = app.receive(location, login)
    assert {"code", "state", "iss"} == set(params)
    response = await app.redeem(params["code"], login)
    assert 200 == response.status_code, response.text
    tokens = response.json()
    assert TOKEN_FIELDS == set(tokens)
    claims = await app.validate_id_token(tokens["id_token"], login)
    user = await flow.services.users.get(EMAIL)
    assert user.id == claims["sub"]


async def test_claimed_https_link_works_for_the_same_native_app(flow: FlowHelper) -> None:
    """A native app's claimed https link completes too, and so does its scheme via the session."""
    app = await register_native(flow, REVERSE_DNS_REDIRECT, CLAIMED_LINK_REDIRECT)

    path, by_link = app.start(CLAIMED_LINK_REDIRECT)
    last = await sign_in_in_browser(flow, path)
    assert 303 == last.status_code
    link_params = app.receive(last.headers["location"], by_link)
    link_tokens = (await app.redeem(link_params["code"], by_link)).json()
    link_claims = await app.validate_id_token(link_tokens["id_token"], by_link)

    path, by_scheme = app.start(REVERSE_DNS_REDIRECT)
    straight_back = await flow.client.get(path)  # a live session: no login page this time
    assert 303 == straight_back.status_code
    scheme_params = app.receive(straight_back.headers["location"], by_scheme)
    scheme_response = await app.redeem(scheme_params["code"], by_scheme)
    assert 200 == scheme_response.status_code, scheme_response.text
    scheme_claims = await app.validate_id_token(scheme_response.json()["id_token"], by_scheme)

    assert link_claims["sid"] == scheme_claims["sid"]


@pytest.mark.parametrize(
    "pkce",
    [{}, {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}],
    ids=["no-code-challenge", "plain-method"],
)
async def test_native_app_without_pkce_is_sent_back_with_an_error(
    flow: FlowHelper, pkce: dict[str, str]
) -> None:
    """Without an S256 code_challenge the app gets error=invalid_request on its scheme, no code."""
    app = await register_native(flow, REVERSE_DNS_REDIRECT)
    path, login = app.start(REVERSE_DNS_REDIRECT, pkce=pkce)

    response = await flow.client.get(path)

    assert 303 == response.status_code
    params = app.receive(response.headers["location"], login)
    assert "invalid_request" == params["error"]
    assert "code" not in params
    assert flow.session_cookie() is None  # refused before any login page


async def test_code_without_the_verifier_is_refused(flow: FlowHelper) -> None:
    """A code for a native app cannot be redeemed without its code_verifier."""
    app = await register_native(flow, REVERSE_DNS_REDIRECT)
    path, login = app.start(REVERSE_DNS_REDIRECT)
    last = await sign_in_in_browser(flow, path)
    code = app.receive(last.headers["location"], login)["code"]

    response = await flow.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": code,
            "redirect_uri": REVERSE_DNS_REDIRECT,
        },
    )

    assert 400 == response.status_code
    assert {
        "error": "invalid_grant",
        "error_description": "code_verifier is required (PKCE).",
    } == response.json()


async def test_native_app_cannot_turn_pkce_off(flow: FlowHelper) -> None:
    """Registering a native app with enforce_pkce=False is refused."""
    with pytest.raises(InvalidInput) as refused:
        await flow.services.apps.create(
            "Acme Mobile", "native", redirect_uris=[REVERSE_DNS_REDIRECT], enforce_pkce=False
        )

    assert "pkce_required" == refused.value.rule


async def test_native_app_that_sends_a_secret_is_refused(flow: FlowHelper) -> None:
    """A native app is a public client: a token request with a client_secret gets 401."""
    app = await register_native(flow, REVERSE_DNS_REDIRECT)
    path, login = app.start(REVERSE_DNS_REDIRECT)
    last = await sign_in_in_browser(flow, path)
    code = app.receive(last.headers["location"], login)["code"]

    response = await flow.client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "client_secret": "baked-into-the-binary",
            "code": code,
            "redirect_uri": REVERSE_DNS_REDIRECT,
            "code_verifier": login.code_verifier,
        },
    )

    assert 401 == response.status_code
    assert "invalid_client" == response.json()["error"]


@pytest.mark.parametrize("redirect_uri", [REVERSE_DNS_REDIRECT, PLAIN_SCHEME_REDIRECT])
@pytest.mark.parametrize("app_type", ["web", "spa"])
async def test_only_native_apps_can_register_a_custom_scheme(
    flow: FlowHelper, app_type: str, redirect_uri: str
) -> None:
    """Web and SPA apps cannot register a custom-scheme redirect URI."""
    with pytest.raises(InvalidInput) as refused:
        await flow.services.apps.create("Acme", app_type, redirect_uris=[redirect_uri])

    assert ("redirect_uris", "custom_scheme_not_native") == (
        refused.value.field,
        refused.value.rule,
    )
    assert [] == [app for app in await flow.services.apps.all() if app.name == "Acme"]


def form_action_allows(csp: str, url: str) -> bool:
    """Whether a Content-Security-Policy lets a form submission (and the redirects that follow
    it) reach ``url``: no form-action directive, or a scheme-source for ``url``'s scheme."""
    directives = {
        name: sources
        for name, *sources in (part.split() for part in csp.split(";") if part.strip())
    }
    if "form-action" not in directives:
        return True
    return f"{urlsplit(url).scheme}:" in directives["form-action"]


async def test_login_page_lets_its_form_redirect_to_the_custom_scheme(flow: FlowHelper) -> None:
    """The login page's CSP lets its form's final redirect reach the app's custom scheme."""
    app = await register_native(flow, REVERSE_DNS_REDIRECT)
    path, _ = app.start(REVERSE_DNS_REDIRECT)
    form = await flow.open_form(await flow.client.get(path))
    csp = form.response.headers["content-security-policy"]
    assert re.search(r"form-action [^;]*", csp), csp

    assert form_action_allows(csp, REVERSE_DNS_REDIRECT), csp
