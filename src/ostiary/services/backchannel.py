"""Back-channel logout delivery and the session sweeper: a background loop in every server
process. Claims on rows (leases) keep two processes from sending the same notice at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx

from ostiary.domain.apps import AppType
from ostiary.domain.ids import new_id, new_token
from ostiary.domain.sessions import BackchannelDelivery, DeliveryStatus, Session, SessionStatus
from ostiary.protocol.logout import RETRY_DELAYS, logout_token_claims
from ostiary.services.clock import Clock
from ostiary.services.events import AuthEvent, AuthLog
from ostiary.services.keys import KeyService
from ostiary.storage.apps import AppStore
from ostiary.storage.backchannel import DeliveryStore
from ostiary.storage.sessions import SessionStore
from ostiary.storage.tokens import TokenStore

if TYPE_CHECKING:
    from ostiary.runtime.worker import Wakeup

__all__ = ["BackchannelService"]

log = logging.getLogger("ostiary.backchannel")
LEASE = timedelta(seconds=30)
HTTP_TIMEOUT = 5.0
SWEEP_EVERY = 30.0


class BackchannelService:
    def __init__(
        self,
        deliveries: DeliveryStore,
        sessions: SessionStore,
        tokens: TokenStore,
        apps: AppStore,
        keys: KeyService,
        events: AuthLog,
        clock: Clock,
        *,
        issuer: str,
        http: httpx.AsyncClient | None = None,
        wakeup: Wakeup | None = None,
    ) -> None:
        self._events = events
        self._deliveries = deliveries
        self._sessions = sessions
        self._tokens = tokens
        self._apps = apps
        self._keys = keys
        self._clock = clock
        self._issuer = issuer
        self._http = http
        self._wakeup = wakeup
        self._last_sweep = float("-inf")

    # -- ending sessions -------------------------------------------------------------------

    async def end_session(
        self,
        session: Session,
        status: SessionStatus,
        *,
        client_id: str | None = None,
        ip: str | None = None,
    ) -> bool:
        """End a session: its tokens are revoked and a logout notice is queued for every web app
        of the session that registered a back-channel URI, in one transaction. Delivery happens
        later, in the background: it never blocks or fails the logout. ``client_id`` (the app
        the logout came through) and ``ip`` (who asked) go to the authentication log."""
        deliveries = await self._deliveries_for(session)
        if not await self._sessions.end(session.id, status, self._clock.now(), deliveries):
            return False
        event = {
            SessionStatus.LOGGED_OUT: AuthEvent.LOGOUT,
            SessionStatus.REVOKED: AuthEvent.SESSION_REVOKED,
        }.get(status, AuthEvent.SESSION_EXPIRED)
        await self._events.record(
            event, user_id=session.user_id, client_id=client_id, session_id=session.id, ip=ip
        )
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    async def _deliveries_for(self, session: Session) -> list[BackchannelDelivery]:
        now = self._clock.now()
        deliveries = []
        for client_id in session.authenticated_clients:
            app = await self._apps.get_by_client_id(client_id)
            if app is None or app.type is not AppType.WEB or not app.backchannel_logout_uri:
                continue
            deliveries.append(
                BackchannelDelivery(
                    id=new_id("bcl"),
                    session_id=session.id,
                    user_id=session.user_id,
                    client_id=client_id,
                    uri=app.backchannel_logout_uri,
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return deliveries

    async def sweep_expired(self) -> int:
        """End sessions past their idle or absolute expiry, with the same notices as a logout;
        forget old login transactions and revoked access tokens that have expired."""
        ended = 0
        for session in await self._sessions.due_for_expiry(self._clock.now()):
            ended += await self.end_session(session, SessionStatus.EXPIRED)
        await self._sessions.purge_transactions(self._clock.now() - timedelta(days=1))
        await self._tokens.purge_revoked_access_tokens(self._clock.now())
        return ended

    # -- delivering ------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Send every due notice once; returns how many were delivered."""
        due = await self._deliveries.claim_due(self._clock.now(), lease=LEASE)
        if not due:
            return 0
        results = await asyncio.gather(*(self._deliver(d) for d in due))
        return sum(results)

    async def _deliver(self, delivery: BackchannelDelivery) -> bool:
        claims = logout_token_claims(
            issuer=self._issuer,
            client_id=delivery.client_id,
            subject=delivery.user_id,
            session_id=delivery.session_id,
            jti=new_token(nbytes=16),
            now=self._clock.now(),
        )
        token = await self._keys.sign(claims, typ="logout+jwt")
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self._client().post(
                delivery.uri,
                data={"logout_token": token},
                headers={"cache-control": "no-store"},
            )
            status_code = response.status_code
            ok = 200 <= status_code < 300
            if not ok:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
        retries_used = delivery.attempts  # attempts before this one
        next_at = None
        if not ok and retries_used < len(RETRY_DELAYS):
            next_at = self._clock.now() + timedelta(seconds=RETRY_DELAYS[retries_used])
        await self._deliveries.record_attempt(
            delivery,
            self._clock.now(),
            ok=ok,
            status_code=status_code,
            error=error,
            next_attempt_at=next_at,
        )
        log.info(
            "back-channel logout %s",
            "delivered" if ok else ("retry scheduled" if next_at else "given up"),
            extra={"client_id": delivery.client_id, "delivery": delivery.id, "error": error},
        )
        return ok

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)
        return self._http

    async def for_session(self, session_id: str) -> Sequence[BackchannelDelivery]:
        return await self._deliveries.for_session(session_id)

    # -- the loop --------------------------------------------------------------------------

    async def run_once(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = loop.time()
            await self.sweep_expired()
        await self.deliver_due()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
