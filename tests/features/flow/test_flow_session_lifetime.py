"""Refresh tokens belong to the shared session (SPEC §3.2, §4): they live while it lives, keep it
alive while used, and die with it."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from flow_helpers import EMAIL, PASSWORD, AdvancingClock, FlowHelper, Tokens

DAY = 86400


async def test_refresh_fails_after_the_session_idle_timeout(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """After 7 idle days the refresh token is invalid_grant and login is needed again."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    clock.advance(7 * DAY + 1)
    response = await flow.refresh(app, tokens.refresh_token)
    attempt = await flow.start(app)
    assert (400, "invalid_grant") == (response.status_code, response.json()["error"])
    assert "/ui/login" == attempt.response.headers["location"].split("?", 1)[0]


async def test_refreshing_keeps_the_session_alive(flow: FlowHelper, clock: AdvancingClock) -> None:
    """Refreshing every 6 days keeps the session past its 7-day idle timeout."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    statuses = []
    for _ in range(3):
        clock.advance(6 * DAY)
        response = await flow.refresh(app, tokens.refresh_token)
        statuses.append(response.status_code)
        tokens = Tokens(response)
    assert [200, 200, 200] == statuses


async def test_refresh_fails_at_the_absolute_session_lifetime(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """Even refreshed every 6 days, the session ends after 30 days and so does the token."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    for _ in range(4):
        clock.advance(6 * DAY)
        tokens = Tokens(await flow.refresh(app, tokens.refresh_token))
    clock.advance(6 * DAY)
    response = await flow.refresh(app, tokens.refresh_token)
    assert (400, "invalid_grant") == (response.status_code, response.json()["error"])


async def test_refreshed_id_token_keeps_the_original_auth_time(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """A refreshed ID token has a new iat and the login's auth_time (OIDC Core §12.2)."""
    app = await flow.web()
    first = await flow.signed_in(app)
    clock.advance(3600)
    second = Tokens(await flow.refresh(app, first.refresh_token))
    _, before = await flow.verify(first.id_token)
    _, after = await flow.verify(second.id_token)
    assert (before["auth_time"], before["iat"] + 3600) == (after["auth_time"], after["iat"])
    assert (before["sub"], before["aud"], before["azp"]) == (
        after["sub"],
        after["aud"],
        after["azp"],
    )


async def test_another_user_signing_in_ends_the_first_users_session(flow: FlowHelper) -> None:
    """A second user signing up in the same browser ends the first user's session."""
    web, spa = await flow.web(), await flow.spa()
    first = await flow.signed_in(web)
    attempt = await flow.start(spa, extra={"prompt": "login"})
    login = await flow.open_form(attempt.response)
    signup = await flow.open_form(f"/ui/signup?txn={login.txn}")
    response = await flow.client.post(
        "/ui/signup",
        data={
            "txn": signup.txn,
            "csrf_token": signup.csrf_token,
            "email": "grace@example.com",
            "password": PASSWORD,
            "name": "Grace",
        },
    )
    second = await flow.tokens(flow.back_at_app(attempt, response))
    _, claims = await flow.verify(second.id_token)
    refreshed = await flow.refresh(web, first.refresh_token)
    userinfo = await flow.userinfo(first.access_token)
    assert (await flow.services.users.get("grace@example.com")).id == claims["sub"]
    assert (await flow.services.users.get(EMAIL)).id != claims["sub"]
    assert (400, 401) == (refreshed.status_code, userinfo.status_code)


async def test_a_burst_of_refreshes_records_the_sessions_activity_once_a_minute(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """Refreshes extend the idle timeout, writing the session at most once a minute (as the
    session cookie does): the idle expiry moves after 61 s, not after 10 s."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    claims = await flow.services.bearer.verify(tokens.access_token)
    sid = claims["sid"]
    before = (await flow.services.sessions.get(sid)).idle_expires_at
    clock.advance(10)
    tokens = Tokens(await flow.refresh(app, tokens.refresh_token))
    after_burst = (await flow.services.sessions.get(sid)).idle_expires_at
    clock.advance(61)
    Tokens(await flow.refresh(app, tokens.refresh_token))
    after_minute = (await flow.services.sessions.get(sid)).idle_expires_at
    assert before == after_burst
    assert after_minute is not None and before is not None
    assert 71 == (after_minute - before).total_seconds()
