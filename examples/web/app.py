"""A server-rendered web app that signs its users in with Ostiary.

``OstiaryAuth`` mounts ``/auth/login``, ``/auth/callback``, ``/auth/logout`` and
``/auth/backchannel-logout`` and keeps the tokens on the server; the browser holds only a
random cookie. Register the app in Ostiary as a ``web`` app::

    ostiary apps create --name "Demo Web" --type web \\
        --redirect-uri http://127.0.0.1:8001/auth/callback \\
        --post-logout-redirect-uri http://127.0.0.1:8001/ \\
        --initiate-login-uri http://127.0.0.1:8001/auth/login \\
        --backchannel-logout-uri http://127.0.0.1:8001/auth/backchannel-logout

and run it with the printed client id and secret::

    OSTIARY_ISSUER=http://127.0.0.1:8000 OSTIARY_CLIENT_ID=web_… OSTIARY_CLIENT_SECRET=sec_… \\
    APP_URL=http://127.0.0.1:8001 uvicorn examples.web.app:create_app --factory --port 8001

When the user signs out in another app, Ostiary POSTs a logout token to
``/auth/backchannel-logout`` and the local session ends: the next page shows "signed out".
"""

from __future__ import annotations

import contextlib
import html
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ostiary_client import AsyncOstiaryClient, OstiaryError, User
from ostiary_client.starlette import OstiaryAuth
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["WebSettings", "create_app"]

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class WebSettings:
    issuer: str
    client_id: str
    client_secret: str
    app_url: str  # where this app is served, e.g. http://127.0.0.1:8001

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> WebSettings:
        return cls(
            issuer=env["OSTIARY_ISSUER"],
            client_id=env["OSTIARY_CLIENT_ID"],
            client_secret=env["OSTIARY_CLIENT_SECRET"],
            app_url=env.get("APP_URL", "http://127.0.0.1:8001").rstrip("/"),
        )


def create_app(settings: WebSettings | None = None) -> Starlette:
    settings = settings or WebSettings.from_env()
    client = AsyncOstiaryClient(settings.issuer, settings.client_id, settings.client_secret)
    auth = OstiaryAuth(
        client,
        redirect_uri=f"{settings.app_url}/auth/callback",
        post_logout_redirect_uri=f"{settings.app_url}/",
    )

    async def home(request: Request) -> HTMLResponse:
        user = await auth.user(request)  # None when signed out (here or in another app)
        if user is None:
            return page("Home", "/", SIGNED_OUT)
        return page("Home", "/", signed_in(user))

    @auth.login_required  # signed-out visitors go to Ostiary's login page first
    async def profile(request: Request) -> HTMLResponse:
        user: User = request.state.user
        try:
            access = (await client.validate_access_token(user.access_token)).claims
        except OstiaryError as err:
            access = {"error": str(err)}
        body = f"""
        <section class="card">
          <span class="status in">Signed in</span>
          <h1>Your profile</h1>
          <p class="lead">A protected page: only a signed-in user gets here. These are the
          claims of the tokens Ostiary gave this app.</p>
          <h2>ID token</h2>{claims_table(user.claims)}
        </section>
        <section class="card">
          <h2>Access token</h2>{claims_table(access)}
        </section>"""
        return page("Profile", "/profile", body)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(
        routes=[
            Route("/", home),
            Route("/profile", profile),
            *auth.routes,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )


# -- pages ---------------------------------------------------------------------------------------

SIGNED_OUT = """
<section class="card">
  <span class="status out" id="status">Signed out</span>
  <h1>Welcome to Demo Web</h1>
  <p class="lead">Sign in with Ostiary. If you are already signed in to another app of the
  demo, you come straight back, without typing your password again.</p>
  <div class="actions"><a class="button" id="sign-in" href="/auth/login">Sign in</a></div>
</section>"""


def signed_in(user: User) -> str:
    esc = html.escape
    organization = user.organization_id or "none"
    return f"""
<section class="card">
  <span class="status in" id="status">Signed in</span>
  <h1>Hello, {esc(user.name or user.email or user.sub)}</h1>
  <p class="lead">This server-rendered app keeps your tokens on its server.</p>
  <dl class="facts">
    <dt>Email</dt><dd id="email">{esc(user.email or "")}</dd>
    <dt>User</dt><dd class="mono">{esc(user.sub)}</dd>
    <dt>Ostiary session</dt><dd class="mono" id="sid">{esc(user.sid or "")}</dd>
    <dt>Organization</dt><dd class="mono">{esc(organization)}</dd>
  </dl>
  <div class="actions">
    <a class="button secondary" id="profile" href="/profile">Your profile</a>
    <form method="post" action="/auth/logout">
      <button type="submit" id="sign-out">Sign out</button>
    </form>
  </div>
  <p class="note">Signing out here signs you out of every app that shares this session.</p>
</section>"""


# Claims that are times, in seconds since 1970 (JWT NumericDate, OIDC Core §2 and §5.1).
TIME_CLAIMS = frozenset({"iat", "exp", "nbf", "auth_time", "updated_at"})


def claims_table(claims: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{claim_cell(name, value)}</td></tr>"
        for name, value in sorted(claims.items())
    )
    return f'<table class="claims">{rows}</table>'


def claim_cell(name: str, value: Any) -> str:
    """A claim's value as HTML: times as a readable UTC date with the raw number after it."""
    if name in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
        return (
            f'<time datetime="{moment.isoformat()}">{moment:%d %b %Y, %H:%M:%S} UTC</time> '
            f'<span class="raw">({html.escape(str(value))})</span>'
        )
    return html.escape(format_claim(value))


def format_claim(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "[]"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "{}"
    return str(value)


def page(title: str, current: str, body: str) -> HTMLResponse:
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if href == current else ""}>{label}</a>'
        for href, label in (("/", "Home"), ("/profile", "Profile"))
    )
    return HTMLResponse(
        f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)} · Demo Web</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/style.css">
</head>
<body>
  <header class="bar">
    <span class="logo">W</span><span class="name">Demo Web</span>
    <span class="kind">web app · Starlette</span>
    <nav>{nav}</nav>
  </header>
  <main>{body}</main>
  <footer>Part of the Ostiary demo: one sign-in for a web app, a SPA, a desktop app and an
  API.</footer>
</body>
</html>""",
        headers={"cache-control": "no-store"},
    )
