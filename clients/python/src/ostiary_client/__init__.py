"""Ostiary's app-side SDK: sign users in with OpenID Connect, validate Ostiary's tokens, and
plug into Starlette/FastAPI, Flask and desktop apps.

The core (this module) needs only ``httpx`` and ``joserfc``; ``ostiary_client.starlette``,
``ostiary_client.flask`` and ``ostiary_client.desktop`` need their extras.
"""

from ostiary_client._core import DEFAULT_SCOPE
from ostiary_client.client import AsyncOstiaryClient, ClientOptions, OstiaryClient
from ostiary_client.errors import (
    InsufficientPermissions,
    InsufficientScope,
    InvalidToken,
    IssuerMismatch,
    LoginRequired,
    LoginTimeout,
    NonceMismatch,
    OAuthError,
    OstiaryError,
    ProviderError,
    StateMismatch,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    WrongAudience,
    WrongIssuer,
)
from ostiary_client.models import (
    AccessToken,
    AuthorizationRequest,
    LogoutToken,
    ProviderMetadata,
    TokenSet,
    User,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SCOPE",
    "AccessToken",
    "AsyncOstiaryClient",
    "AuthorizationRequest",
    "ClientOptions",
    "InsufficientPermissions",
    "InsufficientScope",
    "InvalidToken",
    "IssuerMismatch",
    "LoginRequired",
    "LoginTimeout",
    "LogoutToken",
    "NonceMismatch",
    "OAuthError",
    "OstiaryClient",
    "OstiaryError",
    "ProviderError",
    "ProviderMetadata",
    "StateMismatch",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenReplayed",
    "TokenSet",
    "User",
    "WrongAudience",
    "WrongIssuer",
]
