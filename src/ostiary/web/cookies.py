"""Every cookie Ostiary sets: its name, scope and flags, in one place.

In production (an https issuer) every name carries the ``__Host-`` prefix, so a browser accepts
the cookie only when it is Secure, has ``Path=/`` and no ``Domain``: a sibling subdomain
(``evil.example.com`` next to ``auth.example.com``) can then neither set nor overwrite one. In
development (http://127.0.0.1) the names are plain, as a browser refuses ``__Host-`` cookies
without https, and the dashboard's cookies keep their narrower paths.

Everything that reads or writes an Ostiary cookie (handlers, tests, harnesses) names it through
``cookie_names``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from ostiary.web.context import services_of

__all__ = [
    "HOST_PREFIX",
    "CookieNames",
    "cookie_names",
    "delete_cookie",
    "names_of",
    "session_cookie",
    "set_cookie",
]

HOST_PREFIX = "__Host-"


@dataclasses.dataclass(frozen=True, slots=True)
class CookieNames:
    """The names of Ostiary's cookies in one environment."""

    session: str  # the shared sign-in session (a random id; its digest is stored)
    browser: str  # the pre-session value: binds CSRF tokens and magic links to the browser
    admin: str  # the dashboard's marker: which shared session it signed in with (signed)
    admin_flow: str  # the dashboard's sign-in in progress: state, nonce, PKCE verifier (signed)
    admin_notice: str  # a one-time notice after a dashboard redirect (signed)
    admin_reveal: str  # a new client secret on its way to the page that shows it (encrypted)


@functools.cache
def cookie_names(production: bool) -> CookieNames:
    """The cookie names of production (``__Host-`` prefixed) or of development."""
    prefix = HOST_PREFIX if production else ""
    return CookieNames(
        session=f"{prefix}ostiary_session",
        browser=f"{prefix}ostiary_csrf",
        admin=f"{prefix}ostiary_admin",
        admin_flow=f"{prefix}ostiary_admin_flow",
        admin_notice=f"{prefix}ostiary_admin_notice",
        admin_reveal=f"{prefix}ostiary_admin_reveal",
    )


def names_of(request: Request) -> CookieNames:
    """The cookie names of the server handling ``request``."""
    return cookie_names(services_of(request).settings.production)


def session_cookie(request: Request) -> str | None:
    """The value of the browser's session cookie, if it sent one."""
    return request.cookies.get(names_of(request).session)


SameSite = Literal["lax", "strict"]


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    path: str = "/",
    samesite: SameSite = "lax",
) -> None:
    """An HttpOnly cookie, never with a Domain. In production it is Secure and its path is
    ``/`` whatever ``path`` says (a ``__Host-`` cookie must have ``Path=/``)."""
    production = services_of(request).settings.production
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/" if production else path,
        httponly=True,
        samesite=samesite,
        secure=production,
    )


def delete_cookie(
    request: Request,
    response: Response,
    name: str,
    *,
    path: str = "/",
    samesite: SameSite = "lax",
) -> None:
    """Delete a cookie set by ``set_cookie`` with the same ``path``."""
    production = services_of(request).settings.production
    response.delete_cookie(
        name,
        path="/" if production else path,
        httponly=True,
        samesite=samesite,
        secure=production,
    )
