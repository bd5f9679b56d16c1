"""Verifying Ostiary's own access tokens (for userinfo, introspection and the management API).

Signature first (named algorithms, keys from our JWKS), then claims: ``typ`` at+jwt, ``iss``,
``exp``/``nbf``; then, for user tokens, the login behind it must still be alive.
"""

from __future__ import annotations

from typing import Any

from joserfc.errors import JoseError

from ostiary.domain.users import User
from ostiary.protocol import jose
from ostiary.protocol.errors import InvalidToken
from ostiary.protocol.jose import ALGORITHMS
from ostiary.services.clock import Clock
from ostiary.services.keys import KeyService
from ostiary.storage.tokens import Login, TokenStore

__all__ = ["BearerVerifier"]

LEEWAY = 30
ALGORITHM_LIST = list(ALGORITHMS)


class BearerVerifier:
    def __init__(self, keys: KeyService, tokens: TokenStore, clock: Clock, *, issuer: str) -> None:
        self._keys = keys
        self._tokens = tokens
        self._clock = clock
        self._issuer = issuer

    async def verify(self, token: str, *, check_grant: bool = True) -> dict[str, Any]:
        """The claims of a valid, live access token; raises InvalidToken otherwise."""
        claims = await self._verified_claims(token)
        if check_grant and "sid" in claims:
            await self._live_login(claims)
        return claims

    async def verify_user_token(self, token: str) -> tuple[dict[str, Any], User]:
        """A valid, live access token issued to a user (not an app), and that user."""
        claims = await self._verified_claims(token)
        if "sid" not in claims:
            raise InvalidToken("This access token belongs to an app, not a user.")
        return claims, (await self._live_login(claims)).user

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        if not token or token.count(".") != 2 or len(token) > 8192:
            raise InvalidToken("The access token is malformed.")
        try:
            decoded = jose.verify_jwt(token, await self._keys.verification_keys(), ALGORITHM_LIST)
        except (JoseError, ValueError) as err:
            raise InvalidToken(
                "The access token's signature is not valid.", detail=str(err)
            ) from None
        if decoded.header.get("typ") != "at+jwt":
            raise InvalidToken("This is not an access token.")
        claims = dict(decoded.claims)
        now = self._clock.now().timestamp()
        if claims.get("iss") != self._issuer:
            raise InvalidToken("The access token was issued by someone else.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] + LEEWAY < now:
            raise InvalidToken("The access token has expired.")
        if isinstance(claims.get("nbf"), int) and claims["nbf"] - LEEWAY > now:
            raise InvalidToken("The access token is not valid yet.")
        return claims

    async def _live_login(self, claims: dict[str, Any]) -> Login:
        grant_id = str(claims.get("jti", "")).split(".", 1)[0]
        found = await self._tokens.grant_login(grant_id)
        if found is None:
            raise InvalidToken("The access token's login is unknown.")
        revoked, login = found
        session = login.session
        if revoked or not session.is_live(self._clock.now()) or session.id != claims["sid"]:
            raise InvalidToken("The access token's login has ended or was revoked.")
        return login
