"""Sessions: get one, list a user's, revoke one, revoke all of a user's.

Revoking goes through the logout service, so every web app that took part in the session gets
its back-channel logout token and every refresh token of the session dies with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response

from ostiary.domain.sessions import Session as SessionRecord
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import ListBody, ResponseBody
from ostiary.web.api.pagination import PageRequest, paging
from ostiary.web.api.users import UserRef

__all__ = ["router"]

router = APIRouter(tags=["sessions"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
SessionId = Annotated[
    str, Path(description="The session's id (`ses_…`, the `sid`).", max_length=200)
]


class Session(ResponseBody):
    id: str
    user_id: str
    status: Literal["active", "expired", "revoked", "logged_out"]
    created_at: datetime
    last_active_at: datetime
    idle_expires_at: datetime | None
    absolute_expires_at: datetime
    auth_time: datetime
    amr: list[str]
    organization_id: str | None
    authenticated_clients: list[str]
    user_agent: str | None
    ip: str | None
    ended_at: datetime | None

    @classmethod
    def of(cls, session: SessionRecord) -> Session:
        return cls(
            id=session.id,
            user_id=session.user_id,
            status=session.status.value,
            created_at=session.created_at,
            last_active_at=session.last_active_at,
            idle_expires_at=session.idle_expires_at,
            absolute_expires_at=session.absolute_expires_at,
            auth_time=session.auth_time,
            amr=list(session.amr),
            organization_id=session.organization_id,
            authenticated_clients=list(session.authenticated_clients),
            user_agent=session.user_agent,
            ip=session.ip,
            ended_at=session.ended_at,
        )


class SessionList(ListBody):
    sessions: list[Session]


class RevokedSessions(ResponseBody):
    revoked_count: int


@router.get(
    "/sessions/{session_id}",
    response_model=Session,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a session",
)
async def get_session(_: Reader, services: ServicesDep, session_id: SessionId) -> Session:
    return Session.of(await services.sessions.get(session_id))


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke a session (back-channel logout to its apps)",
)
async def revoke_session(_: Writer, services: ServicesDep, session_id: SessionId) -> Response:
    await services.logout.revoke_session(session_id)
    return Response(status_code=204)


@router.get(
    "/users/{user_id}/sessions",
    response_model=SessionList,
    responses=error_responses(401, 403, 404, 422),
    summary="List a user's sessions (every status)",
)
async def list_user_sessions(
    _: Reader,
    services: ServicesDep,
    user_id: UserRef,
    page: Annotated[PageRequest, Depends(paging("sessions"))],
) -> SessionList:
    user = await services.users.get(user_id)
    found = await services.sessions.page_for_user(user.id, after=page.after, limit=page.size)
    return SessionList(
        sessions=[Session.of(s) for s in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@router.delete(
    "/users/{user_id}/sessions",
    response_model=RevokedSessions,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke every live session of a user (back-channel logout to their apps)",
)
async def revoke_user_sessions(
    _: Writer, services: ServicesDep, user_id: UserRef
) -> RevokedSessions:
    user = await services.users.get(user_id)
    return RevokedSessions(revoked_count=await services.logout.revoke_user_sessions(user))
