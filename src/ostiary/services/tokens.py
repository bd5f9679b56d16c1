"""The token endpoint's grants, userinfo, revocation and introspection.

Each grant reads as a list of checks; each failure is one OAuth error class.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from prometheus_client import Counter

from ostiary.domain.apps import App, AppType
from ostiary.domain.ids import new_id, new_token
from ostiary.domain.sessions import AuthorizationCode, RefreshToken, Session, SessionStatus
from ostiary.domain.users import User
from ostiary.protocol import claims as build
from ostiary.protocol.digests import Digester
from ostiary.protocol.errors import (
    InsufficientScope,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from ostiary.protocol.pkce import verifier_matches
from ostiary.protocol.scopes import MANAGEMENT_SCOPES, parse_scope
from ostiary.services.apps import AppService
from ostiary.services.authorize import CODE_PURPOSE
from ostiary.services.bearer import LEEWAY, BearerVerifier
from ostiary.services.clock import Clock
from ostiary.services.events import AuthEvent, AuthLog
from ostiary.services.keys import KeyService
from ostiary.services.organizations import OrganizationService
from ostiary.services.sessions import SessionService
from ostiary.storage.tokens import TokenStore

__all__ = ["ClientCredentials", "TokenIntrospection", "TokenService"]

REFRESH_PURPOSE = "refresh_token"
TOKENS_ISSUED = Counter("ostiary_tokens_issued_total", "Token responses by grant type", ["grant"])
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


@dataclasses.dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What the client sent to prove who it is (``client_secret_basic`` or ``_post``)."""

    client_id: str | None
    client_secret: str | None
    method: str  # "basic" | "post" | "none"


class TokenService:
    def __init__(
        self,
        apps: AppService,
        tokens: TokenStore,
        sessions: SessionService,
        keys: KeyService,
        bearer: BearerVerifier,
        organizations: OrganizationService,
        events: AuthLog,
        digester: Digester,
        clock: Clock,
        *,
        issuer: str,
        access_token_ttl: int,
        id_token_ttl: int,
        client_credentials_ttl: int,
    ) -> None:
        self._apps = apps
        self._tokens = tokens
        self._sessions = sessions
        self._keys = keys
        self._bearer = bearer
        self._organizations = organizations
        self._events = events
        self._digester = digester
        self._clock = clock
        self._issuer = issuer
        self._access_ttl = access_token_ttl
        self._id_ttl = id_token_ttl
        self._cc_ttl = client_credentials_ttl

    # -- client authentication -------------------------------------------------------------

    async def authenticate_client(self, creds: ClientCredentials) -> App:
        """Web apps prove themselves with a secret; spa and native apps send client_id only."""
        if not creds.client_id:
            raise InvalidClient("Client authentication failed: no client_id.")
        app, secret_ok = await self._apps.identify_client(creds.client_id, creds.client_secret)
        if app is None:
            raise InvalidClient("Client authentication failed: unknown client.")
        if app.type is AppType.WEB:
            if not creds.client_secret:
                raise InvalidClient("Client authentication failed: this app needs its secret.")
            if not secret_ok:
                raise InvalidClient("Client authentication failed: wrong client secret.")
            return app
        if creds.client_secret:
            raise InvalidClient(
                f"A {app.type.value} app is a public client: send client_id only, no secret."
            )
        return app

    # -- /oauth/token ----------------------------------------------------------------------

    async def token(self, form: Mapping[str, str], creds: ClientCredentials) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise InvalidRequest("grant_type is required.")
        if grant_type not in GRANT_TYPES:
            raise UnsupportedGrantType(
                f"grant_type={grant_type} is not supported; use one of {', '.join(GRANT_TYPES)}."
            )
        app = await self.authenticate_client(creds)
        if grant_type == "authorization_code":
            response = await self._authorization_code(app, form)
        elif grant_type == "refresh_token":
            response = await self._refresh_token(app, form)
        else:
            response = await self._client_credentials(app, form)
        TOKENS_ISSUED.labels(grant_type).inc()
        return response

    async def exchange_code_internally(
        self, app: App, code: str, redirect_uri: str, code_verifier: str | None
    ) -> dict[str, Any]:
        """Code exchange for Ostiary's own client (the dashboard), which runs inside the server:
        no client authentication, every other check of the grant applies."""
        form = {"code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return await self._authorization_code(app, form)

    async def _authorization_code(self, app: App, form: Mapping[str, str]) -> dict[str, Any]:
        value = _required(form, "code")
        redirect_uri = _required(form, "redirect_uri")
        verifier = form.get("code_verifier")
        digest = self._digester.digest(CODE_PURPOSE, value)
        consumed = await self._tokens.consume_code(digest, self._clock.now())
        if consumed is None:
            raise InvalidGrant("The authorization code is invalid.")
        code, first_use, login = consumed
        if not first_use:
            await self._code_reused(code)
        try:
            self._check_code(code, app, redirect_uri, verifier)
            if login is None or not login.session.is_live(self._clock.now()):
                raise InvalidGrant("The sign-in session behind this code has ended.")
        except InvalidGrant:
            # The code is used up all the same (a wrong code_verifier must not be retried).
            await self._tokens.code_failed(digest, self._clock.now())
            raise
        return await self._issue(
            app, login.user, login.session, code.grant_id, code.scope, code.nonce,
            with_id_token=True,
        )  # fmt: skip

    async def _code_reused(self, code: AuthorizationCode) -> NoReturn:
        """A code presented again: always refused, and said truthfully why. RFC 6749 §4.1.2: a
        code that was redeemed and is used again revokes everything issued from it; a code whose
        first redemption failed issued nothing."""
        await self._events.record(
            AuthEvent.CODE_REUSED,
            user_id=code.user_id,
            client_id=code.client_id,
            session_id=code.session_id,
        )
        if code.failed_at is not None:
            raise InvalidGrant(
                "This authorization code was already used by a request that failed; start a "
                "new authorization."
            )
        await self._tokens.revoke_grant(code.grant_id, self._clock.now())
        raise InvalidGrant(
            "The authorization code was already used; tokens issued from it are revoked."
        )

    def _check_code(
        self, code: AuthorizationCode, app: App, redirect_uri: str, verifier: str | None
    ) -> None:
        if code.app_id != app.id:
            raise InvalidGrant("The authorization code was issued to another client.")
        if code.expires_at <= self._clock.now():
            raise InvalidGrant("The authorization code has expired.")
        if code.redirect_uri != redirect_uri:
            raise InvalidGrant("redirect_uri does not match the one of the authorization request.")
        if code.code_challenge is None:
            if verifier is not None:
                raise InvalidGrant("code_verifier sent, but the request had no code_challenge.")
            return
        if verifier is None:
            raise InvalidGrant("code_verifier is required (PKCE).")
        if not verifier_matches(verifier, code.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge (PKCE).")

    async def _refresh_token(self, app: App, form: Mapping[str, str]) -> dict[str, Any]:
        value = _required(form, "refresh_token")
        now = self._clock.now()
        found = await self._tokens.refresh_login(self._digester.digest(REFRESH_PURPOSE, value))
        if found is None:
            raise InvalidGrant("The refresh token is invalid.")
        token, login = found
        session = login.session
        if token.app_id != app.id:
            raise InvalidGrant("The refresh token was issued to another client.")
        if token.revoked_at is not None:
            raise InvalidGrant("The refresh token has been revoked.")
        if not session.is_live(now):
            await self._expire_if_needed(session)
            await self._tokens.revoke_grant(token.grant_id, now)
            raise InvalidGrant("The session has ended; the user must sign in again.")
        scope = self._narrowed_scope(token, form.get("scope"))
        if token.rotated_at is not None and not self._within_reuse(app, token):
            await self._tokens.revoke_grant(token.grant_id, now)
            await self._events.record(
                AuthEvent.REFRESH_TOKEN_REUSED,
                user_id=token.user_id,
                client_id=app.client_id,
                session_id=token.session_id,
            )
            raise InvalidGrant(
                "The refresh token was already used; every token of this login is revoked."
            )
        # No nonce in refreshed ID tokens (OIDC Core §12.2): it belongs to the authentication.
        return await self._issue(
            app, login.user, session, token.grant_id, scope, None,
            with_id_token="openid" in scope, rotate=token,
        )  # fmt: skip

    def _within_reuse(self, app: App, token: RefreshToken) -> bool:
        assert token.rotated_at is not None
        window = timedelta(seconds=app.refresh_reuse_interval)
        return app.refresh_reuse_interval > 0 and self._clock.now() - token.rotated_at <= window

    def _narrowed_scope(self, token: RefreshToken, requested: str | None) -> tuple[str, ...]:
        if not requested:
            return token.scope
        scope = parse_scope(requested)
        if not set(scope) <= set(token.scope):
            raise InvalidScope("A refresh can only keep or narrow the scope of the login.")
        return scope

    async def _expire_if_needed(self, session: Session) -> None:
        if session.status is SessionStatus.ACTIVE:
            await self._sessions.end(session, SessionStatus.EXPIRED)

    async def _client_credentials(self, app: App, form: Mapping[str, str]) -> dict[str, Any]:
        if app.type is not AppType.WEB:
            raise UnauthorizedClient("client_credentials is for web apps (with a secret) only.")
        allowed = MANAGEMENT_SCOPES if app.management_api_access else ()
        requested = parse_scope(form.get("scope", ""))
        if not set(requested) <= set(allowed):
            extra = sorted(set(requested) - set(allowed))
            raise InvalidScope(f"This app may not request {' '.join(extra)}.")
        scope = requested or allowed
        audiences = (f"{self._issuer}/api/v1",) if scope else ()
        ttl = self._cc_ttl
        claims = build.access_token_claims(
            issuer=self._issuer,
            client_id=app.client_id,
            subject=app.client_id,
            scope=scope,
            jti=new_token(nbytes=16),
            now=self._clock.now(),
            ttl=ttl,
            audiences=audiences,
        )
        access = await self._keys.sign(claims, typ="at+jwt")
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scope),
        }

    # -- issuing ---------------------------------------------------------------------------

    async def _issue(
        self,
        app: App,
        user: User,
        session: Session,
        grant_id: str,
        scope: tuple[str, ...],
        nonce: str | None,
        *,
        with_id_token: bool,
        rotate: RefreshToken | None = None,
    ) -> dict[str, Any]:
        now = self._clock.now()
        ttl = app.access_token_ttl or self._access_ttl
        org = await self._organizations.claims(user.id, session.organization_id)
        access = await self._keys.sign(
            build.access_token_claims(
                issuer=self._issuer,
                client_id=app.client_id,
                subject=user.id,
                scope=scope,
                # The grant id leads the jti, so userinfo and introspection can tell that a
                # revoked login's access tokens are dead without storing each token.
                jti=f"{grant_id}.{secrets.token_urlsafe(12)}",
                now=now,
                ttl=ttl,
                session_id=session.id,
                organization_id=org.organization_id if org else None,
                roles=org.roles if org else None,
                permissions=org.permissions if org else None,
            ),
            typ="at+jwt",
        )
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scope),
        }
        if with_id_token:
            response["id_token"] = await self._keys.sign(
                build.id_token_claims(
                    issuer=self._issuer,
                    client_id=app.client_id,
                    user=user,
                    session_id=session.id,
                    auth_time=session.auth_time,
                    amr=session.amr,
                    scope=scope,
                    now=now,
                    ttl=self._id_ttl,
                    nonce=nonce,
                    access_token=access,
                    organization_id=org.organization_id if org else None,
                ),
                typ="JWT",
            )
        if "offline_access" in scope or rotate is not None:
            refresh_value = new_token(nbytes=32)
            token = RefreshToken(
                id=new_id("rtk"),
                grant_id=grant_id,
                app_id=app.id,
                session_id=session.id,
                user_id=user.id,
                scope=rotate.scope if rotate else scope,
                nonce=nonce,
                created_at=now,
                rotated_at=None,
                revoked_at=None,
            )
            digest = self._digester.digest(REFRESH_PURPOSE, refresh_value)
            if rotate is None:
                await self._tokens.insert_refresh(token, digest)
            elif rotate.rotated_at is not None:
                # A tolerated concurrent reuse (refresh_reuse_interval): a sibling token.
                await self._tokens.insert_refresh(token, digest)
            else:
                rotated = await self._tokens.rotate(
                    rotate, token, digest, now, session_active=self._sessions.activity(session, now)
                )
                if not rotated:  # a concurrent request rotated it first: this is a reuse
                    if app.refresh_reuse_interval > 0:
                        await self._tokens.insert_refresh(token, digest)
                    else:
                        await self._tokens.revoke_grant(grant_id, now)
                        raise InvalidGrant(
                            "The refresh token was already used; every token of this login "
                            "is revoked."
                        )
            response["refresh_token"] = refresh_value
        return response


class TokenIntrospection:
    """Userinfo (OIDC Core §5.3), revocation (RFC 7009) and introspection (RFC 7662)."""

    def __init__(
        self,
        tokens: TokenService,
        store: TokenStore,
        bearer: BearerVerifier,
        digester: Digester,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._bearer = bearer
        self._digester = digester
        self._clock = clock

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        claims, user = await self._bearer.verify_user_token(access_token)
        scope = parse_scope(str(claims.get("scope", "")))
        if "openid" not in scope:
            raise InsufficientScope("userinfo needs an access token with the openid scope.")
        return {"sub": user.id, **build.user_claims(user, scope)}

    async def revoke(self, form: Mapping[str, str], creds: ClientCredentials) -> None:
        """Revoke a refresh token (and its family) or one access token (until it expires).
        Unknown tokens, and tokens issued to another client, are not an error and nothing
        happens (RFC 7009 §2.2). The two kinds cannot be mistaken for each other (an access
        token is a JWT, a refresh token has no dots), so ``token_type_hint`` is not needed to
        find the token (§2.1 lets the server look beyond the hint)."""
        app = await self._tokens.authenticate_client(creds)
        token = _required(form, "token")
        if token.count(".") == 2:
            await self._revoke_access(app, token)
            return
        digest = self._digester.digest(REFRESH_PURPOSE, token)
        found = await self._store.refresh_login(digest)
        if found is None or found[0].app_id != app.id:
            return  # RFC 7009: invalid tokens (or another client's) get 200 and nothing happens
        await self._store.revoke_grant(found[0].grant_id, self._clock.now())

    async def _revoke_access(self, app: App, token: str) -> None:
        """Only the client the token was issued to may revoke it; the login it belongs to (and
        its refresh token) stays alive."""
        claims = await self._bearer.revocable(token)
        if claims is None or claims.get("client_id") != app.client_id:
            return
        jti, exp = claims.get("jti"), claims.get("exp")
        if not isinstance(jti, str) or not jti or not isinstance(exp, int):
            return
        # Kept as long as any check would still accept the token (its exp plus the leeway).
        expires_at = datetime.fromtimestamp(exp + LEEWAY, UTC)
        await self._store.revoke_access_token(jti, app.client_id, self._clock.now(), expires_at)

    async def introspect(self, form: Mapping[str, str], creds: ClientCredentials) -> dict[str, Any]:
        app = await self._tokens.authenticate_client(creds)
        if app.type is not AppType.WEB:
            raise InvalidClient("Only web apps (with a client secret) may introspect tokens.")
        token = _required(form, "token")
        hint = form.get("token_type_hint")
        if hint != "refresh_token" and token.count(".") == 2:
            return await self._introspect_access(app, token)
        return await self._introspect_refresh(app, token)

    async def _introspect_access(self, app: App, token: str) -> dict[str, Any]:
        try:
            claims = await self._bearer.verify(token)
        except InvalidToken:
            return {"active": False}
        if not _may_introspect(app, claims):
            return {"active": False}
        keep = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "nbf", "jti", "sid")
        return {
            "active": True,
            "token_type": "Bearer",
            **{k: claims[k] for k in keep if k in claims},
        }

    async def _introspect_refresh(self, app: App, token: str) -> dict[str, Any]:
        found = await self._store.refresh_login(self._digester.digest(REFRESH_PURPOSE, token))
        if found is None:
            return {"active": False}
        refresh, login = found
        session = login.session
        live = (
            refresh.app_id == app.id  # a refresh token goes to its client only, ever
            and refresh.revoked_at is None
            and refresh.rotated_at is None
            and session.is_live(self._clock.now())
        )
        if not live:
            return {"active": False}
        return {
            "active": True,
            "token_type": "refresh_token",
            "client_id": app.client_id,
            "sub": refresh.user_id,
            "scope": " ".join(refresh.scope),
            "sid": session.id,
            "iat": int(refresh.created_at.timestamp()),
            "exp": int(session.absolute_expires_at.timestamp()),
        }


def _may_introspect(app: App, claims: Mapping[str, Any]) -> bool:
    """An app learns about an access token only if it was issued to it or is meant for it (its
    audience), or if it is a resource server allowed to introspect every access token.
    Otherwise it is told ``{"active": false}`` (RFC 7662 §2.2), as for a token it cannot know."""
    if app.introspect_all_tokens or claims.get("client_id") == app.client_id:
        return True
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    return app.client_id in audiences


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise InvalidRequest(f"{name} is required.")
    return value
