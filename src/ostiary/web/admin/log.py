"""The authentication log: newest first, filtered by event type, paged with an id cursor."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from ostiary.services.events import AuthEvent
from ostiary.web.admin.kit import Page, admin_page

__all__ = ["EVENT_LABELS", "log_list"]

PAGE_SIZE = 50
EVENT_LABELS = {
    AuthEvent.LOGIN_SUCCEEDED: "Sign-in succeeded",
    AuthEvent.LOGIN_SESSION_REUSED: "Sign-in by shared session",
    AuthEvent.LOGIN_FAILED: "Sign-in failed",
    AuthEvent.LOGIN_THROTTLED: "Sign-in throttled",
    AuthEvent.SIGNUP: "Sign-up",
    AuthEvent.LOGOUT: "Sign-out",
    AuthEvent.SESSION_REVOKED: "Session revoked",
    AuthEvent.SESSION_EXPIRED: "Session expired",
    AuthEvent.CODE_REUSED: "Code reused",
    AuthEvent.REFRESH_TOKEN_REUSED: "Refresh token reused",
}
PROBLEMS = {
    AuthEvent.LOGIN_FAILED,
    AuthEvent.LOGIN_THROTTLED,
    AuthEvent.CODE_REUSED,
    AuthEvent.REFRESH_TOKEN_REUSED,
}


@admin_page("log")
async def log_list(page: Page) -> Response:
    event_type = page.query("type")
    if event_type not in {e.value for e in AuthEvent}:
        event_type = ""
    before = page.query("before") or None
    if before is not None and not before.startswith("evt_"):
        before = None
    rows = await page.services.events.recent(
        limit=PAGE_SIZE + 1, before=before, type_=event_type or None
    )
    older = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = {"before": rows[-1]["id"]}
        if event_type:
            params["type"] = event_type
        older = f"/admin/log?{urlencode(params)}"
    newest = f"/admin/log?{urlencode({'type': event_type})}" if event_type else "/admin/log"
    apps = {app.client_id: app.name for app in await page.services.apps.all()}
    return page.render(
        "admin/log.html",
        {
            "rows": rows,
            "labels": {e.value: label for e, label in EVENT_LABELS.items()},
            "problems": {e.value for e in PROBLEMS},
            "event_type": event_type,
            "apps": apps,
            "older": older,
            "newest": newest if before else None,
            "page_size": PAGE_SIZE,
        },
    )
