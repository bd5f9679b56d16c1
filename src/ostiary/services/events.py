"""Recording authentication events for the dashboard's authentication log."""

from __future__ import annotations

import enum
import logging
from typing import Any

from prometheus_client import Counter

from ostiary.domain.ids import new_id
from ostiary.services.clock import Clock
from ostiary.storage.events import EventStore

__all__ = ["AuthEvent", "AuthLog"]

log = logging.getLogger("ostiary.auth")
EVENTS = Counter("ostiary_auth_events_total", "Authentication events by type", ["type"])


class AuthEvent(enum.StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    # An app was signed in from the shared session, with no login page (SSO at work).
    LOGIN_SESSION_REUSED = "login_session_reused"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    SIGNUP = "signup"
    LOGOUT = "logout"
    SESSION_REVOKED = "session_revoked"
    SESSION_EXPIRED = "session_expired"
    CODE_REUSED = "code_reused"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"


class AuthLog:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self,
        event: AuthEvent,
        *,
        user_id: str | None = None,
        email: str | None = None,
        client_id: str | None = None,
        session_id: str | None = None,
        ip: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Store the event and log it (never with a secret: only ids, email, IP)."""
        values = {
            "id": new_id("evt"),
            "type": event.value,
            "created_at": self._clock.now(),
            "user_id": user_id,
            "email": (email or None) and email[:320],
            "client_id": client_id,
            "session_id": session_id,
            "ip": ip,
            "detail": (detail or None) and detail[:500],
        }
        await self._store.insert(values)
        EVENTS.labels(event.value).inc()
        log.info(event.value, extra={k: v for k, v in values.items() if v and k != "type"})

    async def recent(
        self, *, limit: int = 100, before: str | None = None, type_: str | None = None
    ) -> list[dict[str, Any]]:
        return await self._store.recent(limit=limit, before=before, type_=type_)
