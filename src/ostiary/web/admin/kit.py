"""What every dashboard page shares: the sign-in gate and CSRF check around each handler
(``admin_page``), rendering inside the layout with its navigation, one-time notices after a
redirect, reading form fields, and dates a person can read."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ostiary.services.container import Services
from ostiary.services.errors import NotFound
from ostiary.web.admin.auth import (
    SignedIn,
    delete_admin_cookie,
    read_signed,
    set_admin_cookie,
    sign_in_gate,
    sign_value,
)
from ostiary.web.context import services_of
from ostiary.web.cookies import names_of
from ostiary.web.pages import csrf_ok, csrf_token, render

__all__ = ["NAV", "Endpoint", "Page", "admin_page", "ago", "when"]

MAX_FIELD = 4096

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[["Page"], Awaitable[Response]]


@dataclasses.dataclass(frozen=True, slots=True)
class NavItem:
    section: str
    label: str
    href: str
    icon: str


# The left navigation: (group title, items).
NAV: tuple[tuple[str, tuple[NavItem, ...]], ...] = (
    (
        "Developers",
        (
            NavItem("apps", "Applications", "/admin/apps", "apps"),
            NavItem("keys", "Signing keys", "/admin/keys", "key"),
        ),
    ),
    (
        "User management",
        (
            NavItem("users", "Users", "/admin/users", "users"),
            NavItem("organizations", "Organizations", "/admin/organizations", "building"),
            NavItem("roles", "Roles", "/admin/roles", "badge"),
            NavItem("sessions", "Sessions", "/admin/sessions", "monitor"),
        ),
    ),
    (
        "Activity",
        (
            NavItem("log", "Authentication log", "/admin/log", "activity"),
            NavItem("outbox", "Email outbox", "/admin/outbox", "mail"),
        ),
    ),
)


def when(moment: datetime | str | None) -> str:
    """``14 Mar 2025, 09:30 UTC``."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def ago(moment: datetime | None, now: datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 days ago``, ``in 10 min``, or the date."""
    if moment is None:
        return "never"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((now - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        label = f"{seconds // 60} min"
    elif seconds < 86400:
        label = f"{seconds // 3600} h"
    elif seconds < 31 * 86400:
        days = seconds // 86400
        label = f"{days} day{'s' if days != 1 else ''}"
    else:
        return moment.strftime("%d %b %Y")
    return f"in {label}" if future else f"{label} ago"


@dataclasses.dataclass(slots=True)
class Page:
    """One request to a dashboard page, by a signed-in administrator."""

    request: Request
    services: Services
    signed_in: SignedIn
    section: str
    form: FormData | None

    # -- input -------------------------------------------------------------------------------

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str:
        return str(self.request.query_params.get(name, ""))[:MAX_FIELD]

    def text(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value[:MAX_FIELD].strip() if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        """Every value of a repeated field (checkboxes)."""
        if self.form is None:
            return []
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    def lines(self, name: str) -> list[str]:
        """A textarea as a list: one entry per line, blank lines dropped."""
        return [line.strip() for line in self.text(name).splitlines() if line.strip()]

    def flag(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1", "yes")

    # -- output ------------------------------------------------------------------------------

    def render(
        self, template: str, context: dict[str, Any], *, status_code: int = 200
    ) -> HTMLResponse:
        now = self.services.clock.now()
        notice_cookie = names_of(self.request).admin_notice
        notice = read_signed(
            self.services.digester, "notice", self.request.cookies.get(notice_cookie)
        )
        settings = self.services.settings
        base: dict[str, Any] = {
            "nav": NAV,
            "section": self.section,
            "admin_email": self.signed_in.user.email,
            "admin_name": self.signed_in.user.name,
            "console_client_id": self.signed_in.console.client_id,
            "post_logout_uri": f"{settings.issuer}/admin",
            "environment": settings.environment.value,
            "issuer": settings.issuer,
            "csrf_token": csrf_token(self.request),
            "notice": notice.get("text") if notice else None,
            "when": when,
            "ago": functools.partial(ago, now=now),
        }
        response = render(self.request, template, {**base, **context}, status_code=status_code)
        if notice_cookie in self.request.cookies:
            delete_admin_cookie(self.request, response, notice_cookie)
        return response

    def redirect(self, path: str, notice: str | None = None) -> Response:
        """303 to a dashboard page (after a POST), with a one-time notice shown there."""
        response = RedirectResponse(path, status_code=303)
        if notice:
            value = sign_value(self.services.digester, "notice", {"text": notice[:300]})
            notice_cookie = names_of(self.request).admin_notice
            set_admin_cookie(self.request, response, notice_cookie, value, 120)
        return response

    def problem(
        self,
        title: str,
        message: str,
        *,
        status_code: int,
        back_url: str,
        back_label: str,
    ) -> HTMLResponse:
        return self.render(
            "admin/problem.html",
            {
                "title": title,
                "message": message,
                "back_url": back_url,
                "back_label": back_label,
                "status_code": status_code,
            },
            status_code=status_code,
        )


def _home(section: str) -> NavItem:
    for _, items in NAV:
        for item in items:
            if item.section == section:
                return item
    return NAV[0][1][0]


def admin_page(section: str) -> Callable[[Handler], Endpoint]:
    """Make ``handler(page)`` an endpoint that only signed-in administrators reach, and whose
    POSTs carry the form's CSRF token."""

    def wrap(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            gate = await sign_in_gate(request)
            if isinstance(gate, Response):
                return gate
            form = await request.form() if request.method == "POST" else None
            page = Page(request, services_of(request), gate, section, form)
            home = _home(section)
            if form is not None and not csrf_ok(request, form.get("csrf_token")):
                return page.problem(
                    "Please try again",
                    "This form was open too long or came from another site, so nothing was "
                    "changed. Go back, reload the page and submit it again.",
                    status_code=403,
                    back_url=home.href,
                    back_label=f"Back to {home.label.lower()}",
                )
            try:
                return await handler(page)
            except NotFound as err:
                return page.problem(
                    "Not found",
                    f"{err} It may have been deleted.",
                    status_code=404,
                    back_url=home.href,
                    back_label=f"Back to {home.label.lower()}",
                )

        return endpoint

    return wrap
