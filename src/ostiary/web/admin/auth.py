"""Signing in to the dashboard through Ostiary itself: the Ostiary Console app is an ordinary
web app of this server, and the dashboard is its relying party.

    /admin/… ──no admin marker, or it names another session──▶ 303 /oauth/authorize
        │        (console app; state, nonce and PKCE S256 kept in a signed HttpOnly flow cookie)
        │            └─▶ hosted login (or the shared session at once) ──▶ /admin/callback:
        │                check state and iss, exchange the code in-process, read sub and sid
        │                from the ID token ──▶ marker cookie ──▶ back to the page asked for
        ▼ the marker names the live shared session, and the console took part in it
    user has the ``ostiary_admin`` role ──no──▶ 403 page with a sign-out button
        ▼
    the page

The dashboard keeps no session of its own: the marker cookie only says *which* shared session it
signed in with, so signing out anywhere (or an administrator revoking the session) signs the
dashboard out too.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.domain.apps import App
from ostiary.domain.ids import new_token
from ostiary.domain.sessions import Session
from ostiary.domain.users import ADMIN_ROLE, User
from ostiary.protocol.compare import secrets_equal
from ostiary.protocol.digests import Digester
from ostiary.protocol.errors import OAuthError
from ostiary.services.errors import NotFound
from ostiary.web.context import services_of
from ostiary.web.cookies import delete_cookie, names_of, session_cookie, set_cookie
from ostiary.web.pages import error_page, render

__all__ = [
    "COOKIE_PATH",
    "SignedIn",
    "callback",
    "delete_admin_cookie",
    "read_signed",
    "set_admin_cookie",
    "sign_in_gate",
    "sign_value",
]

COOKIE_PATH = "/admin"  # in development; production's ``__Host-`` cookies have Path=/
FLOW_TTL = 600  # seconds a sign-in may take from the redirect to the callback
SCOPE = "openid profile email"
HOME = "/admin"


@dataclasses.dataclass(frozen=True, slots=True)
class SignedIn:
    """An administrator signed in to the dashboard through the shared session."""

    user: User
    session: Session
    console: App


# -- signed cookie values --------------------------------------------------------------------------


def sign_value(digester: Digester, purpose: str, payload: dict[str, Any]) -> str:
    """``base64url(json).hmac``: tamper-evident (not secret) data for a cookie."""
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    text = body.decode("ascii").rstrip("=")
    return f"{text}.{digester.digest(f'admin:{purpose}', text)}"


def read_signed(digester: Digester, purpose: str, value: str | None) -> dict[str, Any] | None:
    """The payload of a value made by ``sign_value`` for the same purpose, or None."""
    if not value or len(value) > 3000 or "." not in value:
        return None
    text, _, mac = value.rpartition(".")
    if not digester.matches(f"admin:{purpose}", text, mac):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def set_admin_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int
) -> None:
    """An HttpOnly dashboard cookie (scoped to ``/admin`` in development; a Secure
    ``__Host-`` cookie in production)."""
    set_cookie(request, response, name, value, max_age=max_age, path=COOKIE_PATH)


def delete_admin_cookie(request: Request, response: Response, name: str) -> None:
    delete_cookie(request, response, name, path=COOKIE_PATH)


# -- the gate --------------------------------------------------------------------------------------


async def sign_in_gate(request: Request) -> SignedIn | Response:
    """The signed-in administrator, or the response that gets there (a redirect into the sign-in
    flow, or the 403 page for a signed-in user who is not an administrator)."""
    services = services_of(request)
    console = await services.apps.console()
    session = await services.sessions.from_cookie(session_cookie(request))
    marker = read_signed(services.digester, "marker", request.cookies.get(names_of(request).admin))
    if (
        session is None
        or marker is None
        or marker.get("sid") != session.id
        or marker.get("sub") != session.user_id
        or console.client_id not in session.authenticated_clients
    ):
        return _start_sign_in(request, console, _return_path(request))
    try:
        user = await services.users.get(session.user_id)
    except NotFound:
        return _start_sign_in(request, console, _return_path(request))
    if ADMIN_ROLE not in user.roles:
        return _forbidden(request, user, console)
    return SignedIn(user=user, session=session, console=console)


def _return_path(request: Request) -> str:
    """Where to come back after signing in: this page for a GET; the dashboard's home for a
    POST (its form data cannot be replayed)."""
    if request.method != "GET":
        return HOME
    path = request.url.path
    if request.url.query:
        path = f"{path}?{request.url.query}"
    return path if path.startswith(HOME) and len(path) <= 1000 else HOME


def _callback_uri(request: Request) -> str:
    return f"{services_of(request).settings.issuer}{HOME}/callback"


def _start_sign_in(request: Request, console: App, return_to: str) -> Response:
    services = services_of(request)
    state, nonce, verifier = new_token(nbytes=24), new_token(nbytes=24), new_token(nbytes=48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
    query = urlencode(
        {
            "client_id": console.client_id,
            "redirect_uri": _callback_uri(request),
            "response_type": "code",
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode("ascii").rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(
        f"/oauth/authorize?{query}", status_code=303, headers={"cache-control": "no-store"}
    )
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "return_to": return_to,
        "exp": int(time.time()) + FLOW_TTL,
    }
    flow_value = sign_value(services.digester, "flow", flow)
    set_admin_cookie(request, response, names_of(request).admin_flow, flow_value, FLOW_TTL)
    return response


def _forbidden(request: Request, user: User, console: App) -> Response:
    settings = services_of(request).settings
    return render(
        request,
        "admin/forbidden.html",
        {
            "user_email": user.email,
            "admin_role": ADMIN_ROLE,
            "console_client_id": console.client_id,
            "post_logout_uri": f"{settings.issuer}{HOME}",
        },
        status_code=403,
    )


# -- the callback ------------------------------------------------------------------------------


def _callback_failed(request: Request, message: str, detail: str) -> Response:
    issuer = services_of(request).settings.issuer
    response = error_page(
        request,
        "Sign-in to the dashboard did not finish",
        f"{message} Open the dashboard at {issuer}{HOME} to sign in again.",
        status_code=400,
        detail=detail,
        action_url=HOME,
        action_label="Sign in again",
    )
    delete_admin_cookie(request, response, names_of(request).admin_flow)
    return response


async def callback(request: Request) -> Response:
    """``GET /admin/callback``: the Ostiary Console's redirect URI."""
    services = services_of(request)
    names = names_of(request)
    flow = read_signed(services.digester, "flow", request.cookies.get(names.admin_flow))
    params = request.query_params
    if flow is None or int(flow.get("exp", 0)) < time.time():
        return _callback_failed(
            request,
            "The sign-in took too long, or was started in another browser.",
            "flow cookie missing or expired",
        )
    if not secrets_equal(params.get("state", ""), str(flow.get("state", ""))):
        return _callback_failed(
            request, "The answer did not belong to this sign-in.", "state mismatch"
        )
    if params.get("iss") not in (None, services.settings.issuer):  # RFC 9207
        return _callback_failed(request, "The answer came from another server.", "iss mismatch")
    if params.get("error"):
        return _callback_failed(
            request,
            str(params.get("error_description") or "The sign-in was refused."),
            f"error={params.get('error')}",
        )
    console = await services.apps.console()
    try:
        tokens = await services.tokens.exchange_code_internally(
            console, str(params.get("code", "")), _callback_uri(request), str(flow["verifier"])
        )
    except OAuthError as err:
        return _callback_failed(request, err.description, f"error={err.error}")
    # The ID token comes straight from our own token service (no network in between), so its
    # payload is read without verifying the signature again.
    claims = _jwt_payload(str(tokens.get("id_token", "")))
    nonce = claims.get("nonce")
    if (
        not isinstance(nonce, str)
        or not secrets_equal(nonce, str(flow.get("nonce", "")))
        or not claims.get("sub")
        or not claims.get("sid")
    ):
        return _callback_failed(request, "The ID token did not match this sign-in.", "nonce")
    return_to = str(flow.get("return_to") or HOME)
    if not return_to.startswith(HOME) or return_to.startswith("//"):
        return_to = HOME
    response = RedirectResponse(return_to, status_code=303, headers={"cache-control": "no-store"})
    marker = sign_value(services.digester, "marker", {"sub": claims["sub"], "sid": claims["sid"]})
    set_admin_cookie(
        request, response, names.admin, marker, services.settings.session_absolute_timeout
    )
    delete_admin_cookie(request, response, names.admin_flow)
    return response


def _jwt_payload(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return payload if isinstance(payload, dict) else {}
