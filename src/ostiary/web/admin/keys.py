"""Signing keys: every key with its status, and rotation with an activation delay. A rotation
made while a key is still waiting to sign supersedes that key (the newest rotation wins,
domain/keys.py), so the dashboard asks first, naming the key."""

from __future__ import annotations

from starlette.responses import Response

from ostiary.domain.wording import counted
from ostiary.services.keys import KeyInfo
from ostiary.web.admin.kit import Page, admin_page, when

__all__ = ["keys_list", "keys_rotate"]

MAX_DELAY = 30 * 86400
STATUS_HELP = {
    "next": "Published, signs after its activation time",
    "active": "Signs new tokens",
    "retired": "Published until the tokens it signed expire",
    "superseded": "Never signs: a later rotation replaced it before its time",
    "expired": "No longer published",
}


async def _page(
    page: Page, *, delay: str, error: str | None = None, status_code: int = 200
) -> Response:
    return page.render(
        "admin/keys.html",
        {
            "keys": await page.services.keys.all(),
            "pending": await page.services.keys.pending(),
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


def _starts(delay: int) -> str:
    return "now" if delay == 0 else f"in {counted(delay, 'second')}"


def _confirm_superseding(page: Page, delay: int, pending: list[KeyInfo]) -> Response:
    """The step before a rotation that supersedes a waiting key: what will happen to it."""
    kids = " ".join(key.kid for key in pending)
    waiting = " ".join(
        f"Key {key.kid} was published {when(key.created_at)} and waits to sign from "
        f"{when(key.activates_at)}."
        for key in pending
    )
    then = (
        "The new key is published and signs at once."
        if delay == 0
        else f"The new key is published at once and signs {_starts(delay)}; until then the "
        "key that signs now carries on."
    )
    return page.render(
        "admin/confirm.html",
        {
            "title": "Supersede the key waiting to sign?",
            "lede": waiting,
            "message": (
                f"Rotating now supersedes {kids}: the newest rotation wins, so it will never "
                f"sign. {then}"
            ),
            "warning": None,
            "action": "/admin/keys/rotate",
            "hidden": {"delay": str(delay), "supersede": kids},
            "button": "Rotate and supersede",
            "cancel_url": "/admin/keys",
            "crumbs": [("Signing keys", "/admin/keys")],
        },
    )


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
    pending = await page.services.keys.pending()
    confirmed = set(page.text("supersede").split())
    if pending and not {key.kid for key in pending} <= confirmed:
        return _confirm_superseding(page, delay, pending)
    rotated = await page.services.keys.rotate(delay)
    notice = f"Key {rotated.kid} was added; it starts signing {_starts(delay)}."
    for key in rotated.superseded:
        notice += f" Key {key.kid} was superseded: it will never sign."
    return page.redirect("/admin/keys", notice=notice)
