"""Who may call the management API: a web app's client_credentials token with the right scope.

Authorization: Bearer <at+jwt>
  ──missing, malformed, bad signature, expired, not ours──────────────▶ 401 unauthenticated
  ──a user's token (sid, or sub ≠ client_id)───────────────────────────▶ 403 permission_denied
  ──its app is gone────────────────────────────────────────────────────▶ 401 unauthenticated
  ──its app is not a web app with management_api_access────────────────▶ 403 permission_denied
  ──aud lacks {issuer}/api/v1──────────────────────────────────────────▶ 401 unauthenticated
  ──scope lacks management:read (GET) / management:write (changes)────▶ 403 permission_denied
  ▼ the caller

No ``from __future__ import annotations`` here: FastAPI reads the annotations of the dependency
built in :func:`requires` at run time, and they name that function's ``scope``.
"""

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from ostiary.domain.apps import App, AppType
from ostiary.protocol.errors import InvalidToken
from ostiary.protocol.scopes import MANAGEMENT_SCOPES
from ostiary.services.container import Services
from ostiary.web.api.errors import ApiError, invalid_argument

__all__ = ["READ", "SERVICES_KEY", "WRITE", "Caller", "ServicesDep", "get_services", "requires"]

READ, WRITE = MANAGEMENT_SCOPES
REALM = "ostiary-management-api"

scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/oauth/token",
            scopes={READ: "Read every resource.", WRITE: "Create, change and delete resources."},
        )
    ),
    scheme_name="managementToken",
    description="An access token from `POST /oauth/token` with `grant_type=client_credentials`, "
    "for a web app with management API access, sent as `Authorization: Bearer …`.",
    auto_error=False,
)


SERVICES_KEY = "ostiary.services"  # set in the ASGI scope by ManagementApi


def get_services(request: Request) -> Services:
    services: Services = request.scope[SERVICES_KEY]
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """The app whose token made the request, and the scopes it holds."""

    app: App
    scopes: frozenset[str]


def _unauthenticated(message: str, *, error: str | None = "invalid_token") -> ApiError:
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        description = message.replace('"', "'")
        challenge += f', error="{error}", error_description="{description}"'
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": challenge})


def _forbidden(message: str, *, scope: str | None = None) -> ApiError:
    challenge = f'Bearer realm="{REALM}", error="insufficient_scope"'
    if scope is not None:
        challenge += f', scope="{scope}"'
    return ApiError(403, "permission_denied", message, headers={"WWW-Authenticate": challenge})


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise _unauthenticated(
            "A bearer token is required (Authorization: Bearer …) from client_credentials.",
            error=None,
        )
    kind, _, token = authorization.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise _unauthenticated("The Authorization header must be `Bearer <access token>`.")
    return token.strip()


async def authenticate(services: Services, authorization: str | None, scope: str) -> Caller:
    """The caller behind an Authorization header, if it may use ``scope``; ApiError otherwise."""
    try:
        claims = await services.bearer.verify(_bearer(authorization), check_grant=False)
    except InvalidToken as err:
        raise _unauthenticated(err.description) from None
    client_id = claims.get("client_id")
    if "sid" in claims or not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise _forbidden(
            "The management API accepts only application tokens (client_credentials); "
            "this token belongs to a user."
        )
    app = await services.apps.find_by_client_id(client_id)
    if app is None:
        raise _unauthenticated("The application that obtained this token no longer exists.")
    if app.type is not AppType.WEB or not app.management_api_access:
        raise _forbidden(f"The application {app.name!r} has no management API access.")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if f"{services.settings.issuer}/api/v1" not in audiences:
        raise _unauthenticated("This token was not issued for the management API (aud).")
    scopes = frozenset(str(claims.get("scope", "")).split())
    if scope not in scopes:
        raise _forbidden(f"This operation needs the scope {scope}.", scope=scope)
    return Caller(app=app, scopes=scopes)


def _reject_nul(request: Request) -> None:
    """A NUL character cannot be stored (PostgreSQL text refuses it): no identifier has one."""
    for name, value in [*request.path_params.items(), *request.query_params.items()]:
        if "\x00" in str(value):
            raise invalid_argument(name, "nul_character", f"{name} must not contain NUL.")


def requires(scope: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that authenticates the caller and requires ``scope``."""

    async def caller(
        request: Request,
        services: ServicesDep,
        authorization: Annotated[str | None, Security(scheme, scopes=[scope])],
    ) -> Caller:
        found = await authenticate(services, authorization, scope)
        _reject_nul(request)
        return found

    return caller
