"""Back-channel logout (OIDC Back-Channel Logout 1.0, SPEC §3.3 and §4) to a REAL HTTP endpoint
on 127.0.0.1: one form POST per web app of the session with a verifiable logout token, durable
retries after 5 s, 30 s, 2 min, 5 min, 15 min (FakeClock), give-up, and survival of a restart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from logout_helpers import WEB_BYE, Harness, RegisteredApp, Tokens

import ostiary.storage.sessions
from ostiary.bootstrap import build_services, prepare
from ostiary.domain.sessions import DeliveryStatus, SessionStatus
from ostiary.protocol.jose import verify_jwt
from ostiary.protocol.logout import RETRY_DELAYS

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "sub", "sid", "events"}


async def _signed_in(h: Harness) -> tuple[RegisteredApp, Tokens, str]:
    web = await h.web()
    await h.user()
    tokens = await h.sign_in(h.browser, web)
    return web, tokens, await h.sid_of(tokens)


async def _log_out(h: Harness, tokens: Tokens) -> None:
    response = await h.browser.get(
        "/oidc/logout",
        params={"id_token_hint": tokens.id_token, "post_logout_redirect_uri": WEB_BYE},
    )
    assert 303 == response.status_code, response.text


async def test_logout_posts_one_verifiable_logout_token(harness: Harness) -> None:
    """After logout + run_once the receiver got exactly one form POST whose logout_token verifies
    against /keys: typ logout+jwt; iss, aud, sub, sid, events, jti, iat, exp = iat + 120; no
    nonce. The SPA of the same session gets nothing."""
    h = harness
    web, tokens, sid = await _signed_in(h)
    spa = await h.spa()
    await h.sign_in(h.browser, spa)
    user = await h.services.users.get("ada@example.com")
    await _log_out(h, tokens)
    assert [] == h.receiver.received  # ending the session never waits for the apps
    await h.services.backchannel.run_once()
    (received,) = h.receiver.received
    assert "/bcl" == received.path
    assert "application/x-www-form-urlencoded" == received.content_type.split(";")[0]
    assert ["logout_token"] == list(received.form)
    header, claims = await h.verify(received.logout_token)
    now = int(h.clock.now().timestamp())
    assert "logout+jwt" == header["typ"]
    assert "RS256" == header["alg"]
    assert LOGOUT_TOKEN_CLAIMS == set(claims)
    assert "nonce" not in claims
    assert h.issuer == claims["iss"]
    assert web.client_id == claims["aud"]
    assert user.id == claims["sub"]
    assert sid == claims["sid"]
    assert {BACKCHANNEL_EVENT: {}} == claims["events"]
    assert (now, now + 120) == (claims["iat"], claims["exp"])
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    (delivery,) = await h.deliveries(sid)
    assert (web.client_id, DeliveryStatus.DELIVERED, 1) == (
        delivery.client_id,
        delivery.status,
        delivery.attempts,
    )
    await h.services.backchannel.run_once()
    assert 1 == len(h.receiver.received)  # delivered once, never again


async def test_a_back_channel_uri_with_a_query_gets_the_post_there(harness: Harness) -> None:
    """A web app registers '<redirect_uri>?logout=backchannel' (mod_auth_openidc's form, allowed by
    Back-Channel Logout 1.0 §2.2): the logout token is POSTed to that URL, query included."""
    h = harness
    web = await h.web(backchannel_logout_uri=f"{h.receiver.url}?logout=backchannel")
    await h.user()
    tokens = await h.sign_in(h.browser, web)
    await _log_out(h, tokens)
    await h.services.backchannel.run_once()
    (received,) = h.receiver.received
    assert "/bcl?logout=backchannel" == received.path
    _, claims = await h.verify(received.logout_token)
    assert web.client_id == claims["aud"]


async def test_every_web_app_with_a_uri_gets_its_own_token(harness: Harness) -> None:
    """Two web apps with a back-channel URI and one without, all in one session: exactly two
    POSTs, one per app (aud = that app), with different jti; none for the third."""
    h = harness
    first, tokens, sid = await _signed_in(h)
    second = await h.web("Second web")
    silent = await h.web("No back-channel", backchannel=False)
    await h.sign_in(h.browser, second)
    await h.sign_in(h.browser, silent)
    await _log_out(h, tokens)
    await h.services.backchannel.run_once()
    claims = [(await h.verify(token))[1] for token in h.receiver.tokens()]
    assert {first.client_id, second.client_id} == {c["aud"] for c in claims}
    assert 2 == len(claims)
    assert 2 == len({c["jti"] for c in claims})
    assert {sid} == {c["sid"] for c in claims}
    assert {first.client_id, second.client_id} == {d.client_id for d in await h.deliveries(sid)}


async def test_an_app_that_never_signed_in_is_not_told(harness: Harness) -> None:
    """A web app with a back-channel URI that did not take part in the session: no POST."""
    h = harness
    _, tokens, sid = await _signed_in(h)
    await h.web("Bystander")
    await _log_out(h, tokens)
    await h.services.backchannel.run_once()
    assert 1 == len(h.receiver.received)
    assert 1 == len(await h.deliveries(sid))


async def test_receiver_down_then_retried_after_five_seconds(harness: Harness) -> None:
    """Nothing listening: the first attempt is recorded as failed and the next is due 5 s later
    (not at 4 s); with the receiver up at +5 s it is delivered; attempts show False, True."""
    h = harness
    h.receiver.stop()
    _, tokens, sid = await _signed_in(h)
    await _log_out(h, tokens)
    logged_out_at = h.clock.now()
    await h.services.backchannel.run_once()
    (delivery,) = await h.deliveries(sid)
    assert (DeliveryStatus.PENDING, 1) == (delivery.status, delivery.attempts)
    assert logged_out_at + timedelta(seconds=5) == delivery.next_attempt_at
    assert delivery.last_error is not None and "Connect" in delivery.last_error
    h.receiver.start()
    h.clock.advance(4)
    assert 0 == await h.services.backchannel.deliver_due()
    assert [] == h.receiver.received
    h.clock.advance(1)
    assert 1 == await h.services.backchannel.deliver_due()
    assert 1 == len(h.receiver.received)
    (delivery,) = await h.deliveries(sid)
    assert (DeliveryStatus.DELIVERED, 2) == (delivery.status, delivery.attempts)
    attempts = await h.attempts(delivery.id)
    assert [False, True] == [a["ok"] for a in attempts]
    assert [None, 200] == [a["status_code"] for a in attempts]
    assert [logged_out_at, logged_out_at + timedelta(seconds=5)] == [
        a["attempted_at"] for a in attempts
    ]


async def test_http_500_is_a_failed_attempt_and_retried(harness: Harness) -> None:
    """An app answering 500 counts as a failure (status 500 recorded) and is retried at +5 s."""
    h = harness
    h.receiver.status = 500
    _, tokens, sid = await _signed_in(h)
    await _log_out(h, tokens)
    await h.services.backchannel.run_once()
    h.receiver.status = 200
    h.clock.advance(5)
    await h.services.backchannel.deliver_due()
    (delivery,) = await h.deliveries(sid)
    attempts = await h.attempts(delivery.id)
    assert [(False, 500), (True, 200)] == [(a["ok"], a["status_code"]) for a in attempts]
    assert DeliveryStatus.DELIVERED == delivery.status
    assert 2 == len(h.receiver.received)


async def test_gives_up_after_the_retry_schedule(harness: Harness) -> None:
    """Always 500: six attempts, the waits between them 5, 30, 120, 300, 900 s (nothing a second
    early), then status failed and no further attempt even an hour later."""
    h = harness
    h.receiver.status = 500
    _, tokens, sid = await _signed_in(h)
    await _log_out(h, tokens)
    backchannel = h.services.backchannel
    assert 0 == await backchannel.deliver_due()  # the first attempt fails
    waits = []
    for delay in RETRY_DELAYS:
        (delivery,) = await h.deliveries(sid)
        assert DeliveryStatus.PENDING == delivery.status
        waits.append(int((delivery.next_attempt_at - h.clock.now()).total_seconds()))
        h.clock.advance(delay - 1)
        await backchannel.deliver_due()
        assert delivery.attempts == (await h.deliveries(sid))[0].attempts  # not due yet
        h.clock.advance(1)
        await backchannel.deliver_due()
    assert list(RETRY_DELAYS) == waits
    (delivery,) = await h.deliveries(sid)
    assert (DeliveryStatus.FAILED, 6) == (delivery.status, delivery.attempts)
    h.clock.advance(3600)
    await backchannel.run_once()
    assert 6 == len(h.receiver.received)
    assert [False] * 6 == [a["ok"] for a in await h.attempts(delivery.id)]
    assert SessionStatus.LOGGED_OUT == (await h.session(sid)).status


async def test_pending_delivery_survives_a_restart(harness: Harness) -> None:
    """Receiver down, one failed attempt; the services are thrown away; NEW services on the same
    database file deliver it once the receiver is up (attempts False, True)."""
    h = harness
    h.receiver.stop()
    _, tokens, sid = await _signed_in(h)
    await _log_out(h, tokens)
    await h.services.backchannel.run_once()
    settings = h.services.settings
    await h.services.backchannel.close()
    await h.services.engine.dispose()

    h.receiver.start()
    h.clock.advance(5)
    restarted = build_services(settings, clock=h.clock)
    try:
        await prepare(restarted)
        await restarted.backchannel.run_once()
        (delivery,) = await restarted.backchannel.for_session(sid)
        attempts = await restarted.backchannel._deliveries.attempts(delivery.id)
        jwks = await restarted.keys.jwks()
    finally:
        await restarted.backchannel.close()
        await restarted.engine.dispose()
    assert 1 == len(h.receiver.received)
    assert (DeliveryStatus.DELIVERED, 2) == (delivery.status, delivery.attempts)
    assert [False, True] == [a["ok"] for a in attempts]
    claims = verify_jwt(h.receiver.tokens()[0], jwks, ["RS256"]).claims
    assert sid == claims["sid"]


async def test_a_failure_while_queueing_the_notice_keeps_the_session_alive(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ending the session and queueing its notice are one transaction: when queueing fails the
    session stays active (nothing half-done), and a retried logout tells the web app."""
    h = harness
    _, tokens, sid = await _signed_in(h)

    async def failing(conn: object, deliveries: object) -> None:
        raise RuntimeError("database connection lost")

    monkeypatch.setattr(ostiary.storage.sessions, "insert_deliveries", failing)
    with pytest.raises(RuntimeError):
        await _log_out(h, tokens)
    assert SessionStatus.ACTIVE == (await h.session(sid)).status
    monkeypatch.undo()
    await _log_out(h, tokens)  # the user tries again
    assert SessionStatus.LOGGED_OUT == (await h.session(sid)).status
    await h.services.backchannel.deliver_due()
    assert 1 == len(h.receiver.received)
