"""The shared login session and what hangs off it: codes, refresh tokens, login transactions."""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime
from typing import Any

__all__ = [
    "AuthorizationCode",
    "BackchannelDelivery",
    "DeliveryStatus",
    "LoginTransaction",
    "RefreshToken",
    "Session",
    "SessionStatus",
    "session_is_live",
]


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOGGED_OUT = "logged_out"


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    id: str  # ses_…, the public id (the sid claim); the cookie value is a separate secret
    user_id: str
    status: SessionStatus
    created_at: datetime
    last_active_at: datetime
    idle_expires_at: datetime | None
    absolute_expires_at: datetime
    auth_time: datetime
    amr: tuple[str, ...]
    organization_id: str | None
    authenticated_clients: tuple[str, ...]
    user_agent: str | None
    ip: str | None
    ended_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Active and within both its idle and absolute lifetimes."""
        return session_is_live(self.status, self.idle_expires_at, self.absolute_expires_at, now)


def session_is_live(
    status: SessionStatus,
    idle_expires_at: datetime | None,
    absolute_expires_at: datetime,
    now: datetime,
) -> bool:
    """Whether a session in this state is live at ``now``: for the checks that read only these
    columns of a session (a bearer token's), and for ``Session.is_live``."""
    if status is not SessionStatus.ACTIVE:
        return False
    if now >= absolute_expires_at:
        return False
    return idle_expires_at is None or now < idle_expires_at


@dataclasses.dataclass(frozen=True, slots=True)
class LoginTransaction:
    """An authorization request waiting for the user at a hosted page."""

    id: str
    app_id: str
    request: dict[str, Any]  # AuthorizationRequest.to_json()
    created_at: datetime
    expires_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorizationCode:
    grant_id: str  # every token issued from this code carries it, so reuse can revoke them
    app_id: str
    client_id: str
    session_id: str
    user_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    auth_time: datetime
    amr: tuple[str, ...]
    organization_id: str | None
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None
    failed_at: datetime | None = None  # the request that consumed it failed: nothing issued


@dataclasses.dataclass(frozen=True, slots=True)
class RefreshToken:
    id: str
    grant_id: str  # the family: every rotation of one login of one app
    app_id: str
    session_id: str
    user_id: str
    scope: tuple[str, ...]
    nonce: str | None
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every retry used up


@dataclasses.dataclass(frozen=True, slots=True)
class BackchannelDelivery:
    """One logout notice owed to one app for one ended session (OIDC Back-Channel Logout)."""

    id: str
    session_id: str
    user_id: str
    client_id: str
    uri: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None
