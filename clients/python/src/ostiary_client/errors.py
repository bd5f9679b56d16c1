"""One exception class per failure, all under :class:`OstiaryError`.

::

    OstiaryError
    ├── ProviderError              Ostiary could not be reached or answered nonsense
    ├── StateMismatch              the callback's ``state`` is not the one this login sent
    ├── IssuerMismatch             the callback's ``iss`` (RFC 9207) or discovery: another issuer
    ├── LoginTimeout               (desktop) nobody came back to the loopback redirect in time
    ├── InvalidToken               a JWT failed validation (signature, typ, claims…)
    │   ├── TokenExpired           ``exp`` is past (beyond the leeway)
    │   ├── TokenNotYetValid       ``nbf`` / ``iat`` lie in the future (beyond the leeway)
    │   ├── WrongIssuer            ``iss`` is not the configured issuer
    │   ├── WrongAudience          ``aud`` does not name this app (or a configured audience)
    │   ├── NonceMismatch          the ID token's ``nonce`` is not the login's
    │   └── TokenReplayed          a logout token's ``jti`` was seen before
    ├── InsufficientScope          a valid access token lacks a required scope
    │   └── InsufficientPermissions   … or a required permission
    └── OAuthError                 the server answered with ``error`` / ``error_description``
        └── LoginRequired          the user must sign in again (a refresh failed with
                                   ``invalid_grant``, or ``prompt=none`` found no session)
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "InsufficientPermissions",
    "InsufficientScope",
    "InvalidToken",
    "IssuerMismatch",
    "LoginRequired",
    "LoginTimeout",
    "NonceMismatch",
    "OAuthError",
    "OstiaryError",
    "ProviderError",
    "StateMismatch",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "WrongAudience",
    "WrongIssuer",
]


class OstiaryError(Exception):
    """Base class of every error this SDK raises."""


class ProviderError(OstiaryError):
    """Ostiary could not be reached, or answered with something that is not OAuth/OIDC."""


class StateMismatch(OstiaryError):
    """The callback's ``state`` is missing or differs from the one the login sent (CSRF)."""


class IssuerMismatch(OstiaryError):
    """The callback's ``iss`` (RFC 9207) or the discovery document names another issuer."""


class LoginTimeout(OstiaryError):
    """Desktop login: the browser did not come back to the loopback redirect in time."""


class InvalidToken(OstiaryError):
    """A token failed validation. Subclasses say which check failed."""


class TokenExpired(InvalidToken):
    """The token's ``exp`` has passed (beyond the configured leeway)."""


class TokenNotYetValid(InvalidToken):
    """The token's ``nbf`` or ``iat`` lies in the future (beyond the configured leeway)."""


class WrongIssuer(InvalidToken):
    """The token's ``iss`` is not the configured issuer."""


class WrongAudience(InvalidToken):
    """The token's ``aud`` names neither this app nor a configured audience."""


class NonceMismatch(InvalidToken):
    """The ID token's ``nonce`` is missing or not the one the login sent."""


class TokenReplayed(InvalidToken):
    """A logout token with this ``jti`` was already accepted."""


class InsufficientScope(OstiaryError):
    """A valid access token without a scope the resource needs (RFC 6750 ``insufficient_scope``)."""

    def __init__(self, message: str, *, missing: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.missing: tuple[str, ...] = tuple(missing)


class InsufficientPermissions(InsufficientScope):
    """A valid access token without a permission (``resource:action``) the resource needs."""


class OAuthError(OstiaryError):
    """Ostiary answered with an OAuth error; ``error`` and ``error_description`` are its words."""

    def __init__(
        self, error: str, error_description: str | None = None, *, status_code: int | None = None
    ) -> None:
        message = f"{error}: {error_description}" if error_description else error
        super().__init__(message)
        self.error = error
        self.error_description = error_description
        self.status_code = status_code


class LoginRequired(OAuthError):
    """The user has to sign in again: a refresh was refused (``invalid_grant``: the session ended,
    the user signed out elsewhere, or the refresh token was reused) or ``prompt=none`` found no
    session (``login_required``, ``interaction_required``, ``consent_required``)."""
