"""RFC 6750 for resource servers, framework-neutral: read the bearer token from the request,
and turn a failed validation into the status and ``WWW-Authenticate`` challenge to answer."""

from __future__ import annotations

from collections.abc import Sequence

from ostiary_client.errors import (
    InsufficientPermissions,
    InsufficientScope,
    InvalidToken,
    OstiaryError,
    ProviderError,
)

__all__ = ["BearerError", "bearer_error_for", "extract_bearer"]


class BearerError(Exception):
    """What to answer: ``status``, the ``WWW-Authenticate`` value and a JSON body."""

    def __init__(self, status: int, error: str | None, description: str, challenge: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.challenge = challenge

    def body(self) -> dict[str, str]:
        if self.error is None:
            return {"error": "unauthorized", "error_description": self.description}
        return {"error": self.error, "error_description": self.description}


def _quote(value: str) -> str:
    return value.replace("\\", "").replace('"', "'")


def _challenge(
    realm: str, error: str | None, description: str | None, scope: Sequence[str] = ()
) -> str:
    parts = [f'realm="{_quote(realm)}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quote(description)}"')
    if scope:
        parts.append(f'scope="{_quote(" ".join(scope))}"')
    return "Bearer " + ", ".join(parts)


def extract_bearer(authorization: str | None, *, realm: str) -> str:
    """The token of ``Authorization: Bearer <token>``. No credentials: 401 without an error
    code (RFC 6750 §3.1); another scheme or a malformed header: 400 ``invalid_request``."""
    if not authorization:
        raise BearerError(401, None, "An access token is required.", _challenge(realm, None, None))
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise BearerError(
            401, None, "Use Authorization: Bearer <access token>.", _challenge(realm, None, None)
        )
    if not token or " " in token:
        description = "The Authorization header is not 'Bearer <token>'."
        raise BearerError(
            400, "invalid_request", description, _challenge(realm, "invalid_request", description)
        )
    return token


def bearer_error_for(error: OstiaryError, *, realm: str, scopes: Sequence[str]) -> BearerError:
    """401 ``invalid_token`` for a token that failed validation, 403 ``insufficient_scope`` for
    one that lacks a scope or permission, 503 when the keys could not be fetched."""
    if isinstance(error, InsufficientScope):
        description = str(error)
        needed = [] if isinstance(error, InsufficientPermissions) else list(scopes)
        return BearerError(
            403,
            "insufficient_scope",
            description,
            _challenge(realm, "insufficient_scope", description, needed),
        )
    if isinstance(error, InvalidToken):
        description = str(error)
        return BearerError(
            401, "invalid_token", description, _challenge(realm, "invalid_token", description)
        )
    if isinstance(error, ProviderError):
        return BearerError(
            503, "temporarily_unavailable", "The token keys could not be fetched.", ""
        )
    raise error
