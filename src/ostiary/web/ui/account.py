"""``/ui/account/sessions``: a signed-in user sees where they are signed in and ends sessions."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ostiary.domain.sessions import Session
from ostiary.services.errors import NotFound
from ostiary.web.context import services_of
from ostiary.web.cookies import session_cookie
from ostiary.web.oauth.authorize import outcome_response
from ostiary.web.oauth.logout import signed_out
from ostiary.web.pages import csrf_ok, csrf_token, error_page, render
from ostiary.web.ui.flow import client_ip

__all__ = ["describe_device", "sessions_page"]

PATH = "/ui/account/sessions"


@dataclasses.dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    current: bool
    device: str
    ip: str | None
    apps: list[str]
    created_at: str
    last_active: str


def describe_device(user_agent: str | None) -> str:
    """ "Firefox on Linux" from a User-Agent header. A few substring checks are enough for a
    label a person recognises; a full UA-parsing library would be overkill here."""
    ua = user_agent or ""
    browsers = (
        ("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"),
        ("python-httpx", "Python"), ("node", "Node.js"),
    )  # fmt: skip
    systems = (
        ("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Windows", "Windows"),
        ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
    )  # fmt: skip
    browser = next((name for token, name in browsers if token in ua), "Unknown browser")
    system = next((name for token, name in systems if token in ua), None)
    return f"{browser} on {system}" if system else browser


def _when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


async def sessions_page(request: Request) -> Response:
    services = services_of(request)
    current = await services.sessions.from_cookie(session_cookie(request))
    if current is None:
        return outcome_response(request, await services.authorize.start_internal_login(PATH))
    if request.method == "POST":
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return error_page(
                request,
                "Please try again",
                "The form was open too long or came from another site; nothing was changed.",
                status_code=403,
                action_url=PATH,
                action_label="Back to your sessions",
            )
        target = form.get("session_id")
        try:
            await services.logout.revoke_session(
                str(target or ""), user_id=current.user_id, ip=client_ip(request)
            )
        except NotFound:
            return error_page(request, "Session not found", "That session does not exist.",
                              status_code=404, action_url=PATH, action_label="Back")  # fmt: skip
        if target == current.id:
            return signed_out(request, None)
        return RedirectResponse(PATH, status_code=303)
    user = await services.users.get(current.user_id)
    names = {app.client_id: app.name for app in await services.apps.all()}
    rows = [
        _row(s, current, names)
        for s in await services.sessions.for_user(user.id)
        if s.is_live(services.clock.now())
    ]
    return render(
        request,
        "sessions.html",
        {
            "user_email": user.email,
            "csrf_token": csrf_token(request),
            "form_action": PATH,
            "sessions": rows,
        },
    )


def _row(session: Session, current: Session, names: dict[str, str]) -> SessionRow:
    return SessionRow(
        id=session.id,
        current=session.id == current.id,
        device=describe_device(session.user_agent),
        ip=session.ip,
        apps=[names.get(c, "a deleted app") for c in session.authenticated_clients],
        created_at=_when(session.created_at),
        last_active=_when(session.last_active_at),
    )
