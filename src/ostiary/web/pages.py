"""Rendering hosted pages (Jinja2), CSRF tokens, and error pages.

A form's CSRF token is an HMAC, under a key derived from ``OSTIARY_SECRET_KEY``, of what the
browser holds: its session cookie when it has one, else a random pre-session value in the
``browser`` cookie. A token is therefore good only in the browser (and the session) it was
minted for, and nobody without the secret key can make one: a sibling subdomain that plants a
cookie of its choosing and a matching form field (the attack on plain double-submit) is
refused. The ``__Host-`` cookie names of production keep it from planting the cookies at all.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ostiary.protocol.compare import secrets_equal
from ostiary.protocol.errors import OAuthError
from ostiary.web.context import services_of
from ostiary.web.cookies import names_of, set_cookie
from ostiary.web.security import content_security_policy

__all__ = [
    "csrf_ok",
    "csrf_token",
    "error_page",
    "http_error",
    "render",
]

TEMPLATES = Path(__file__).parent / "templates"
# The session cookie and the pre-session value are both ``secrets.token_urlsafe(32)``.
COOKIE_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
CSRF_PURPOSE = "csrf"
MAX_FORM_TOKEN = 200
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)


def _cookie_token(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value is not None and COOKIE_TOKEN.fullmatch(value) else None


def _browser_value(request: Request) -> str:
    """The browser's random pre-session value; a new one is minted when the browser has none
    (or a malformed one), and ``render`` sets its cookie."""
    value = _cookie_token(request, names_of(request).browser)
    if value is None:
        value = request.state.__dict__.setdefault("new_browser_value", secrets.token_urlsafe(32))
    return value


def _token_for(request: Request, binding: str) -> str:
    # A purpose of its own: the token is never the session's stored digest.
    return services_of(request).digester.digest(CSRF_PURPOSE, binding)


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser's forms: bound to its session cookie when it has one,
    else to its pre-session value."""
    session = _cookie_token(request, names_of(request).session)
    browser = _browser_value(request)  # minted even with a session: magic links need it
    return _token_for(request, f"session:{session}" if session else f"browser:{browser}")


def csrf_ok(request: Request, form_token: object) -> bool:
    """Whether a form's token is the one ``csrf_token`` gives this browser now."""
    if not isinstance(form_token, str) or not form_token or len(form_token) > MAX_FORM_TOKEN:
        return False
    names = names_of(request)
    session = _cookie_token(request, names.session)
    browser = _cookie_token(request, names.browser)
    if session is not None:
        binding = f"session:{session}"
    elif browser is not None:
        binding = f"browser:{browser}"
    else:
        return False
    return secrets_equal(form_token, _token_for(request, binding))


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
    body = _env.get_template(template).render(environment_name="Ostiary", lang="en", **context)
    response = HTMLResponse(body, status_code=status_code, headers={"cache-control": "no-store"})
    scheme = custom_scheme(redirects_to)
    if scheme is not None:
        response.headers["content-security-policy"] = content_security_policy((scheme,))
    new_browser_value = request.state.__dict__.get("new_browser_value")
    if new_browser_value:
        set_cookie(request, response, names_of(request).browser, new_browser_value)
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
