"""Guessing a client secret is throttled per (client_id, address) and per address: an OAuth
error with Retry-After, delays that grow, and never a refusal of the client's right secret."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import dataclasses

import httpx
from flow_helpers import AdvancingClock, FlowHelper, RegisteredApp

from ostiary.services.throttle import CLIENT_AUTH_IP, CLIENT_IP
from ostiary.web.app import create_web_app

CC = {"grant_type": "client_credentials"}
WRONG = "not-the-secret"


async def _guess(flow: FlowHelper, app: RegisteredApp, times: int) -> list[int]:
    return [(await flow.post_token(app, CC, secret=WRONG)).status_code for _ in range(times)]


def _retry_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


async def test_wrong_secrets_past_the_allowance_get_an_oauth_error_with_retry_after(
    flow: FlowHelper,
) -> None:
    """10 wrong secrets are 401 invalid_client; the 11th is 429 temporarily_unavailable with
    Retry-After and a description that says how long to wait."""
    app = await flow.web()
    statuses = await _guess(flow, app, CLIENT_IP.allowance)
    blocked = await flow.post_token(app, CC, secret=WRONG)
    seconds = _retry_after(blocked)
    assert [401] * CLIENT_IP.allowance == statuses
    assert (429, "temporarily_unavailable") == (blocked.status_code, blocked.json()["error"])
    assert f"Wait {seconds} second{'s' if seconds != 1 else ''}, then" in blocked.text


async def test_the_right_secret_is_accepted_while_wrong_ones_are_refused(
    flow: FlowHelper,
) -> None:
    """A block refuses wrong secrets only: the client's right secret still gets its token, so
    nobody who knows a client_id can lock the client out."""
    app = await flow.web()
    await _guess(flow, app, CLIENT_IP.allowance)
    refused = await flow.post_token(app, CC, secret=WRONG)
    accepted = await flow.post_token(app, CC)
    assert (429, 200) == (refused.status_code, accepted.status_code)


async def test_delays_grow_but_stay_at_most_fifteen_minutes(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """Each wrong secret after a block ends waits twice as long as the one before (while the
    address has attempts left: every refused guess counts on its allowance too), up to 15
    minutes; the right secret works throughout."""
    app = await flow.web()
    await _guess(flow, app, CLIENT_IP.allowance)
    waits = []
    for _ in range(9):  # 10 + 2 x 9 = 28 attempts, within the address's 30
        waits.append(_retry_after(await flow.post_token(app, CC, secret=WRONG)))
        clock.advance(waits[-1])
        await flow.post_token(app, CC, secret=WRONG)
    assert [2, 4, 8, 16, 32, 64, 128, 256, 512] == waits
    now = clock.now()
    schedule = [round((t - now).total_seconds()) for t in CLIENT_IP.block_times(now)]
    assert [*waits, 900] == schedule  # every count beyond the last waits the last: 900 s
    assert 200 == (await flow.post_token(app, CC)).status_code


async def test_a_guessing_address_does_not_block_the_client_elsewhere(flow: FlowHelper) -> None:
    """The client's own server, at another address, keeps getting tokens during the attack."""
    app = await flow.web()
    statuses = await _guess(flow, app, CLIENT_AUTH_IP.allowance + 1)
    transport = httpx.ASGITransport(app=create_web_app(flow.services), client=("192.0.2.8", 1))
    async with httpx.AsyncClient(transport=transport, base_url=flow.issuer) as client:
        elsewhere = FlowHelper(client, flow.services)
        assert 200 == (await elsewhere.post_token(app, CC)).status_code
    assert 429 == statuses[-1]


async def test_revocation_and_introspection_share_the_block(flow: FlowHelper) -> None:
    """Guessing at the token endpoint blocks wrong secrets of the same client at /oauth/revoke
    and /oauth/introspect too (429 with Retry-After)."""
    app = await flow.web()
    await _guess(flow, app, CLIENT_IP.allowance)
    guessed = dataclasses.replace(app, secret=WRONG)
    revoke = await flow.revoke(guessed, "some-token")
    introspect = await flow.introspect(guessed, "some-token")
    assert (429, 429) == (revoke.status_code, introspect.status_code)
    assert "retry-after" in introspect.headers
