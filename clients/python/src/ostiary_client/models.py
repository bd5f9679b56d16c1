"""Plain data the SDK hands out: provider metadata, a login in progress, tokens, users.

Every class that an app may need to keep between requests (``AuthorizationRequest``,
``TokenSet``) turns into a JSON-ready dict with ``to_dict`` and back with ``from_dict``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AccessToken",
    "AuthorizationRequest",
    "LogoutToken",
    "ProviderMetadata",
    "TokenSet",
    "User",
]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the discovery document the SDK uses; ``raw`` keeps all of it."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    revocation_endpoint: str | None
    introspection_endpoint: str | None
    end_session_endpoint: str | None
    iss_parameter_supported: bool
    raw: Mapping[str, Any]

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ProviderMetadata:
        """Raises ``KeyError``/``TypeError`` when a required member is missing or not text."""
        required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        for name in required:
            if not isinstance(document.get(name), str):
                raise KeyError(name)
        return cls(
            issuer=document["issuer"],
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            userinfo_endpoint=_str_or_none(document.get("userinfo_endpoint")),
            revocation_endpoint=_str_or_none(document.get("revocation_endpoint")),
            introspection_endpoint=_str_or_none(document.get("introspection_endpoint")),
            end_session_endpoint=_str_or_none(document.get("end_session_endpoint")),
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
            is True,
            raw=dict(document),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A login in progress: send the browser to ``url``; keep the rest (it holds the PKCE
    verifier, a secret) on the server or device until the callback comes back."""

    url: str
    redirect_uri: str
    state: str
    nonce: str
    code_verifier: str
    scope: tuple[str, ...]
    max_age: int | None = None
    created_at: float = dataclasses.field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scope"] = list(self.scope)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuthorizationRequest:
        return cls(
            url=str(data["url"]),
            redirect_uri=str(data["redirect_uri"]),
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            code_verifier=str(data["code_verifier"]),
            scope=tuple(str(s) for s in data.get("scope", ())),
            max_age=int(data["max_age"]) if data.get("max_age") is not None else None,
            created_at=float(data.get("created_at", 0.0)),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TokenSet:
    """What the token endpoint returned. ``id_claims`` are the validated ID token's claims."""

    access_token: str
    token_type: str = "Bearer"
    expires_at: float | None = None
    scope: tuple[str, ...] = ()
    refresh_token: str | None = None
    id_token: str | None = None
    id_claims: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def expires_in(self, now: float | None = None) -> float | None:
        """Seconds until the access token expires (negative once it has)."""
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        left = self.expires_in(now)
        return left is not None and left <= seconds

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["scope"] = list(self.scope)
        data["id_claims"] = dict(self.id_claims)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls(
            access_token=str(data["access_token"]),
            token_type=str(data.get("token_type", "Bearer")),
            expires_at=float(data["expires_at"]) if data.get("expires_at") is not None else None,
            scope=tuple(str(s) for s in data.get("scope", ())),
            refresh_token=_str_or_none(data.get("refresh_token")),
            id_token=_str_or_none(data.get("id_token")),
            id_claims=dict(data.get("id_claims") or {}),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class AccessToken:
    """A validated access token (RFC 9068) and its claims."""

    token: str
    claims: Mapping[str, Any]

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str | None:
        return _str_or_none(self.claims.get("client_id"))

    @property
    def sid(self) -> str | None:
        """The Ostiary session; absent for ``client_credentials`` tokens (machine callers)."""
        return _str_or_none(self.claims.get("sid"))

    @property
    def organization_id(self) -> str | None:
        return _str_or_none(self.claims.get("oid"))

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(str(self.claims.get("scope") or "").split())

    @property
    def permissions(self) -> frozenset[str]:
        return _string_set(self.claims.get("permissions"))

    @property
    def roles(self) -> frozenset[str]:
        return _string_set(self.claims.get("roles"))

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])


@dataclasses.dataclass(frozen=True, slots=True)
class LogoutToken:
    """A validated back-channel logout token: end the local sessions with this ``sid`` (or,
    when it has none, every session of ``sub``)."""

    sub: str | None
    sid: str | None
    jti: str | None
    claims: Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """The signed-in user, from the validated ID token; ``access_token`` is current (refreshed
    when it was about to expire), ready for ``Authorization: Bearer`` calls to your APIs."""

    sub: str
    sid: str | None
    claims: Mapping[str, Any]
    access_token: str

    @property
    def email(self) -> str | None:
        return _str_or_none(self.claims.get("email"))

    @property
    def name(self) -> str | None:
        return _str_or_none(self.claims.get("name"))

    @property
    def organization_id(self) -> str | None:
        return _str_or_none(self.claims.get("oid"))

    @classmethod
    def from_tokens(cls, tokens: TokenSet) -> User:
        claims = tokens.id_claims
        return cls(
            sub=str(claims.get("sub", "")),
            sid=_str_or_none(claims.get("sid")),
            claims=claims,
            access_token=tokens.access_token,
        )


def _string_set(value: Any) -> frozenset[str]:
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value)
    if isinstance(value, str):
        return frozenset(value.split())
    return frozenset()
