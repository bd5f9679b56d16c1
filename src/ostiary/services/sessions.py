"""The shared login session: created at sign-in, found from the cookie, ended at logout."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from ostiary.domain.ids import new_id, new_token
from ostiary.domain.sessions import Session, SessionStatus
from ostiary.protocol.digests import Digester
from ostiary.services.backchannel import BackchannelService
from ostiary.services.clock import Clock
from ostiary.services.errors import NotFound
from ostiary.storage.pages import Page
from ostiary.storage.sessions import SessionStore

__all__ = ["SessionService"]

PURPOSE = "session"
TOUCH_EVERY = timedelta(seconds=60)  # write last-active at most this often


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        digester: Digester,
        clock: Clock,
        *,
        idle_timeout: int,
        absolute_timeout: int,
        backchannel: BackchannelService,
    ) -> None:
        self._backchannel = backchannel
        self._store = store
        self._digester = digester
        self._clock = clock
        self._idle = idle_timeout
        self._absolute = absolute_timeout

    def idle_expiry(self, now: datetime, absolute: datetime) -> datetime | None:
        if not self._idle:
            return None
        return min(now + timedelta(seconds=self._idle), absolute)

    async def create(
        self, user_id: str, *, amr: tuple[str, ...], user_agent: str | None, ip: str | None
    ) -> tuple[Session, str]:
        """A new session; returns it and the cookie value (shown to the browser only)."""
        now = self._clock.now()
        absolute = now + timedelta(seconds=self._absolute)
        session = Session(
            id=new_id("ses"),
            user_id=user_id,
            status=SessionStatus.ACTIVE,
            created_at=now,
            last_active_at=now,
            idle_expires_at=self.idle_expiry(now, absolute),
            absolute_expires_at=absolute,
            auth_time=now,
            amr=amr,
            organization_id=None,
            authenticated_clients=(),
            user_agent=(user_agent or "")[:400] or None,
            ip=ip,
        )
        cookie = new_token(nbytes=32)
        await self._store.insert(session, self._digester.digest(PURPOSE, cookie))
        return session, cookie

    async def from_cookie(self, cookie: str | None) -> Session | None:
        """The live session behind a cookie value, or None (unknown, ended or expired)."""
        if not cookie or len(cookie) > 100:
            return None
        session = await self._store.by_digest(self._digester.digest(PURPOSE, cookie))
        now = self._clock.now()
        if session is None or not session.is_live(now):
            return None
        activity = self.activity(session, now)
        if activity is not None:
            last_active, idle = activity
            await self._store.update(session.id, last_active_at=last_active, idle_expires_at=idle)
            session = dataclasses.replace(session, last_active_at=last_active, idle_expires_at=idle)
        return session

    def activity(self, session: Session, now: datetime) -> tuple[datetime, datetime | None] | None:
        """``(last active, idle expiry)`` to record for activity in ``session`` now, or None when
        it was recorded less than TOUCH_EVERY ago: a burst of requests writes once."""
        if now - session.last_active_at < TOUCH_EVERY:
            return None
        return now, self.idle_expiry(now, session.absolute_expires_at)

    async def reauthenticate(self, session: Session, amr: tuple[str, ...]) -> Session:
        """The user proved themselves again (prompt=login, max_age): same session id."""
        now = self._clock.now()
        idle = self.idle_expiry(now, session.absolute_expires_at)
        await self._store.update(
            session.id, auth_time=now, amr=amr, last_active_at=now, idle_expires_at=idle
        )
        return dataclasses.replace(
            session, auth_time=now, amr=amr, last_active_at=now, idle_expires_at=idle
        )

    async def set_organization(self, session: Session, organization_id: str | None) -> Session:
        await self._store.update(session.id, organization_id=organization_id)
        return dataclasses.replace(session, organization_id=organization_id)

    async def add_client(self, session: Session, client_id: str) -> None:
        if client_id not in session.authenticated_clients:
            await self._store.add_client(session.id, client_id, self._clock.now())

    async def get(self, session_id: str) -> Session:
        session = await self._store.get(session_id)
        if session is None:
            raise NotFound(f"No session {session_id!r}.")
        return session

    async def for_user(self, user_id: str) -> list[Session]:
        return await self._store.for_user(user_id)

    async def end(
        self,
        session: Session,
        status: SessionStatus,
        *,
        client_id: str | None = None,
        ip: str | None = None,
    ) -> bool:
        """End the session, revoke every refresh token of every app in it, and tell the web apps
        that registered a back-channel logout URI. False when it had already ended. The app the
        request came through and the requester's IP are logged with the event."""
        return await self._backchannel.end_session(session, status, client_id=client_id, ip=ip)

    async def count_live(self) -> int:
        return await self._store.count_live(self._clock.now())

    async def all(self, *, user_id: str | None = None) -> list[Session]:
        return await self._store.all(user_id=user_id)

    async def page_for_user(self, user_id: str, *, after: str | None, limit: int) -> Page[Session]:
        return await self._store.page_for_user(user_id, after=after, limit=limit)
