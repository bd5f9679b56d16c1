"""The signing keys page: a rotation while a key is still waiting to sign is confirmed first,
naming the key it supersedes, and only then made; the keys table scrolls by keyboard."""

from __future__ import annotations

import re
from html import unescape

from admin_helpers import AdminBrowser, hidden


def statuses(html: str) -> list[str]:
    return re.findall(r'class="key-status key-status--([a-z]+)"', html)


async def test_a_rotation_while_a_key_waits_asks_first_and_names_that_key(
    admin: AdminBrowser,
) -> None:
    """With a key waiting to sign, Rotate shows a confirmation (CSRF-protected, carrying the
    delay) that says the waiting key will never sign, and adds no key."""
    pending = await admin.services.keys.rotate(delay=600)
    page = await admin.post("/admin/keys/rotate", {"delay": "0"})
    text = unescape(page.text)
    assert 200 == page.status_code
    assert "<h1>Supersede the key waiting to sign?</h1>" in text
    assert f"Rotating now supersedes {pending.kid}: the newest rotation wins" in text
    assert "it will never sign" in text
    assert ("0", pending.kid, await admin.csrf()) == (
        hidden(page.text, "delay"),
        hidden(page.text, "supersede"),
        hidden(page.text, "csrf_token"),
    )
    assert 2 == len(await admin.services.keys.all())


async def test_the_confirmed_rotation_supersedes_the_waiting_key_and_says_so(
    admin: AdminBrowser,
) -> None:
    """Confirming rotates: the new key signs at once, the notice says the waiting key was
    superseded, and the table shows it as superseded and never signing."""
    pending = await admin.services.keys.rotate(delay=600)
    done = await admin.post("/admin/keys/rotate", {"delay": "0", "supersede": pending.kid})
    listing = await admin.follow(done)
    rotated = (await admin.services.keys.all())[0]
    assert rotated.kid == (await admin.services.keys.signing_key())[0]
    assert (
        f"Key {rotated.kid} was added; it starts signing now. "
        f"Key {pending.kid} was superseded: it will never sign."
    ) in unescape(listing.text)
    assert ["active", "superseded", "retired"] == statuses(listing.text)
    assert f"superseded by <code>{rotated.kid}</code>" in listing.text


async def test_a_confirmation_for_another_waiting_key_asks_again(admin: AdminBrowser) -> None:
    """A confirmation that named a different key (another rotation happened meanwhile) does
    not supersede the key waiting now: the page asks again, naming it."""
    first = await admin.services.keys.rotate(delay=600)
    second = await admin.services.keys.rotate(delay=600)
    again = await admin.post("/admin/keys/rotate", {"delay": "0", "supersede": first.kid})
    assert (200, second.kid) == (again.status_code, hidden(again.text, "supersede"))
    assert 3 == len(await admin.services.keys.all())


async def test_with_no_key_waiting_rotate_needs_no_confirmation(admin: AdminBrowser) -> None:
    """Nothing to supersede: Rotate adds the key straight away."""
    rotated = await admin.post("/admin/keys/rotate", {"delay": "600"})
    assert 303 == rotated.status_code
    assert ["next", "active"] == [k.status for k in await admin.services.keys.all()]


async def test_the_keys_page_warns_that_rotating_again_supersedes_the_waiting_key(
    admin: AdminBrowser,
) -> None:
    """While a key waits, the rotate form says rotating again supersedes it."""
    pending = await admin.services.keys.rotate(delay=600)
    page = await admin.get("/admin/keys")
    assert (
        f"Key <code>{pending.kid}</code> is waiting to sign from" in page.text
        and "Rotating again supersedes it" in page.text
    )


async def test_the_keys_table_is_a_focusable_scroll_region(admin: AdminBrowser) -> None:
    """The panel that scrolls the keys table sideways can take keyboard focus and is named
    (axe scrollable-region-focusable)."""
    page = await admin.get("/admin/keys")
    panel = re.search(r"<section ([^>]*)>\s*<table", page.text)
    assert panel is not None
    attributes = dict(re.findall(r'([a-z-]+)="([^"]*)"', panel.group(1)))
    assert {"class": "panel", "role": "region", "aria-label": "Signing keys", "tabindex": "0"} == (
        attributes
    )
