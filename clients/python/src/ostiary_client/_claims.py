"""Claims validation of ID tokens (OIDC Core §3.1.3.7), access tokens (RFC 9068 §4) and logout
tokens (OIDC Back-Channel Logout 1.0 §2.6). Plain functions over dicts: no keys, no IO.

The signature has been checked before any of these run (``_jose.verify_signature``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ostiary_client.errors import (
    InsufficientPermissions,
    InsufficientScope,
    InvalidToken,
    NonceMismatch,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "at_hash",
    "validate_access_token_claims",
    "validate_id_token_claims",
    "validate_logout_token_claims",
]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
LOGOUT_TOKEN_TYPES = frozenset({"logout+jwt", "application/logout+jwt", "jwt", "application/jwt"})
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


# -- the small checks ----------------------------------------------------------------------------


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"The token's {name} claim is not a number.")
    return float(value)


def check_typ(
    header: Mapping[str, Any], allowed: Collection[str], *, optional: bool, what: str
) -> None:
    typ = header.get("typ")
    if typ is None and optional:
        return
    if not isinstance(typ, str) or typ.lower() not in allowed:
        raise InvalidToken(f"This is not {what} (typ {typ!r}).")


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    if claims.get("iss") != issuer:
        raise WrongIssuer(f"The token was issued by {claims.get('iss')!r}, not {issuer!r}.")


def audiences_of(claims: Mapping[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return list(aud)
    raise WrongAudience("The token has no valid aud claim.")


def check_audience(claims: Mapping[str, Any], accepted: Sequence[str]) -> list[str]:
    audiences = audiences_of(claims)
    if not set(audiences) & set(accepted):
        raise WrongAudience(
            f"The token is for {', '.join(audiences) or 'nobody'}, not {', '.join(accepted)}."
        )
    return audiences


def check_lifetime(
    claims: Mapping[str, Any], *, now: float, leeway: float, require_iat: bool
) -> None:
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("The token has no exp claim.")
    if exp + leeway <= now:
        ago = int(now - exp)
        raise TokenExpired(f"The token expired {ago} second{'' if ago == 1 else 's'} ago.")
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf - leeway > now:
        raise TokenNotYetValid("The token is not valid yet (nbf is in the future).")
    iat = _number(claims, "iat")
    if iat is None:
        if require_iat:
            raise InvalidToken("The token has no iat claim.")
        return
    if iat - leeway > now:
        raise TokenNotYetValid("The token was issued in the future (iat); check the clocks.")


def check_subject(claims: Mapping[str, Any]) -> None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidToken("The token has no sub claim.")


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: the left half of the hash that goes with ``alg``, base64url."""
    hash_fn = hashlib.sha512 if alg == "EdDSA" else _HASHES.get(alg[-3:], hashlib.sha256)
    digest = hash_fn(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


# -- the three token kinds -----------------------------------------------------------------------


def validate_id_token_claims(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: float,
    nonce: str | None = None,
    max_age: int | None = None,
    access_token: str | None = None,
) -> None:
    check_typ(header, ID_TOKEN_TYPES, optional=True, what="an ID token")
    check_issuer(claims, issuer)
    audiences = check_audience(claims, [client_id])
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise WrongAudience("The ID token has several audiences but no azp claim.")
    if azp is not None and azp != client_id:
        raise WrongAudience(f"The ID token was issued to {azp!r} (azp), not {client_id!r}.")
    check_subject(claims)
    check_lifetime(claims, now=now, leeway=leeway, require_iat=True)
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise NonceMismatch("The ID token's nonce is not the one this login sent.")
    if max_age is not None:
        auth_time = _number(claims, "auth_time")
        if auth_time is None:
            raise InvalidToken("max_age was requested but the ID token has no auth_time.")
        if auth_time + max_age + leeway < now:
            raise InvalidToken("The user signed in longer ago than max_age allows.")
    expected_hash = claims.get("at_hash")
    if expected_hash is not None and access_token is not None:
        computed = at_hash(access_token, str(header.get("alg", "")))
        if not isinstance(expected_hash, str) or not hmac.compare_digest(
            computed.encode(), expected_hash.encode()
        ):
            raise InvalidToken("The ID token's at_hash does not match the access token.")


def validate_access_token_claims(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audiences: Sequence[str],
    now: float,
    leeway: float,
    required_scopes: Collection[str] = (),
    required_permissions: Collection[str] = (),
) -> None:
    check_typ(header, ACCESS_TOKEN_TYPES, optional=False, what="an access token (at+jwt)")
    check_issuer(claims, issuer)
    check_audience(claims, audiences)
    check_lifetime(claims, now=now, leeway=leeway, require_iat=False)
    check_subject(claims)
    granted = set(str(claims.get("scope") or "").split())
    missing = [s for s in required_scopes if s not in granted]
    if missing:
        raise InsufficientScope(
            f"The access token lacks the scope {' '.join(missing)}.", missing=missing
        )
    raw = claims.get("permissions")
    permissions = set(raw) if isinstance(raw, list) else set()
    missing = [p for p in required_permissions if p not in permissions]
    if missing:
        raise InsufficientPermissions(
            f"The access token lacks the permission {' '.join(missing)}.", missing=missing
        )


def validate_logout_token_claims(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    now: float,
    leeway: float,
) -> None:
    """Back-Channel Logout 1.0 §2.6, steps 3 to 6 (the signature was step 2)."""
    check_typ(header, LOGOUT_TOKEN_TYPES, optional=True, what="a logout token")
    check_issuer(claims, issuer)
    check_audience(claims, [client_id])
    check_lifetime(claims, now=now, leeway=leeway, require_iat=True)
    sub, sid = claims.get("sub"), claims.get("sid")
    if not (isinstance(sub, str) and sub) and not (isinstance(sid, str) and sid):
        raise InvalidToken("The logout token has neither sub nor sid.")
    for name, value in (("sub", sub), ("sid", sid)):
        if value is not None and not isinstance(value, str):
            raise InvalidToken(f"The logout token's {name} is not text.")
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
        raise InvalidToken("The logout token has no back-channel logout event.")
    if not isinstance(events[BACKCHANNEL_LOGOUT_EVENT], dict):
        raise InvalidToken("The logout token's back-channel logout event is not a JSON object.")
    if "nonce" in claims:
        raise InvalidToken("A logout token must not contain a nonce.")
