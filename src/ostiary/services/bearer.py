"""Verifying Ostiary's own access tokens (for userinfo, introspection and the management API).

Signature first (named algorithms, keys from our JWKS), then claims: ``typ`` at+jwt, ``iss``,
``exp``/``nbf``; then, in the database on every request (so on every node at once), the token
must not have been revoked (RFC 7009, by its ``jti``) and, for user tokens, the login behind it
must still be alive: for those, both in one query.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ostiary.domain.users import User
from ostiary.protocol import jose
from ostiary.protocol.errors import InvalidToken
from ostiary.protocol.jose import ALGORITHMS
from ostiary.services.clock import Clock
from ostiary.services.keys import KeyService
from ostiary.storage.tokens import GrantHolder, TokenStore

__all__ = ["BearerVerifier"]

LEEWAY = 30
ALGORITHM_LIST = list(ALGORITHMS)
VERIFIED_CACHE_SIZE = 4096


class VerifiedTokens:
    """The signature checks already done: an SPA or API calls with the same access token many
    times in its lifetime, and checking an RS256 signature with joserfc is the largest cost of
    a userinfo request. An entry holds the claims of a token whose signature verified, keyed by
    the token's SHA-256 (never the token itself), and counts only for the key set it verified
    against: once the published keys change, every token is checked again. Claims (expiry,
    issuer) and the login behind a token are checked on every request, so revocation and
    logout still take effect at once. Least recently used entries go first."""

    def __init__(self, size: int = VERIFIED_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[KeySet, dict[str, Any]]] = OrderedDict()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, key: bytes, keys: KeySet) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not keys:
            return None
        self._entries.move_to_end(key)
        return dict(entry[1])

    def put(self, key: bytes, keys: KeySet, claims: dict[str, Any]) -> None:
        self._entries[key] = (keys, claims)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


class BearerVerifier:
    def __init__(self, keys: KeyService, tokens: TokenStore, clock: Clock, *, issuer: str) -> None:
        self._keys = keys
        self._tokens = tokens
        self._clock = clock
        self._issuer = issuer
        self._verified = VerifiedTokens()

    async def verify(self, token: str, *, check_grant: bool = True) -> dict[str, Any]:
        """The claims of a valid, live, unrevoked access token; raises InvalidToken otherwise.
        Without ``check_grant``, the login behind a user token is not looked at."""
        claims = await self._verified_claims(token)
        if check_grant and "sid" in claims:
            await self._live_login(claims)
        elif await self._tokens.access_token_revoked(str(claims.get("jti", ""))):
            raise InvalidToken("The access token has been revoked.")
        return claims

    async def revocable(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token we issued that has not expired (revoked or not, its
        login alive or not): what revocation needs to know. None for anything else."""
        try:
            return await self._verified_claims(token)
        except InvalidToken:
            return None

    async def verify_user_token(self, token: str) -> tuple[dict[str, Any], User]:
        """A valid, live access token issued to a user (not an app), and that user."""
        claims = await self._verified_claims(token)
        if "sid" not in claims:
            raise InvalidToken("This access token belongs to an app, not a user.")
        return claims, (await self._live_login(claims)).user

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        if not token or token.count(".") != 2 or len(token) > 8192:
            raise InvalidToken("The access token is malformed.")
        keys = await self._keys.verification_keys()
        cache_key = self._verified.key(token)
        claims = self._verified.get(cache_key, keys)
        if claims is None:
            try:
                decoded = jose.verify_jwt(token, keys, ALGORITHM_LIST)
            except (JoseError, ValueError) as err:
                raise InvalidToken(
                    "The access token's signature is not valid.", detail=str(err)
                ) from None
            if decoded.header.get("typ") != "at+jwt":
                raise InvalidToken("This is not an access token.")
            claims = dict(decoded.claims)
            self._verified.put(cache_key, keys, dict(claims))
        now = self._clock.now().timestamp()
        if claims.get("iss") != self._issuer:
            raise InvalidToken("The access token was issued by someone else.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] + LEEWAY < now:
            raise InvalidToken("The access token has expired.")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] - LEEWAY > now:
            raise InvalidToken("The access token is not valid yet.")
        return claims

    async def _live_login(self, claims: dict[str, Any]) -> GrantHolder:
        jti = str(claims.get("jti", ""))
        found = await self._tokens.grant_holder(jti.split(".", 1)[0], jti)
        if found is None:
            raise InvalidToken("The access token's login is unknown.")
        if found.token_revoked:
            raise InvalidToken("The access token has been revoked.")
        if not found.is_live(self._clock.now()) or found.session_id != claims["sid"]:
            raise InvalidToken("The access token's login has ended or was revoked.")
        return found
