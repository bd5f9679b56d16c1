"""Signing keys: every key with its status, and rotation with an activation delay."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.domain.wording import counted
from ostiary.web.admin.kit import Page, admin_page

__all__ = ["keys_list", "keys_rotate"]

MAX_DELAY = 30 * 86400
STATUS_HELP = {
    "next": "Published, signs after its activation time",
    "active": "Signs new tokens",
    "retired": "Published until the tokens it signed expire",
    "expired": "No longer published",
}


async def _page(
    page: Page, *, delay: str, error: str | None = None, status_code: int = 200
) -> Response:
    return page.render(
        "admin/keys.html",
        {
            "keys": await page.services.keys.all(),
            "status_help": STATUS_HELP,
            "delay": delay,
            "error": error,
            "algorithm": page.services.settings.signing_algorithm,
        },
        status_code=status_code,
    )


@admin_page("keys")
async def keys_list(page: Page) -> Response:
    return await _page(page, delay=str(page.services.settings.key_activation_delay))


@admin_page("keys")
async def keys_rotate(page: Page) -> Response:
    text = page.text("delay")
    try:
        delay = int(text)
    except ValueError:
        delay = -1
    if not 0 <= delay <= MAX_DELAY:
        return await _page(
            page,
            delay=text,
            error=f"Enter the delay in whole seconds, from 0 to {MAX_DELAY}.",
            status_code=400,
        )
    key = await page.services.keys.rotate(delay)
    when = "now" if delay == 0 else f"in {counted(delay, 'second')}"
    return page.redirect(
        "/admin/keys", notice=f"Key {key.kid} was added; it starts signing {when}."
    )
