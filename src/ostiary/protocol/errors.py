"""OAuth 2.0 / OpenID Connect errors: one class per error code (RFC 6749 §4.1.2.1, §5.2; OIDC
Core §3.1.2.6; RFC 7009; RFC 6750).

``description`` is public (it reaches the client); ``detail`` is private (logs only). ``web/``
decides how to render an error: a redirect to a verified ``redirect_uri``, JSON, or a page.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ConsentRequired",
    "InsufficientScope",
    "InteractionRequired",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRedirect",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "LoginRequired",
    "OAuthError",
    "RequestNotSupported",
    "ServerError",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnknownClient",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
]


class OAuthError(Exception):
    error: str = "server_error"
    status_code: int = 400

    def __init__(self, description: str, *, detail: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    """RFC 6749 §4.1.2.1: the server cannot handle the request now (its database is out of
    reach); the same request may succeed later."""

    error = "temporarily_unavailable"
    status_code = 503


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class InvalidToken(OAuthError):
    """RFC 6750: a bearer token that is missing, expired, revoked or not ours."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    """RFC 6750: the token is fine but lacks a needed scope."""

    error = "insufficient_scope"
    status_code = 403


class UnknownClient(OAuthError):
    """Authorize/logout: the client_id is missing or unknown. Never redirected: shown as a page."""

    error = "invalid_client"


class InvalidRedirect(OAuthError):
    """Authorize/logout: the redirect URI is missing or not registered. Never redirected."""

    error = "invalid_request"
