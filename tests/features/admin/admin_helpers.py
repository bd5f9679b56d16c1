"""A browser for the in-process dashboard tests: signs in to ``/admin`` through the hosted login
page (the Ostiary Console's own authorization code flow), then reads and submits dashboard
forms with their CSRF token.

Imported by the tests of this folder (``from admin_helpers import …``); fixtures live in
``conftest.py``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from ostiary.domain.apps import App
from ostiary.domain.users import ADMIN_ROLE, User
from ostiary.services.container import Services

__all__ = [
    "ADMIN_EMAIL",
    "PASSWORD",
    "AdminBrowser",
    "field_error",
    "hidden",
    "query_of",
]

ADMIN_EMAIL = "root@example.com"
PASSWORD = "correct horse battery staple"


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no input {name!r} with a value in the page"
    return unescape(found.group(1))


def field_error(html: str, field: str) -> str | None:
    """The text of the error shown next to ``field`` (``<p id="FIELD-error">``), if any."""
    found = re.search(rf'id="{field}-error">.*?<span>(.*?)</span>', html, re.S)
    return unescape(found.group(1)) if found else None


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class AdminBrowser:
    """One browser (cookie jar) on the in-process app, plus the services to set things up."""

    def __init__(self, client: httpx.AsyncClient, services: Services) -> None:
        self.client = client
        self.services = services

    # -- setting up --------------------------------------------------------------------------

    async def user(self, email: str, *, admin: bool = False, name: str | None = None) -> User:
        user = await self.services.users.create(email, password=PASSWORD, name=name)
        if admin:
            user = await self.services.users.grant_role(user.id, ADMIN_ROLE)
        return user

    async def console(self) -> App:
        return await self.services.apps.console()

    # -- signing in ----------------------------------------------------------------------------

    async def sign_in(self, email: str = ADMIN_EMAIL, path: str = "/admin") -> httpx.Response:
        """Open ``path`` signed out, sign in on the hosted login page, follow back to the
        dashboard; returns the final response."""
        login = await self.client.get(path, follow_redirects=True)
        assert "/ui/login" == login.url.path, (login.url, login.text[:500])
        response = await self.client.post(
            "/ui/login",
            data={
                "txn": hidden(login.text, "txn"),
                "csrf_token": hidden(login.text, "csrf_token"),
                "email": email,
                "password": PASSWORD,
            },
            follow_redirects=True,
        )
        return response

    # -- pages and forms -----------------------------------------------------------------------

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def csrf(self) -> str:
        """This browser's CSRF token (from any dashboard page)."""
        page = await self.client.get("/admin/apps/new")
        assert 200 == page.status_code, page.text[:300]
        return hidden(page.text, "csrf_token")

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """POST a dashboard form (not following the redirect)."""
        form: dict[str, Any] = dict(data or {})
        if csrf:
            form["csrf_token"] = await self.csrf()
        return await self.client.post(path, data=form)

    async def follow(self, response: httpx.Response) -> httpx.Response:
        assert 303 == response.status_code, (response.status_code, response.text[:800])
        return await self.client.get(response.headers["location"])

    # -- an app's own flow (to obtain a refresh token) -----------------------------------------

    async def refresh_token_for(self, app: App, secret: str, redirect_uri: str) -> str:
        """Sign in to ``app`` with this browser's live session and exchange the code for
        tokens including a refresh token."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        response = await self.client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": app.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid offline_access",
                "state": "s",
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
            },
        )
        assert 303 == response.status_code, response.text[:500]
        code = query_of(response.headers["location"])["code"]
        tokens = await self.client.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(app.client_id, secret),
        )
        assert 200 == tokens.status_code, tokens.text
        return str(tokens.json()["refresh_token"])

    async def refresh(self, app: App, secret: str, refresh_token: str) -> httpx.Response:
        return await self.client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(app.client_id, secret),
        )
