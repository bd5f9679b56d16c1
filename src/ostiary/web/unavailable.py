"""The answer to a request that met an unreachable database (``DatabaseUnavailable``): 503 with
``Retry-After``, shaped for whoever asked: the OAuth error JSON of RFC 6749 on the protocol's
JSON endpoints, the management API's error JSON under ``/api/``, a page everywhere else. Nothing
the request asked for is known to be done, and the answer says to try again; the request's
storage has already logged the event (``ostiary.storage.connection_loss``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from ostiary.protocol.errors import TemporarilyUnavailable
from ostiary.storage.db import DatabaseUnavailable
from ostiary.web.api.app import PREFIX as API_PREFIX
from ostiary.web.api.errors import unavailable_response
from ostiary.web.oauth.token import oauth_json_error
from ostiary.web.pages import error_page

__all__ = ["JSON_PATHS", "unavailable"]

# The protocol endpoints a program calls (the browser ones, authorize and logout, get a page).
JSON_PATHS = frozenset(
    {
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/userinfo",
        "/keys",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    }
)
MESSAGE = "The service cannot reach its database right now; try again in a moment."


def unavailable(scope: Scope, err: DatabaseUnavailable) -> Response:
    retry_after = str(err.retry_after_s)
    path: str = scope["path"]
    if path in JSON_PATHS:
        response: Response = oauth_json_error(TemporarilyUnavailable(MESSAGE))
    elif path.startswith(API_PREFIX):
        response = unavailable_response(err)
    else:
        response = error_page(
            Request(scope), "Please try again in a moment", MESSAGE, status_code=503
        )
    response.headers["retry-after"] = retry_after
    return response
