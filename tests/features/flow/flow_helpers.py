"""A browser and an app developer in one object: register apps and users through the services,
then drive /oauth/authorize, the hosted login form, the token endpoint and userinfo over HTTP.

Imported by the tests of this folder (``from flow_helpers import …``); fixtures live in
``conftest.py``.
"""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from ostiary.domain.apps import App
from ostiary.domain.users import User
from ostiary.protocol.jose import verify_jwt
from ostiary.services.container import Services
from ostiary.web.cookies import cookie_names

__all__ = [
    "EMAIL",
    "NAME",
    "NATIVE_REDIRECT",
    "NATIVE_REGISTERED",
    "PASSWORD",
    "SPA_ORIGIN",
    "SPA_REDIRECT",
    "WEB_REDIRECT",
    "AdvancingClock",
    "Attempt",
    "Authorization",
    "FlowHelper",
    "Form",
    "Pkce",
    "RegisteredApp",
    "Tokens",
    "at_hash_of",
    "query_of",
]

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
NAME = "Ada Lovelace"
WEB_REDIRECT = "https://web.example.com/callback"
SPA_ORIGIN = "http://localhost:5173"
SPA_REDIRECT = f"{SPA_ORIGIN}/callback"
NATIVE_REGISTERED = "http://127.0.0.1/callback"
NATIVE_REDIRECT = "http://127.0.0.1:53123/callback"  # RFC 8252 §7.3: any port at use
DEFAULT_SCOPE = "openid profile email offline_access"


class AdvancingClock(Protocol):
    """The ``clock`` fixture (tests/conftest.py's FakeClock)."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...


def query_of(url: str) -> dict[str, str]:
    """The query of ``url`` as a dict; every parameter must appear once."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values()), url
    return {name: values[0] for name, values in parsed.items()}


def at_hash_of(access_token: str) -> str:
    """OIDC Core §3.1.3.6, computed independently of Ostiary's own code."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden input {name!r} in the page"
    return found.group(1)


@dataclasses.dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclasses.dataclass(frozen=True)
class RegisteredApp:
    """An app as its developer knows it: record, secret (web only), the redirect URI it uses."""

    app: App
    secret: str | None
    redirect_uri: str

    @property
    def client_id(self) -> str:
        return self.app.client_id

    @property
    def public(self) -> bool:
        return self.secret is None


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One GET /oauth/authorize and what the app remembered to send it."""

    app: RegisteredApp
    response: httpx.Response
    redirect_uri: str
    state: str | None
    nonce: str | None
    pkce: Pkce | None


@dataclasses.dataclass(frozen=True)
class Form:
    """A hosted page with a form: its response and hidden fields."""

    response: httpx.Response
    txn: str
    csrf_token: str


@dataclasses.dataclass(frozen=True)
class Authorization:
    """A successful redirect back to the app with a code."""

    attempt: Attempt
    response: httpx.Response
    params: dict[str, str]

    @property
    def code(self) -> str:
        return self.params["code"]


@dataclasses.dataclass(frozen=True)
class Tokens:
    response: httpx.Response

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.response.json()
        return body

    @property
    def access_token(self) -> str:
        return str(self.body["access_token"])

    @property
    def id_token(self) -> str:
        return str(self.body["id_token"])

    @property
    def refresh_token(self) -> str:
        return str(self.body["refresh_token"])


class FlowHelper:
    """Runs authorization-code flows against the in-process app, like a browser plus an app."""

    def __init__(self, client: httpx.AsyncClient, services: Services) -> None:
        self.client = client
        self.services = services
        self.issuer = services.settings.issuer

    # -- registration (through services: there is no HTTP API for it yet) -------------------

    async def web(self, name: str = "Web", **fields: Any) -> RegisteredApp:
        fields.setdefault("redirect_uris", [WEB_REDIRECT])
        app, secret = await self.services.apps.create(name, "web", **fields)
        assert secret is not None
        return RegisteredApp(app, secret.value, fields["redirect_uris"][0])

    async def spa(self, name: str = "SPA", **fields: Any) -> RegisteredApp:
        fields.setdefault("redirect_uris", [SPA_REDIRECT])
        app, _ = await self.services.apps.create(name, "spa", **fields)
        return RegisteredApp(app, None, fields["redirect_uris"][0])

    async def native(self, name: str = "Desktop", **fields: Any) -> RegisteredApp:
        fields.setdefault("redirect_uris", [NATIVE_REGISTERED])
        app, _ = await self.services.apps.create(name, "native", **fields)
        return RegisteredApp(app, None, NATIVE_REDIRECT)

    async def update(self, registered: RegisteredApp, **fields: Any) -> RegisteredApp:
        app = await self.services.apps.update(registered.client_id, **fields)
        return dataclasses.replace(registered, app=app)

    async def user(self, email: str = EMAIL, password: str = PASSWORD, name: str = NAME) -> User:
        return await self.services.users.create(email, password=password, name=name)

    # -- the browser -------------------------------------------------------------------------

    def session_cookie(self) -> str | None:
        names = cookie_names(self.services.settings.production)
        return self.client.cookies.get(names.session)

    async def start(
        self,
        app: RegisteredApp,
        *,
        scope: str = DEFAULT_SCOPE,
        state: str | None = "",
        nonce: str | None = "",
        pkce: bool = True,
        redirect_uri: str | None = None,
        extra: Mapping[str, str | None] | None = None,
        repeated: Sequence[tuple[str, str]] = (),
    ) -> Attempt:
        """GET /oauth/authorize (not followed). ``state``/``nonce`` "" means a fresh random value,
        None leaves it out; ``extra`` adds or (with None) removes parameters."""
        state = secrets.token_urlsafe(12) if state == "" else state
        nonce = secrets.token_urlsafe(12) if nonce == "" else nonce
        challenge = Pkce.new() if pkce else None
        redirect_uri = redirect_uri or app.redirect_uri
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.challenge if challenge else None,
            "code_challenge_method": "S256" if challenge else None,
        }
        params.update(extra or {})
        pairs = [(k, v) for k, v in params.items() if v is not None] + list(repeated)
        response = await self.client.get("/oauth/authorize", params=pairs)
        return Attempt(app, response, redirect_uri, state, nonce, challenge)

    async def open_form(self, response_or_url: httpx.Response | str) -> Form:
        """Follow a 303 to a hosted page (or GET a URL) and read its hidden fields."""
        if isinstance(response_or_url, httpx.Response):
            assert 303 == response_or_url.status_code, response_or_url.text
            url = response_or_url.headers["location"]
        else:
            url = response_or_url
        page = await self.client.get(url)
        assert 200 == page.status_code, page.text
        return Form(page, _hidden(page.text, "txn"), _hidden(page.text, "csrf_token"))

    async def submit_login(
        self, form: Form, email: str = EMAIL, password: str = PASSWORD
    ) -> httpx.Response:
        data = {"txn": form.txn, "csrf_token": form.csrf_token}
        return await self.client.post(
            "/ui/login", data={**data, "email": email, "password": password}
        )

    def back_at_app(self, attempt: Attempt, response: httpx.Response) -> Authorization:
        """Assert ``response`` is the 303 back to the app with a code; parse it."""
        assert 303 == response.status_code, response.text
        location = response.headers["location"]
        assert attempt.redirect_uri == location.split("?", 1)[0], location
        params = query_of(location)
        assert "code" in params, location
        return Authorization(attempt, response, params)

    async def login(
        self, app: RegisteredApp, email: str = EMAIL, password: str = PASSWORD, **start: Any
    ) -> Authorization:
        """Authorize without a session: the login page, the password, the code."""
        attempt = await self.start(app, **start)
        form = await self.open_form(attempt.response)
        return self.back_at_app(attempt, await self.submit_login(form, email, password))

    async def sso(self, app: RegisteredApp, **start: Any) -> Authorization:
        """Authorize with a live session: the code comes straight back."""
        attempt = await self.start(app, **start)
        return self.back_at_app(attempt, attempt.response)

    # -- the app's back end -------------------------------------------------------------------

    def _client_auth(
        self, app: RegisteredApp, form: dict[str, str], auth: str | None, secret: str | None
    ) -> dict[str, Any]:
        """Form fields and httpx kwargs for ``auth`` = basic | post | none (default by type)."""
        auth = auth or ("none" if app.public else "basic")
        secret = secret if secret is not None else app.secret
        if auth == "basic":
            assert secret is not None
            return {"data": form, "auth": (app.client_id, secret)}
        form = {**form, "client_id": app.client_id}
        if auth == "post":
            assert secret is not None
            form["client_secret"] = secret
        return {"data": form}

    async def post_token(
        self,
        app: RegisteredApp,
        form: dict[str, str],
        *,
        auth: str | None = None,
        secret: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        kwargs = self._client_auth(app, form, auth, secret)
        return await self.client.post("/oauth/token", headers=headers, **kwargs)

    async def exchange(
        self,
        authorization: Authorization,
        *,
        auth: str | None = None,
        secret: str | None = None,
        code: str | None = None,
        redirect_uri: str | None = None,
        verifier: str | None = "",
    ) -> httpx.Response:
        """POST the code to /oauth/token; ``verifier`` "" = the right one, None = left out."""
        attempt = authorization.attempt
        if verifier == "":
            verifier = attempt.pkce.verifier if attempt.pkce else None
        form = {
            "grant_type": "authorization_code",
            "code": code or authorization.code,
            "redirect_uri": redirect_uri or attempt.redirect_uri,
        }
        if verifier is not None:
            form["code_verifier"] = verifier
        return await self.post_token(attempt.app, form, auth=auth, secret=secret)

    async def tokens(self, authorization: Authorization, **kwargs: Any) -> Tokens:
        response = await self.exchange(authorization, **kwargs)
        assert 200 == response.status_code, response.text
        return Tokens(response)

    async def refresh(
        self, app: RegisteredApp, refresh_token: str, **kwargs: Any
    ) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return await self.post_token(app, form, **kwargs)

    async def userinfo(self, access_token: str) -> httpx.Response:
        return await self.client.get(
            "/userinfo", headers={"authorization": f"Bearer {access_token}"}
        )

    async def revoke(self, app: RegisteredApp, token: str, **fields: str) -> httpx.Response:
        kwargs = self._client_auth(app, {"token": token, **fields}, None, None)
        return await self.client.post("/oauth/revoke", **kwargs)

    async def introspect(
        self, app: RegisteredApp, token: str, *, auth: str | None = None
    ) -> httpx.Response:
        kwargs = self._client_auth(app, {"token": token}, auth, None)
        return await self.client.post("/oauth/introspect", **kwargs)

    async def signed_in(self, app: RegisteredApp, **start: Any) -> Tokens:
        """A user, a login through ``app`` and its tokens."""
        await self.user()
        return await self.tokens(await self.login(app, **start))

    # -- the relying party's checks --------------------------------------------------------------

    async def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of a JWT whose signature verifies against the published /keys."""
        jwks = (await self.client.get("/keys")).json()
        decoded = verify_jwt(token, jwks, ["RS256"])
        return dict(decoded.header), dict(decoded.claims)
