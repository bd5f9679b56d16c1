"""``GET|POST /userinfo`` with a bearer access token (RFC 6750)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ostiary.protocol.errors import InvalidRequest, InvalidToken, OAuthError
from ostiary.web.context import services_of

__all__ = ["bearer_token", "userinfo"]


async def bearer_token(request: Request) -> str:
    """From the Authorization header, or (POST) the ``access_token`` form field — not both."""
    header = request.headers.get("authorization", "")
    from_header = header[7:].strip() if header[:7].lower() == "bearer " else None
    from_body = None
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            value = (await request.form()).get("access_token")
            from_body = value if isinstance(value, str) else None
    if from_header and from_body:
        raise InvalidRequest("Send the access token in one place only.")
    token = from_header or from_body
    if not token:
        raise MissingToken("An access token is required (Authorization: Bearer <token>).")
    return token


class MissingToken(InvalidToken):
    """No credentials at all: RFC 6750 §3.1 answers with a bare challenge, no error code."""


def _challenge(err: OAuthError) -> str:
    if isinstance(err, MissingToken):
        return 'Bearer realm="ostiary"'
    # RFC 6750 §3: error_description is printable ASCII without '"' and '\\'.
    description = "".join(c for c in err.description if " " <= c <= "~" and c not in '"\\')
    return f'Bearer realm="ostiary", error="{err.error}", error_description="{description}"'


async def userinfo(request: Request) -> Response:
    try:
        token = await bearer_token(request)
        claims = await services_of(request).introspection.userinfo(token)
    except OAuthError as err:
        status = err.status_code if err.status_code in (401, 403) else 400
        return JSONResponse(
            err.as_dict(),
            status_code=status,
            headers={"www-authenticate": _challenge(err), "cache-control": "no-store"},
        )
    return JSONResponse(claims, headers={"cache-control": "no-store"})
