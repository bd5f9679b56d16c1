"""Claims of access tokens (RFC 9068), ID tokens (OIDC Core §2) and userinfo (§5.3)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ostiary.domain.users import User
from ostiary.protocol.scopes import CLAIMS_BY_SCOPE

__all__ = ["access_token_claims", "at_hash", "id_token_claims", "user_claims"]


def at_hash(access_token: str) -> str:
    """The left half of SHA-256 of the token, base64url (RS256 and ES256 both use SHA-256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def user_claims(user: User, scope: Sequence[str]) -> dict[str, Any]:
    """Profile claims released by ``scope``; empty values are left out."""
    values: dict[str, Any] = {
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "picture": user.picture,
        "locale": user.locale,
        "updated_at": int(user.updated_at.timestamp()),
        "email": user.email,
        "email_verified": user.email_verified,
    }
    claims: dict[str, Any] = {}
    for item in scope:
        for name in CLAIMS_BY_SCOPE.get(item, ()):
            if values[name] is not None:
                claims[name] = values[name]
    return claims


def access_token_claims(
    *,
    issuer: str,
    client_id: str,
    subject: str,
    scope: Sequence[str],
    jti: str,
    now: datetime,
    ttl: int,
    session_id: str | None = None,
    audiences: Sequence[str] = (),
    organization_id: str | None = None,
    roles: Sequence[str] | None = None,
    permissions: Sequence[str] | None = None,
) -> dict[str, Any]:
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": [client_id, *(a for a in audiences if a != client_id)],
        "client_id": client_id,
        "scope": " ".join(scope),
        "jti": jti,
        "iat": iat,
        "nbf": iat,
        "exp": iat + ttl,
    }
    if session_id is not None:
        claims["sid"] = session_id
    if organization_id is not None:
        claims["oid"] = organization_id
    if roles is not None:
        claims["roles"] = list(roles)
    if permissions is not None:
        claims["permissions"] = list(permissions)
    return claims


def id_token_claims(
    *,
    issuer: str,
    client_id: str,
    user: User,
    session_id: str,
    auth_time: datetime,
    amr: Sequence[str],
    scope: Sequence[str],
    now: datetime,
    ttl: int,
    nonce: str | None,
    access_token: str | None,
    organization_id: str | None = None,
) -> dict[str, Any]:
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": user.id,
        "aud": client_id,
        "azp": client_id,
        "sid": session_id,
        "auth_time": int(auth_time.timestamp()),
        "amr": list(amr),
        "iat": iat,
        "exp": iat + ttl,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["at_hash"] = at_hash(access_token)
    if organization_id is not None:
        claims["oid"] = organization_id
    claims.update(user_claims(user, scope))
    return claims
