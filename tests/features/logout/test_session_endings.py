"""Every way a session ends has the effects of a logout (SPEC §3.2, §4): refresh and access
tokens of every app die, and web apps get a back-channel notice — when an admin revokes the
session (service and CLI), when the user is deleted (service and CLI), and when the session
passes its idle (7 days) or absolute (30 days) expiry."""

from __future__ import annotations

import dataclasses

from logout_helpers import (
    EMAIL,
    OTHER_EMAIL,
    SAFARI_IPHONE,
    Harness,
    RegisteredApp,
    Tokens,
    cli_json,
    run_cli,
)
from tests.support.cli import error_lines

from ostiary.domain.sessions import DeliveryStatus, SessionStatus

DAY = 86400
IDLE = 7 * DAY
ABSOLUTE = 30 * DAY


@dataclasses.dataclass
class SignedIn:
    web: RegisteredApp
    spa: RegisteredApp
    web_tokens: Tokens
    spa_tokens: Tokens
    sid: str
    user_id: str


async def _web_and_spa(h: Harness) -> SignedIn:
    web, spa = await h.web(), await h.spa()
    user = await h.user()
    web_tokens = await h.sign_in(h.browser, web)
    spa_tokens = await h.sign_in(h.browser, spa)
    return SignedIn(web, spa, web_tokens, spa_tokens, await h.sid_of(web_tokens), user.id)


async def _assert_tokens_dead(h: Harness, s: SignedIn) -> None:
    """Refresh is invalid_grant and the access token is refused at /userinfo, for both apps."""
    for app, tokens in ((s.web, s.web_tokens), (s.spa, s.spa_tokens)):
        refreshed = await h.refresh(app, tokens.refresh_token)
        assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
        assert 401 == (await h.userinfo(tokens.access_token)).status_code


async def _assert_notified(h: Harness, s: SignedIn) -> None:
    """Exactly one logout token reached the receiver: for the web app, this user and session."""
    (token,) = h.receiver.tokens()
    _, claims = await h.verify(token)
    assert (s.web.client_id, s.user_id, s.sid) == (claims["aud"], claims["sub"], claims["sid"])


async def _assert_login_page_again(h: Harness, s: SignedIn) -> None:
    again, _ = await h.authorize(h.browser, s.web)
    assert (303, "/ui/login") == (again.status_code, again.headers["location"].split("?")[0])


# -- an administrator revokes the session ------------------------------------------------------


async def test_admin_revoke_through_the_service(harness: Harness) -> None:
    """logout.revoke_session: status revoked, both apps' tokens dead, the web app notified,
    the browser sees the login page again."""
    h = harness
    s = await _web_and_spa(h)
    await h.services.logout.revoke_session(s.sid)
    assert SessionStatus.REVOKED == (await h.session(s.sid)).status
    await _assert_tokens_dead(h, s)
    await h.services.backchannel.run_once()
    await _assert_notified(h, s)
    await _assert_login_page_again(h, s)


async def test_admin_revoke_through_the_cli(harness: Harness) -> None:
    """`ostiary sessions revoke ID --json` (a real subprocess on the same database): revoked,
    one notice queued and delivered by the command itself, tokens dead, listed as revoked."""
    h = harness
    s = await _web_and_spa(h)
    settings = h.services.settings
    listed = await cli_json(settings, "sessions", "list", "--user", EMAIL)
    assert [(s.sid, "active", [s.web.client_id, s.spa.client_id])] == [
        (row["id"], row["status"], row["apps"]) for row in listed
    ]
    result = await cli_json(settings, "sessions", "revoke", s.sid)
    assert {"revoked": s.sid, "backchannel_notices": 1, "delivered_now": 1} == result
    assert SessionStatus.REVOKED == (await h.session(s.sid)).status
    await _assert_notified(h, s)
    await _assert_tokens_dead(h, s)
    assert [] == await cli_json(settings, "sessions", "list", "--user", EMAIL)
    ended = await cli_json(settings, "sessions", "list", "--user", EMAIL, "--all")
    assert [(s.sid, "revoked")] == [(row["id"], row["status"]) for row in ended]


async def test_cli_revoke_of_an_unknown_session_fails_cleanly(harness: Harness) -> None:
    """`sessions revoke` of a session that does not exist: exit 1, one-line message."""
    done = await run_cli(harness.services.settings, "sessions", "revoke", "ses_nope", "--json")
    assert (1, "") == (done.returncode, done.stdout)
    assert ["ostiary: error: No session 'ses_nope'."] == error_lines(done.stderr)


async def test_revoking_twice_sends_one_notice(harness: Harness) -> None:
    """Revoking an ended session changes nothing and queues no second notice."""
    h = harness
    s = await _web_and_spa(h)
    await h.services.logout.revoke_session(s.sid)
    await h.services.logout.revoke_session(s.sid)
    await h.services.backchannel.run_once()
    assert 1 == len(await h.deliveries(s.sid))
    await _assert_notified(h, s)


# -- the user is deleted -----------------------------------------------------------------------


async def test_deleting_the_user_ends_every_session(harness: Harness) -> None:
    """logout.delete_user with two browsers signed in: both sessions' tokens dead, one notice
    per session, the user gone."""
    h = harness
    s = await _web_and_spa(h)
    phone = h.new_browser(SAFARI_IPHONE)
    phone_tokens = await h.sign_in(phone, s.web)
    phone_sid = await h.sid_of(phone_tokens)
    user = await h.services.users.get(EMAIL)
    assert 2 == await h.services.logout.delete_user(user)
    await _assert_tokens_dead(h, s)
    refreshed = await h.refresh(s.web, phone_tokens.refresh_token)
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
    await h.services.backchannel.run_once()
    claims = [(await h.verify(t))[1] for t in h.receiver.tokens()]
    assert {(s.sid, s.user_id), (phone_sid, s.user_id)} == {(c["sid"], c["sub"]) for c in claims}
    assert 2 == len(claims)
    assert [] == [u.email for u in await h.services.users.all() if u.email == EMAIL]


async def test_deleting_the_user_through_the_cli(harness: Harness) -> None:
    """`ostiary users delete EMAIL --json`: sessions_ended 1, the notice delivered by the
    command, the app's tokens dead; another user's session untouched."""
    h = harness
    s = await _web_and_spa(h)
    await h.user(OTHER_EMAIL)
    other = h.new_browser()
    other_tokens = await h.sign_in(other, s.web, email=OTHER_EMAIL)
    result = await cli_json(h.services.settings, "users", "delete", EMAIL)
    assert {"deleted": s.user_id, "email": EMAIL, "sessions_ended": 1} == result
    await _assert_notified(h, s)
    await _assert_tokens_dead(h, s)
    refreshed = await h.refresh(s.web, other_tokens.refresh_token)
    assert 200 == refreshed.status_code, refreshed.text


# -- idle expiry -------------------------------------------------------------------------------


async def test_idle_expiry_kills_refresh_before_the_sweeper(harness: Harness) -> None:
    """7 days + 1 s of silence: a refresh fails at once (no sweeper run); the sweeper then leaves
    the session expired with exactly one notice queued, which is delivered."""
    h = harness
    s = await _web_and_spa(h)
    h.clock.advance(IDLE + 1)
    await _assert_tokens_dead(h, s)
    await h.services.backchannel.sweep_expired()
    assert SessionStatus.EXPIRED == (await h.session(s.sid)).status
    (delivery,) = await h.deliveries(s.sid)
    assert (s.web.client_id, DeliveryStatus.PENDING) == (delivery.client_id, delivery.status)
    await h.services.backchannel.deliver_due()
    await _assert_notified(h, s)
    await _assert_login_page_again(h, s)


async def test_sweeper_expires_an_idle_session(harness: Harness) -> None:
    """With nobody calling, sweep_expired ends the idle session (1) and queues the notice."""
    h = harness
    s = await _web_and_spa(h)
    h.clock.advance(IDLE - 1)
    assert 0 == await h.services.backchannel.sweep_expired()
    assert SessionStatus.ACTIVE == (await h.session(s.sid)).status
    h.clock.advance(2)
    assert 1 == await h.services.backchannel.sweep_expired()
    assert SessionStatus.EXPIRED == (await h.session(s.sid)).status
    await h.services.backchannel.deliver_due()
    await _assert_notified(h, s)
    await _assert_tokens_dead(h, s)


async def test_refresh_extends_idle_expiry(harness: Harness) -> None:
    """A refresh 1 s before the idle expiry works and pushes it 7 days on from then."""
    h = harness
    s = await _web_and_spa(h)
    h.clock.advance(IDLE - 1)
    refreshed = await h.refresh(s.web, s.web_tokens.refresh_token)
    assert 200 == refreshed.status_code, refreshed.text
    session = await h.session(s.sid)
    assert h.clock.now().timestamp() + IDLE == session.idle_expires_at.timestamp()
    h.clock.advance(IDLE - 1)
    again = await h.refresh(s.web, refreshed.json()["refresh_token"])
    assert 200 == again.status_code, again.text


# -- absolute expiry ---------------------------------------------------------------------------


async def test_absolute_expiry_even_when_refreshed_daily(harness: Harness) -> None:
    """Refreshing every day keeps the session alive until day 30, never past it: idle expiry is
    capped at the absolute expiry, a refresh 1 s after it fails, the sweeper expires it and the
    web app is told."""
    h = harness
    s = await _web_and_spa(h)
    started = h.clock.now().timestamp()
    refresh_token = s.web_tokens.refresh_token
    for _ in range(29):
        h.clock.advance(DAY)
        refreshed = await h.refresh(s.web, refresh_token)
        assert 200 == refreshed.status_code, refreshed.text
        refresh_token = refreshed.json()["refresh_token"]
    session = await h.session(s.sid)
    assert started + ABSOLUTE == session.absolute_expires_at.timestamp()
    assert session.absolute_expires_at == session.idle_expires_at
    h.clock.advance(DAY + 1)  # 30 days + 1 s after sign-in
    refreshed = await h.refresh(s.web, refresh_token)
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
    await h.services.backchannel.sweep_expired()
    assert SessionStatus.EXPIRED == (await h.session(s.sid)).status
    await h.services.backchannel.deliver_due()
    await _assert_notified(h, s)
    await _assert_login_page_again(h, s)
