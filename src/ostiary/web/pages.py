"""Rendering hosted pages (Jinja2), CSRF tokens, and error pages."""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ostiary.protocol.errors import OAuthError
from ostiary.web.context import services_of
from ostiary.web.security import content_security_policy

__all__ = [
    "CSRF_COOKIE",
    "csrf_ok",
    "csrf_token",
    "error_page",
    "http_error",
    "render",
    "set_cookie",
]

TEMPLATES = Path(__file__).parent / "templates"
CSRF_COOKIE = "ostiary_csrf"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (double-submit: an HttpOnly cookie and a hidden form field).
    A new one is minted when the browser has none; ``render`` sets the cookie."""
    token = request.cookies.get(CSRF_COOKIE)
    if not token or len(token) != 43:
        token = request.state.__dict__.setdefault("new_csrf", secrets.token_urlsafe(32))
    return token


def csrf_ok(request: Request, form_token: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(form_token, str):
        return False
    return hmac.compare_digest(cookie.encode(), form_token.encode())


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=services_of(request).settings.production,
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    redirects_to: str | None = None,
) -> HTMLResponse:
    """Render a hosted page. ``redirects_to``: where the page's form may finally send the
    browser (an app's redirect URI), so that a custom scheme is allowed by the CSP."""
    settings = services_of(request).settings
    body = _env.get_template(template).render(environment_name="Ostiary", lang="en", **context)
    response = HTMLResponse(body, status_code=status_code, headers={"cache-control": "no-store"})
    scheme = custom_scheme(redirects_to)
    if scheme is not None:
        response.headers["content-security-policy"] = content_security_policy((scheme,))
    new_csrf = request.state.__dict__.get("new_csrf")
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE, new_csrf, path="/", httponly=True, samesite="lax",
            secure=settings.production,
        )  # fmt: skip
    return response


def custom_scheme(uri: str | None) -> str | None:
    """The scheme of a native app's custom-scheme URI (``com.example.app``), else None."""
    if not uri or ":" not in uri:
        return None
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https") or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        return None
    return scheme


def error_page(
    request: Request,
    title: str,
    message: str,
    *,
    status_code: int = 400,
    detail: str | None = None,
    action_url: str | None = None,
    action_label: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": title,
            "message": message,
            "detail": detail,
            "status_code": status_code,
            "action_url": action_url,
            "action_label": action_label,
        },
        status_code=status_code,
    )


def oauth_error_page(request: Request, err: OAuthError) -> HTMLResponse:
    """An authorization error that must not be redirected (unknown client, bad redirect URI)."""
    return error_page(
        request,
        "This sign-in link is not valid",
        f"{err.description} Go back to the app and try again; if it keeps happening, tell "
        "the app's developers.",
        detail=f"error={err.error}",
        status_code=400,
    )


HTTP_ERRORS = {
    404: (
        "Page not found",
        "There is nothing at this address. Check the link, or go back to the app you came from.",
    ),
    405: (
        "This page can't be opened this way",
        "This address exists, but not for this kind of request. If you followed a link or "
        "submitted a form, go back and try again from the app.",
    ),
}


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (no route, or a route without the method): a styled page for a
    browser (it accepts text/html), the usual plain text for programs. The management API has
    its own JSON answer (``web.api.errors``)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})  # a 405 keeps its Allow header
    page = HTTP_ERRORS.get(exc.status_code)
    if page is None or "text/html" not in request.headers.get("accept", ""):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=headers)
    title, message = page
    response = error_page(request, title, message, status_code=exc.status_code)
    response.headers.update(headers)
    return response
