"""The authentication log in the dashboard: every sign-in and sign-out is a row that says who,
through which app, and from which address."""

from __future__ import annotations

import re
from html import unescape

from admin_helpers import ADMIN_EMAIL, AdminBrowser, hidden

from ostiary.domain.apps import App

CALLBACK = "https://billing.example.com/callback"
IP = "127.0.0.1"  # httpx's in-process transport reports this client address


async def billing_app(admin: AdminBrowser) -> tuple[App, str]:
    app, secret = await admin.services.apps.create("Billing portal", "web")
    assert secret is not None
    app = await admin.services.apps.update(app.id, redirect_uris=[CALLBACK])
    return app, secret.value


def log_rows(html: str) -> list[list[str]]:
    """The log table's rows as lists of cell texts (tags stripped, spaces collapsed)."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        rows.append([" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells])
    return rows


async def test_a_second_app_signed_in_from_the_shared_session_is_logged(
    admin: AdminBrowser,
) -> None:
    """An app that gets a code from the existing session (no login page) writes its own event,
    with the user, the app, the session and the IP, and the log shows it by the app's name."""
    app, secret = await billing_app(admin)
    await admin.refresh_token_for(app, secret, CALLBACK)

    events = await admin.services.events.recent(type_="login_session_reused")
    assert 1 == len(events)
    (event,) = events
    admin_user = await admin.services.users.get(ADMIN_EMAIL)
    sessions = await admin.services.sessions.for_user(admin_user.id)
    expected = (admin_user.id, app.client_id, sessions[0].id, IP)
    assert expected == (event["user_id"], event["client_id"], event["session_id"], event["ip"])

    page = await admin.get("/admin/log?type=login_session_reused")
    assert 200 == page.status_code
    (row,) = log_rows(page.text)
    assert ["Sign-in by shared session", ADMIN_EMAIL, "Billing portal", IP] == row[1:5]


async def test_a_sign_out_through_an_app_is_logged_with_the_app_and_the_ip(
    admin: AdminBrowser,
) -> None:
    """Signing out through an app's logout request (confirmed on Ostiary's page) writes a
    sign-out row that shows the user's email (not their id), the app and the IP."""
    app, _ = await billing_app(admin)
    confirm = await admin.client.get("/oidc/logout", params={"client_id": app.client_id})
    assert 200 == confirm.status_code
    done = await admin.client.post(
        "/oidc/logout",
        data={
            "client_id": app.client_id,
            "csrf_token": hidden(confirm.text, "csrf_token"),
            "confirm": "yes",
        },
    )
    assert 200 == done.status_code, done.text[:500]
    (event,) = await admin.services.events.recent(type_="logout")
    assert (app.client_id, IP) == (event["client_id"], event["ip"])

    signed_in = await admin.sign_in()
    assert 200 == signed_in.status_code
    page = await admin.get("/admin/log?type=logout")
    (row,) = log_rows(page.text)
    assert ["Sign-out", ADMIN_EMAIL, "Billing portal", IP] == row[1:5]


async def test_an_administrators_revocation_is_logged_with_their_ip(admin: AdminBrowser) -> None:
    """Revoking a session from the dashboard writes a revocation row with the user's email and
    the administrator's IP."""
    member = await admin.user("grace@example.com")
    other = await admin.services.sessions.create(
        member.id, amr=("pwd",), user_agent="test", ip="203.0.113.9"
    )
    revoked = await admin.post(f"/admin/sessions/{other[0].id}/revoke")
    assert 303 == revoked.status_code, revoked.text[:500]
    page = await admin.get("/admin/log?type=session_revoked")
    (row,) = log_rows(page.text)
    assert ["Session revoked", "grace@example.com", "—", IP] == row[1:5]
