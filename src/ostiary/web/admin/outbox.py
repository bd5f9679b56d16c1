"""The email outbox: the latest messages, newest first. Without SMTP settings (development)
this is the only place they go, so each message's text and links can be opened here."""

from __future__ import annotations

import re

from starlette.responses import Response

from ostiary.domain.email import MessageStatus
from ostiary.web.admin.kit import Page, admin_page

__all__ = ["outbox"]

LIMIT = 50
LINK_RE = re.compile(r"https?://[^\s<>\"']+")
STATUSES = {
    MessageStatus.PENDING: "Waiting to be sent",
    MessageStatus.SENT: "Sent",
    MessageStatus.FAILED: "Not delivered",
    MessageStatus.KEPT: "Kept here",
}


@admin_page("outbox")
async def outbox(page: Page) -> Response:
    recipient = page.query("to").strip()
    messages = await page.services.email.recent(LIMIT, recipient or None)
    settings = page.services.settings
    return page.render(
        "admin/outbox.html",
        {
            "messages": [(m, LINK_RE.findall(m.text_body or "")) for m in messages],
            "recipient": recipient,
            "statuses": STATUSES,
            "smtp_host": settings.smtp_host if settings.smtp_configured else None,
            "limit": LIMIT,
        },
    )
