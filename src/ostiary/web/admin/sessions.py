"""Sessions: every live sign-in session of the environment; revoking one (with back-channel
logout to the apps that took part)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from starlette.responses import Response

from ostiary.domain.sessions import Session
from ostiary.web.admin.kit import Page, admin_page
from ostiary.web.ui.account import describe_device

__all__ = ["SessionRow", "session_revoke", "session_rows", "sessions_list"]


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    user_email: str
    device: str
    ip: str | None
    apps: list[str]
    created_at: datetime
    last_active_at: datetime
    current: bool


async def session_rows(page: Page, sessions: Iterable[Session]) -> list[SessionRow]:
    """The live ones among ``sessions``, described for a table."""
    now = page.services.clock.now()
    live = [s for s in sessions if s.is_live(now)]
    names = {app.client_id: app.name for app in await page.services.apps.all()}
    emails = {u.id: u.email for u in await page.services.users.all()} if live else {}
    return [
        SessionRow(
            id=s.id,
            user_id=s.user_id,
            user_email=emails.get(s.user_id, s.user_id),
            device=describe_device(s.user_agent),
            ip=s.ip,
            apps=[names.get(c, "a deleted app") for c in s.authenticated_clients],
            created_at=s.created_at,
            last_active_at=s.last_active_at,
            current=s.id == page.signed_in.session.id,
        )
        for s in live
    ]


@admin_page("sessions")
async def sessions_list(page: Page) -> Response:
    rows = await session_rows(page, await page.services.sessions.all())
    return page.render("admin/sessions_list.html", {"sessions": rows})


def _back(page: Page) -> str:
    """Where to go after revoking: the page the admin came from (a dashboard path only)."""
    back = page.text("back") if page.form is not None else page.query("back")
    if back.startswith("/admin/") and not back.startswith("//") and "\\" not in back:
        return back
    return "/admin/sessions"


@admin_page("sessions")
async def session_revoke(page: Page) -> Response:
    session = await page.services.sessions.get(page.param("session_id"))
    back = _back(page)
    if not session.is_live(page.services.clock.now()):
        return page.problem(
            "This session has already ended",
            "The user signed out, the session expired, or it was revoked already.",
            status_code=409,
            back_url=back,
            back_label="Back",
        )
    user = await page.services.users.get(session.user_id)
    current = session.id == page.signed_in.session.id
    if page.form is None:
        return page.render(
            "admin/confirm.html",
            {
                "title": "Revoke this session?",
                "lede": f"{user.email} · {describe_device(session.user_agent)}",
                "message": (
                    f"{user.email} is signed out on this device, in every app of the session: "
                    "its refresh tokens stop working and apps with a back-channel logout URL "
                    "are told at once."
                ),
                "warning": (
                    "This is your own session: you will be signed out of the dashboard too."
                    if current
                    else None
                ),
                "action": f"/admin/sessions/{session.id}/revoke",
                "hidden": {"back": back},
                "button": "Revoke session",
                "cancel_url": back,
                "crumbs": [("Sessions", "/admin/sessions")],
            },
        )
    client = page.request.client
    await page.services.logout.revoke_session(session.id, ip=client.host if client else None)
    return page.redirect(back, notice=f"The session of {user.email} was revoked.")
