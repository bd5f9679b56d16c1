"""Session lifetimes (SPEC §2, §4): an app's access-token lifetime must be shorter than the
session idle timeout (service and CLI refuse it with a clear message), and
OSTIARY_SESSION_IDLE_TIMEOUT=0 turns idle expiry off (the absolute expiry still applies)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from logout_helpers import Harness, Receiver, cli_json, run_cli
from tests.support.cli import error_lines

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.domain.sessions import SessionStatus
from ostiary.services.errors import InvalidInput
from ostiary.web.app import create_web_app

DAY = 86400
IDLE = 7 * DAY
TTL_MESSAGE = (
    "The access-token lifetime (604800 s) must be shorter than the session idle timeout (604800 s)."
)


@pytest.mark.parametrize("ttl", [IDLE, IDLE + 1])
async def test_service_refuses_access_token_ttl_not_below_idle_timeout(
    harness: Harness, ttl: int
) -> None:
    """apps.update with access_token_ttl >= idle timeout: InvalidInput naming both values;
    the stored app is unchanged."""
    web = await harness.web()
    with pytest.raises(InvalidInput) as refused:
        await harness.services.apps.update(web.client_id, access_token_ttl=ttl)
    assert ("access_token_ttl", "ttl_exceeds_idle_timeout") == (
        refused.value.field,
        refused.value.rule,
    )
    assert (
        f"The access-token lifetime ({ttl} s) must be shorter than the session idle timeout "
        f"({IDLE} s)." == str(refused.value)
    )
    assert None is (await harness.services.apps.get(web.client_id)).access_token_ttl


async def test_service_refuses_it_at_creation_too(harness: Harness) -> None:
    """apps.create with access_token_ttl = idle timeout is refused the same way."""
    with pytest.raises(InvalidInput) as refused:
        await harness.web(access_token_ttl=IDLE)
    assert TTL_MESSAGE == str(refused.value)


async def test_a_ttl_just_below_idle_timeout_is_accepted(harness: Harness) -> None:
    """access_token_ttl = idle timeout - 1 s is allowed (strictly shorter)."""
    web = await harness.web()
    updated = await harness.services.apps.update(web.client_id, access_token_ttl=IDLE - 1)
    assert IDLE - 1 == updated.access_token_ttl


async def test_cli_refuses_access_token_ttl_not_below_idle_timeout(harness: Harness) -> None:
    """`ostiary apps update ID --access-token-ttl 604800` exits 1 with the message; unchanged."""
    settings = harness.services.settings
    web = await harness.web()
    done = await run_cli(settings, "apps", "update", web.client_id, "--access-token-ttl", str(IDLE))
    assert (1, "") == (done.returncode, done.stdout)
    assert [f"ostiary: error: {TTL_MESSAGE}"] == error_lines(done.stderr)
    shown = await cli_json(settings, "apps", "show", web.client_id)
    assert None is shown["access_token_ttl"]


@pytest.fixture
async def no_idle(
    make_settings: Callable[..., Settings], clock: object, receiver: Receiver
) -> AsyncIterator[Harness]:
    """Services started with OSTIARY_SESSION_IDLE_TIMEOUT=0."""
    services = build_services(make_settings(SESSION_IDLE_TIMEOUT="0"), clock=clock)  # type: ignore[arg-type]
    await prepare(services)
    harness = Harness(services, create_web_app(services), clock, receiver)
    try:
        yield harness
    finally:
        await harness.aclose()
        await services.backchannel.close()
        await services.engine.dispose()


async def test_idle_timeout_zero_means_no_idle_expiry(no_idle: Harness) -> None:
    """Idle 0: the session has no idle expiry, survives 29 silent days (refresh works, the
    sweeper leaves it), and still ends at its absolute expiry (30 days)."""
    h = no_idle
    web = await h.web()
    await h.user()
    tokens = await h.sign_in(h.browser, web)
    sid = await h.sid_of(tokens)
    assert None is (await h.session(sid)).idle_expires_at
    h.clock.advance(29 * DAY)
    assert 0 == await h.services.backchannel.sweep_expired()
    refreshed = await h.refresh(web, tokens.refresh_token)
    assert 200 == refreshed.status_code, refreshed.text
    session = await h.session(sid)
    assert (SessionStatus.ACTIVE, None) == (session.status, session.idle_expires_at)
    h.clock.advance(DAY)
    assert 1 == await h.services.backchannel.sweep_expired()
    assert SessionStatus.EXPIRED == (await h.session(sid)).status
    again = await h.refresh(web, refreshed.json()["refresh_token"])
    assert (400, "invalid_grant") == (again.status_code, again.json()["error"])


async def test_idle_timeout_zero_still_caps_access_token_ttl(no_idle: Harness) -> None:
    """Idle 0: an app may not ask for access tokens longer than a day."""
    with pytest.raises(InvalidInput) as refused:
        await no_idle.web(access_token_ttl=DAY + 1)
    assert "access_token_ttl" == refused.value.field
