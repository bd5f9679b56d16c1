"""RP-initiated logout (OIDC RP-Initiated Logout 1.0) and ending sessions on behalf of users
and administrators.

    /oidc/logout ──bad hint / unregistered post-logout URI──▶ error page (never a redirect)
         │ valid id_token_hint for this browser's session ──▶ end session ──▶ redirect or page
         │ no hint (or a hint for another user) ──▶ confirmation form (POST + CSRF)
         ▼ confirmed ──▶ end session ──▶ redirect to post_logout_redirect_uri?state or page
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from joserfc.errors import JoseError

from ostiary.domain.apps import App
from ostiary.domain.sessions import Session, SessionStatus
from ostiary.domain.users import User
from ostiary.protocol import jose
from ostiary.protocol.authorize import MAX_PARAM_LENGTH
from ostiary.protocol.jose import ALGORITHMS
from ostiary.protocol.redirect_uris import match_redirect_uri
from ostiary.services.errors import NotFound, ServiceError
from ostiary.services.keys import KeyService
from ostiary.services.sessions import SessionService
from ostiary.storage.apps import AppStore
from ostiary.storage.users import UserStore

__all__ = ["LogoutError", "LogoutPlan", "LogoutService"]


class LogoutError(ServiceError):
    """A logout request that must be answered with a page, never a redirect."""

    code = "invalid_request"


@dataclasses.dataclass(frozen=True, slots=True)
class LogoutPlan:
    app: App | None
    redirect_to: str | None  # the verified post-logout URI, with state
    needs_confirmation: bool
    params: dict[str, str]  # carried through the confirmation form


def _check_state(state: str | None) -> None:
    """The same limit as at /oauth/authorize: ``state`` goes back in the redirect's URL."""
    if state is not None and len(state) > MAX_PARAM_LENGTH:
        raise LogoutError(f"state is longer than {MAX_PARAM_LENGTH} characters.")


class LogoutService:
    def __init__(
        self,
        apps: AppStore,
        users: UserStore,
        sessions: SessionService,
        keys: KeyService,
        *,
        issuer: str,
        production: bool,
    ) -> None:
        self._apps = apps
        self._users = users
        self._sessions = sessions
        self._keys = keys
        self._issuer = issuer
        self._production = production

    async def plan(self, params: Mapping[str, str], session: Session | None) -> LogoutPlan:
        _check_state(params.get("state"))
        hint = params.get("id_token_hint") or None
        claims = await self._verify_hint(hint) if hint else None
        app = await self._client(params.get("client_id") or None, claims)
        redirect_to = self._post_logout_uri(params, app)
        # Without confirmation only when the hint is an ID token of *this* session: an old
        # token (from an ended session, or another device of the same user) must not end it.
        same_session = (
            claims is not None
            and session is not None
            and claims.get("sub") == session.user_id
            and claims.get("sid") == session.id
        )
        needs_confirmation = session is not None and not same_session
        keep = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
        return LogoutPlan(
            app=app,
            redirect_to=redirect_to,
            needs_confirmation=needs_confirmation,
            params={k: params[k] for k in keep if params.get(k)},
        )

    async def _verify_hint(self, hint: str) -> dict[str, Any]:
        """An ID token we issued (it may have expired). Anything else is refused."""
        try:
            decoded = jose.verify_jwt(hint, await self._keys.every_public_jwk(), list(ALGORITHMS))
        except (JoseError, ValueError):
            raise LogoutError(
                "The id_token_hint was not issued by this server or has been altered."
            ) from None
        claims = dict(decoded.claims)
        if claims.get("iss") != self._issuer or decoded.header.get("typ") not in (None, "JWT"):
            raise LogoutError("The id_token_hint is not an ID token from this server.")
        return claims

    async def _client(self, client_id: str | None, claims: dict[str, Any] | None) -> App | None:
        audience = claims.get("aud") if claims else None
        if isinstance(audience, list):
            audience = audience[0] if len(audience) == 1 else claims.get("azp") if claims else None
        if client_id and audience and client_id != audience:
            raise LogoutError("client_id does not match the audience of the id_token_hint.")
        wanted = client_id or audience
        if not wanted:
            return None
        app = await self._apps.get_by_client_id(str(wanted))
        if app is None:
            raise LogoutError(f"There is no application with client_id {wanted!r}.")
        return app

    def _post_logout_uri(self, params: Mapping[str, str], app: App | None) -> str | None:
        uri = params.get("post_logout_redirect_uri") or None
        if uri is None:
            return None
        if app is None:
            raise LogoutError(
                "post_logout_redirect_uri needs client_id or id_token_hint to say which app "
                "registered it."
            )
        if not match_redirect_uri(
            app.post_logout_redirect_uris,
            uri,
            app_type=app.type.value,
            production=self._production,
        ):
            raise LogoutError(
                f"The post_logout_redirect_uri {uri!r} is not registered for {app.name}."
            )
        state = params.get("state")
        if state:
            return f"{uri}{'&' if '?' in uri else '?'}{urlencode({'state': state})}"
        return uri

    async def log_out(
        self, session: Session | None, *, app: App | None = None, ip: str | None = None
    ) -> None:
        """End the browser's session; ``app`` is the app the logout came through, if known."""
        if session is not None:
            await self._sessions.end(
                session,
                SessionStatus.LOGGED_OUT,
                client_id=app.client_id if app is not None else None,
                ip=ip,
            )

    # -- administrators and account pages --------------------------------------------------

    async def revoke_session(
        self, session_id: str, *, user_id: str | None = None, ip: str | None = None
    ) -> Session:
        """End one session (an admin, or the user from their account page when ``user_id``);
        ``ip`` is the address of whoever asked, for the authentication log."""
        session = await self._sessions.get(session_id)
        if user_id is not None and session.user_id != user_id:
            raise NotFound(f"No session {session_id!r}.")
        await self._sessions.end(session, SessionStatus.REVOKED, ip=ip)
        return session

    async def delete_user(self, user: User) -> int:
        """End every session of a user (with back-channel notices), then delete the user."""
        ended = 0
        for session in await self._sessions.for_user(user.id):
            ended += await self._sessions.end(session, SessionStatus.REVOKED)
        await self._users.delete(user.id)
        return ended

    async def revoke_user_sessions(self, user: User) -> int:
        """End every live session of a user (with back-channel notices); how many ended."""
        ended = 0
        for session in await self._sessions.for_user(user.id):
            ended += await self._sessions.end(session, SessionStatus.REVOKED)
        return ended
