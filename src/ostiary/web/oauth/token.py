"""``POST /oauth/token``, ``/oauth/revoke`` and ``/oauth/introspect`` (form in, JSON out)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ostiary.protocol.errors import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    TooManyAttempts,
)
from ostiary.services.tokens import ClientCredentials
from ostiary.web.context import services_of

__all__ = ["introspect", "oauth_json_error", "revoke", "token"]

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_FORM_BYTES = 64 * 1024


def oauth_json_error(err: OAuthError, *, basic_auth: bool = False) -> JSONResponse:
    headers = dict(NO_STORE)
    if isinstance(err, InvalidClient) and basic_auth:
        headers["www-authenticate"] = 'Basic realm="ostiary", charset="UTF-8"'
    if isinstance(err, TooManyAttempts):
        headers["retry-after"] = str(err.retry_after)
    return JSONResponse(err.as_dict(), status_code=err.status_code, headers=headers)


async def read_form(request: Request) -> dict[str, str]:
    """The form body; a parameter sent twice is an error (RFC 6749 §3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("Send the parameters as application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest("The request body is too large.")
    # The standard library's parser: a hot path, and urlencoded bodies need nothing more.
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The body is not valid application/x-www-form-urlencoded.") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise InvalidRequest(f"The parameter {key} was sent more than once.")
        values[key] = value
    return values


def client_credentials(request: Request, form: dict[str, str]) -> ClientCredentials:
    """client_secret_basic or client_secret_post (not both), or a bare client_id."""
    ip = request.client.host if request.client else None
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            raw_id, raw_secret = decoded.split(":", 1)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidClient(
                "The Authorization header is not valid Basic credentials."
            ) from None
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if "client_secret" in form:
            raise InvalidRequest("Send the client secret in one place only (header or body).")
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequest("client_id in the body differs from the Authorization header.")
        return ClientCredentials(client_id, secret, "basic", ip)
    if "client_secret" in form:
        return ClientCredentials(form.get("client_id"), form["client_secret"], "post", ip)
    return ClientCredentials(form.get("client_id"), None, "none", ip)


Handler = Callable[[dict[str, str], ClientCredentials], Awaitable[dict[str, Any] | None]]


async def _endpoint(request: Request, handler: Handler) -> Response:
    basic = request.headers.get("authorization", "")[:6].lower() == "basic "
    try:
        form = await read_form(request)
        body = await handler(form, client_credentials(request, form))
    except OAuthError as err:
        return oauth_json_error(err, basic_auth=basic)
    if body is None:
        return Response(status_code=200, headers=NO_STORE)
    return JSONResponse(body, headers=NO_STORE)


async def token(request: Request) -> Response:
    return await _endpoint(request, services_of(request).tokens.token)


async def revoke(request: Request) -> Response:
    return await _endpoint(request, services_of(request).introspection.revoke)


async def introspect(request: Request) -> Response:
    return await _endpoint(request, services_of(request).introspection.introspect)
