"""A management API caller: registers a web app with management access through the services,
gets its token from ``POST /oauth/token`` (client_credentials, client_secret_basic) and calls
``/api/v1`` over HTTP. Also signs a user in through the authorization code flow, for the tests
that need a session or a user's token.

Imported by the tests of this folder (``from api_helpers import …``); fixtures live in
``conftest.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from ostiary.domain.apps import App
from ostiary.services.container import Services
from ostiary.web.app import create_web_app

__all__ = [
    "PASSWORD",
    "WEB_BACKCHANNEL",
    "WEB_REDIRECT",
    "AdvancingClock",
    "Api",
    "ManagementApp",
    "SignedIn",
]

PASSWORD = "correct horse battery staple"
WEB_REDIRECT = "https://web.example.com/callback"
WEB_BACKCHANNEL = "https://web.example.com/backchannel-logout"


class AdvancingClock(Protocol):
    """The ``clock`` fixture (tests/conftest.py's FakeClock)."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> None: ...


@dataclasses.dataclass(frozen=True)
class ManagementApp:
    app: App
    secret: str


@dataclasses.dataclass(frozen=True)
class SignedIn:
    """A user's login through a web app: the session id and the user's access token."""

    session_id: str
    access_token: str
    app: ManagementApp


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden input {name!r} in the page"
    return found.group(1)


class Api:
    """``/api/v1`` over the in-process HTTP client, with a full-access token by default."""

    def __init__(self, client: httpx.AsyncClient, services: Services) -> None:
        self.client = client
        self.services = services
        self._token: str | None = None

    # -- tokens ----------------------------------------------------------------------------

    async def register(
        self, name: str = "Back office", *, management: bool = True, **fields: Any
    ) -> ManagementApp:
        app, secret = await self.services.apps.create(
            name, "web", management_api_access=management, **fields
        )
        assert secret is not None
        return ManagementApp(app, secret.value)

    async def token_response(self, app: ManagementApp, scope: str | None = None) -> httpx.Response:
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        return await self.client.post(
            "/oauth/token", data=form, auth=(app.app.client_id, app.secret)
        )

    async def token_for(self, app: ManagementApp, scope: str | None = None) -> str:
        response = await self.token_response(app, scope)
        assert 200 == response.status_code, response.text
        return str(response.json()["access_token"])

    async def new_token(self, scope: str | None = None, *, management: bool = True) -> str:
        """A token of a freshly registered web app (with or without management access)."""
        return await self.token_for(await self.register(management=management), scope)

    async def token(self) -> str:
        if self._token is None:
            self._token = await self.new_token()
        return self._token

    # -- requests --------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, token: str | None = "", **kwargs: Any
    ) -> httpx.Response:
        """``token`` "" = the default full-access token, None = no Authorization header."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if token == "":
            token = await self.token()
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return await self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def created(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` and return the 201 answer."""
        response = await self.post(path, json=body)
        assert 201 == response.status_code, response.text
        created: dict[str, Any] = response.json()
        return created

    async def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.request(method, path, **kwargs)
        assert 200 == response.status_code, response.text
        body: dict[str, Any] = response.json()
        return body

    async def all_pages(
        self, path: str, key: str, *, page_size: int = 2, **params: str
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Follow next_page_token to the end: ``(items, pages, total_size)``; every page must
        carry the same total_size and at most ``page_size`` items."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        pages, totals = 0, set()
        while True:
            query = {"page_size": str(page_size), **params}
            if token is not None:
                query["page_token"] = token
            body = await self.ok("GET", path, params=query)
            pages += 1
            assert len(body[key]) <= page_size
            items.extend(body[key])
            totals.add(body["total_size"])
            token = body["next_page_token"]
            if token is None:
                break
            assert pages < 1000, "pagination does not end"
        assert 1 == len(totals), totals
        return items, pages, totals.pop()

    # -- a user's login (authorization code flow) -------------------------------------------

    async def sign_in(self, email: str, *, app: ManagementApp | None = None) -> SignedIn:
        """Register (or reuse) a web app with a back-channel URI, sign ``email`` in with a fresh
        browser, exchange the code; returns the session id and the user's access token."""
        app = app or await self.register(
            "Web shop",
            management=True,
            redirect_uris=[WEB_REDIRECT],
            backchannel_logout_uri=WEB_BACKCHANNEL,
        )
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        transport = httpx.ASGITransport(app=create_web_app(self.services))
        async with httpx.AsyncClient(
            transport=transport, base_url=self.services.settings.issuer
        ) as browser:  # a browser of its own: a new cookie jar, so a new session
            start = await browser.get(
                "/oauth/authorize",
                params={
                    "response_type": "code",
                    "client_id": app.app.client_id,
                    "redirect_uri": WEB_REDIRECT,
                    "scope": "openid email",
                    "state": "s",
                    "nonce": "n",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            assert 303 == start.status_code, start.text
            page = await browser.get(start.headers["location"])
            login = await browser.post(
                "/ui/login",
                data={
                    "txn": _hidden(page.text, "txn"),
                    "csrf_token": _hidden(page.text, "csrf_token"),
                    "email": email,
                    "password": PASSWORD,
                },
            )
            assert 303 == login.status_code, login.text
            code = parse_qs(urlsplit(login.headers["location"]).query)["code"][0]
        answer = await self.client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": WEB_REDIRECT,
                "code_verifier": verifier,
            },
            auth=(app.app.client_id, app.secret),
        )
        assert 200 == answer.status_code, answer.text
        access_token = str(answer.json()["access_token"])
        claims = await self.services.bearer.verify(access_token)
        return SignedIn(session_id=str(claims["sid"]), access_token=access_token, app=app)
