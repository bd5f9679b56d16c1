"""/api/v1/sessions and /api/v1/users/{id}/sessions: read and revoke sign-in sessions, with
back-channel logout to the apps that took part."""

from __future__ import annotations

from typing import Any

from api_helpers import PASSWORD, Api

from ostiary.domain.sessions import SessionStatus


async def _signed_in_user(api: Api, email: str = "ada@example.com") -> dict[str, Any]:
    return await api.created("/users", {"email": email, "password": PASSWORD})


async def test_get_a_session(api: Api) -> None:
    """A session created by a browser sign-in is visible with its apps and status."""
    user = await _signed_in_user(api)
    signed_in = await api.sign_in("ada@example.com")
    session = await api.ok("GET", f"/sessions/{signed_in.session_id}")
    assert (user["id"], "active", [signed_in.app.app.client_id]) == (
        session["user_id"],
        session["status"],
        session["authenticated_clients"],
    )


async def test_list_a_users_sessions_page_by_page(api: Api) -> None:
    """Three browser sign-ins, two per page: two pages, total_size 3."""
    user = await _signed_in_user(api)
    app = await api.register("Web shop", redirect_uris=["https://web.example.com/callback"])
    sids = [(await api.sign_in("ada@example.com", app=app)).session_id for _ in range(3)]
    items, pages, total = await api.all_pages(f"/users/{user['id']}/sessions", "sessions")
    assert (sorted(sids), 2, 3) == ([s["id"] for s in items], pages, total)


async def test_revoke_one_session_sends_backchannel_logout(api: Api) -> None:
    """DELETE /sessions/{id}: the session is revoked, its refresh tokens die, its web app with a
    back-channel URI gets a logout notice queued."""
    await _signed_in_user(api)
    signed_in = await api.sign_in("ada@example.com")
    response = await api.delete(f"/sessions/{signed_in.session_id}")
    assert 204 == response.status_code
    session = await api.ok("GET", f"/sessions/{signed_in.session_id}")
    assert "revoked" == session["status"]
    deliveries = await api.services.backchannel.for_session(signed_in.session_id)
    assert [signed_in.app.app.client_id] == [d.client_id for d in deliveries]
    userinfo = await api.client.get(
        "/userinfo", headers={"authorization": f"Bearer {signed_in.access_token}"}
    )
    assert 401 == userinfo.status_code


async def test_revoke_all_of_a_users_sessions(api: Api) -> None:
    """DELETE /users/{id}/sessions ends every live session and says how many."""
    user = await _signed_in_user(api)
    other = await _signed_in_user(api, "grace@example.com")
    app = await api.register(
        "Web shop",
        redirect_uris=["https://web.example.com/callback"],
        backchannel_logout_uri="https://web.example.com/backchannel-logout",
    )
    first = await api.sign_in("ada@example.com", app=app)
    second = await api.sign_in("ada@example.com", app=app)
    kept = await api.sign_in("grace@example.com", app=app)
    answer = await api.ok("DELETE", f"/users/{user['id']}/sessions")
    assert {"revoked_count": 2} == answer
    statuses = [
        (await api.services.sessions.get(s.session_id)).status for s in (first, second, kept)
    ]
    assert [SessionStatus.REVOKED, SessionStatus.REVOKED, SessionStatus.ACTIVE] == statuses
    for signed_in in (first, second):
        assert 1 == len(await api.services.backchannel.for_session(signed_in.session_id))
    assert {"revoked_count": 0} == await api.ok("DELETE", f"/users/{user['id']}/sessions")
    assert other["id"] != user["id"]


async def test_unknown_sessions_and_users_are_404(api: Api) -> None:
    """An unknown session id, or the sessions of an unknown user: 404."""
    for method, path in [
        ("GET", "/sessions/ses_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("DELETE", "/sessions/ses_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("GET", "/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/sessions"),
        ("DELETE", "/users/usr_01ARZ3NDEKTSV4RRFFQ69G5FAV/sessions"),
    ]:
        response = await api.request(method, path)
        assert (404, "not_found") == (response.status_code, response.json()["code"]), path
