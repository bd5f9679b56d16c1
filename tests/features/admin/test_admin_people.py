"""Users, organizations, roles and sessions in the dashboard."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from admin_helpers import AdminBrowser, field_error

from ostiary.domain.sessions import Session, SessionStatus
from ostiary.services.errors import NotFound

BrowserFactory = Callable[[], Awaitable[AdminBrowser]]


async def test_create_a_user_then_see_their_details(admin: AdminBrowser) -> None:
    """The create form makes a user who can sign in with that password; the details page
    shows them; a bad email is explained next to its field."""
    refused = await admin.post(
        "/admin/users/new", {"email": "not-an-email", "password": "long enough pw"}
    )
    assert 400 == refused.status_code
    assert "is not a valid email address" in (field_error(refused.text, "email") or "")

    created = await admin.post(
        "/admin/users/new",
        {"email": "grace@example.com", "name": "Grace Hopper", "password": "long enough pw"},
    )
    page = await admin.follow(created)
    assert "grace@example.com was created." in page.text
    assert "Grace Hopper" in page.text
    user = await admin.services.users.get("grace@example.com")
    assert (
        user.id
        == (await admin.services.login.sign_in("grace@example.com", "long enough pw", None)).id
    )
    listing = await admin.get("/admin/users?q=grace")
    assert "grace@example.com" in listing.text
    assert "root@example.com" not in listing.text.split("<tbody>")[1]


async def test_deleting_a_user_asks_first_and_ends_their_sessions(
    admin: AdminBrowser, browser_for: BrowserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting a user shows a confirmation page that warns of their live session; confirming
    revokes the session (with back-channel logout) and deletes the account."""
    other = await browser_for()
    user = await other.user("grace@example.com")
    await other.sign_in("grace@example.com")  # a live session (403 page: not an admin)
    (session,) = await admin.services.sessions.for_user(user.id)

    confirm = await admin.get(f"/admin/users/{user.id}/delete")
    assert 200 == confirm.status_code
    assert "is signed in right now (1 live session)" in confirm.text

    ended: list[str] = []
    original_end = admin.services.sessions.end

    async def spy(ending: Session, status: SessionStatus) -> bool:
        ended.append(f"{ending.id} {status}")
        return await original_end(ending, status)

    monkeypatch.setattr(admin.services.sessions, "end", spy)
    done = await admin.post(f"/admin/users/{user.id}/delete")
    assert "grace@example.com was deleted." in (await admin.follow(done)).text
    assert [f"{session.id} revoked"] == ended
    with pytest.raises(NotFound):
        await admin.services.users.get(user.id)


async def test_an_admin_cannot_delete_themselves(admin: AdminBrowser) -> None:
    """The signed-in administrator's own account cannot be deleted from the dashboard."""
    me = await admin.services.users.get("root@example.com")
    refused = await admin.post(f"/admin/users/{me.id}/delete")
    assert 409 == refused.status_code
    assert "You cannot delete yourself" in refused.text


async def test_organization_members_are_added_changed_and_removed(admin: AdminBrowser) -> None:
    """An organization is created; a user is added by email with roles, their roles and
    status changed, then removed after a confirmation page; an unknown email is explained."""
    user = await admin.user("grace@example.com")
    created = await admin.post(
        "/admin/organizations/new", {"display_name": "Acme Corporation", "slug": ""}
    )
    (org,) = await admin.services.organizations.all()
    assert "acme-corporation" == org.slug
    assert "Acme Corporation was created." in (await admin.follow(created)).text

    unknown = await admin.post(
        f"/admin/organizations/{org.id}/members", {"email": "nobody@example.com"}
    )
    assert 400 == unknown.status_code
    assert "There is no user with the email nobody@example.com" in (
        field_error(unknown.text, "email") or ""
    )
    added = await admin.post(
        f"/admin/organizations/{org.id}/members",
        {"email": "grace@example.com", "roles": ["admin", "member"]},
    )
    assert 303 == added.status_code
    membership = await admin.services.organizations.membership(org.id, user.id)
    assert ("admin", "member") == membership.roles

    changed = await admin.post(
        f"/admin/organizations/{org.id}/members/{user.id}",
        {"roles": ["member"], "status": "suspended"},
    )
    assert 303 == changed.status_code
    membership = await admin.services.organizations.membership(org.id, user.id)
    assert (("member",), "suspended") == (membership.roles, membership.status.value)

    path = f"/admin/organizations/{org.id}/members/{user.id}/remove"
    confirm = await admin.get(path)
    assert "Remove grace@example.com from Acme Corporation?" in confirm.text
    await admin.post(path)
    assert [] == await admin.services.organizations.members(org.id)


async def test_roles_are_created_edited_and_deleted(admin: AdminBrowser) -> None:
    """A role is created with permissions and a role it extends, edited, and deleted after a
    confirmation page; a malformed permission is explained; built-in roles stay."""
    bad = await admin.post("/admin/roles/new", {"name": "billing", "permissions": "invoices"})
    assert 400 == bad.status_code
    assert "'invoices' is not a permission" in (field_error(bad.text, "permissions") or "")

    created = await admin.post(
        "/admin/roles/new",
        {
            "name": "billing",
            "display_name": "Billing",
            "permissions": "invoices:read, invoices:write",
            "extends": "member",
        },
    )
    assert 303 == created.status_code
    role = await admin.services.roles.get("billing")
    assert (("invoices:read", "invoices:write"), "member") == (role.permissions, role.extends)

    edited = await admin.post(
        f"/admin/roles/{role.id}",
        {"display_name": "Billing team", "permissions": "invoices:read", "extends": ""},
    )
    assert 303 == edited.status_code
    role = await admin.services.roles.get("billing")
    assert ("Billing team", ("invoices:read",), None) == (
        role.display_name,
        role.permissions,
        role.extends,
    )

    confirm = await admin.get(f"/admin/roles/{role.id}/delete")
    assert "Delete the role billing?" in confirm.text
    await admin.post(f"/admin/roles/{role.id}/delete")
    assert ["admin", "member"] == sorted(r.name for r in await admin.services.roles.all())
    member = await admin.services.roles.get("member")
    assert 409 == (await admin.post(f"/admin/roles/{member.id}/delete")).status_code


async def test_revoking_a_session_asks_first(
    admin: AdminBrowser, browser_for: BrowserFactory
) -> None:
    """The sessions page lists a user's live session; revoking it goes through a confirmation
    page and ends it; the admin returns to the page they came from."""
    other = await browser_for()
    user = await other.user("grace@example.com")
    await other.sign_in("grace@example.com")
    (session,) = await admin.services.sessions.for_user(user.id)
    listing = await admin.get("/admin/sessions")
    assert "grace@example.com" in listing.text
    assert "2 live sessions" in listing.text

    back = f"/admin/users/{user.id}"
    confirm = await admin.get(f"/admin/sessions/{session.id}/revoke?back={back}")
    assert "Revoke this session?" in confirm.text
    assert (await admin.services.sessions.get(session.id)).is_live(admin.services.clock.now())
    done = await admin.post(f"/admin/sessions/{session.id}/revoke", {"back": back})
    assert back == done.headers["location"]
    assert "The session of grace@example.com was revoked." in (await admin.follow(done)).text
    assert SessionStatus.REVOKED == (await admin.services.sessions.get(session.id)).status
    assert "grace@example.com" not in (await admin.get("/admin/sessions")).text


async def test_signing_keys_rotate_with_a_delay(admin: AdminBrowser) -> None:
    """Rotating adds a key that is published now and signs after the delay ("next"); a
    delay that is not a number is explained."""
    bad = await admin.post("/admin/keys/rotate", {"delay": "soon"})
    assert 400 == bad.status_code
    assert "Enter the delay in whole seconds" in bad.text
    rotated = await admin.post("/admin/keys/rotate", {"delay": "600"})
    assert "it starts signing in 600 seconds" in (await admin.follow(rotated)).text
    assert ["next", "active"] == [k.status for k in await admin.services.keys.all()]


async def test_a_one_second_delay_is_said_in_the_singular(admin: AdminBrowser) -> None:
    """Rotating with a delay of 1 says "in 1 second", not "in 1 seconds"."""
    rotated = await admin.post("/admin/keys/rotate", {"delay": "1"})
    page = (await admin.follow(rotated)).text
    notice = re.search(r'id="notice">.*?<p>(.*?)</p>', page, re.S)
    assert notice is not None
    assert notice.group(1).endswith("; it starts signing in 1 second.")


async def test_authentication_log_filters_by_event_and_pages(admin: AdminBrowser) -> None:
    """The log shows events newest first, filters by type and pages 50 at a time."""
    from ostiary.services.events import AuthEvent

    for n in range(55):
        await admin.services.events.record(
            AuthEvent.LOGIN_FAILED, email=f"guess{n:02d}@example.com", ip="203.0.113.9"
        )
    first = await admin.get("/admin/log?type=login_failed")
    assert 200 == first.status_code
    assert 50 == first.text.count("Sign-in failed</span>")
    assert "guess54@example.com" in first.text and "guess04@example.com" not in first.text
    older = first.text.split('href="/admin/log?before=')[1].split('"')[0].replace("&amp;", "&")
    second = await admin.get(f"/admin/log?before={older}")
    assert 5 == second.text.count("Sign-in failed</span>")
    assert "guess00@example.com" in second.text
    everything = await admin.get("/admin/log")
    assert 50 == everything.text.count("Sign-in failed</span>")


async def test_outbox_shows_kept_messages_with_their_links(admin: AdminBrowser) -> None:
    """Without SMTP the outbox keeps every message: the page lists it, shows its text and
    its links, and filters by recipient."""
    empty = await admin.get("/admin/outbox")
    assert "No messages yet" in empty.text
    assert "No SMTP server is configured" in empty.text

    await admin.user("grace@example.com")
    await admin.services.email_flows.request_password_reset(
        "grace@example.com", ip=None, txn_id=None
    )
    page = await admin.get("/admin/outbox")
    assert "Reset your password" in page.text
    assert "To grace@example.com" in page.text
    assert "Kept here" in page.text
    link = re.search(r'class="mail-link">([^<]+)<', page.text)
    assert link is not None
    assert link.group(1).startswith(f"{admin.services.settings.issuer}/ui/password/reset?token=")
    assert (
        "No messages to someone@example.com"
        in (await admin.get("/admin/outbox?to=someone@example.com")).text
    )
