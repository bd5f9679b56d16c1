"""Revocation (RFC 7009) and introspection (RFC 7662) over HTTP."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from flow_helpers import AdvancingClock, FlowHelper, Tokens

from ostiary.services.bearer import LEEWAY


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


async def test_revoking_a_refresh_token_ends_its_whole_login(flow: FlowHelper) -> None:
    """Revoking a refresh token ends its family and the login's access token."""
    app = await flow.web()
    first = await flow.signed_in(app)
    rotated = Tokens(await flow.refresh(app, first.refresh_token))
    response = await flow.revoke(app, rotated.refresh_token)
    refresh_revoked = await flow.refresh(app, rotated.refresh_token)
    refresh_older = await flow.refresh(app, first.refresh_token)
    userinfo = await flow.userinfo(rotated.access_token)
    assert 200 == response.status_code
    assert (400, "invalid_grant") == _error(refresh_revoked)
    assert (400, "invalid_grant") == _error(refresh_older)
    assert 401 == userinfo.status_code


async def test_spa_can_revoke_its_own_refresh_token(flow: FlowHelper) -> None:
    """A public client revokes with its client_id only; the token stops working."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    response = await flow.revoke(app, tokens.refresh_token)
    after = await flow.refresh(app, tokens.refresh_token)
    assert 200 == response.status_code
    assert (400, "invalid_grant") == _error(after)


async def test_revoking_an_unknown_token_is_200(flow: FlowHelper) -> None:
    """An unknown token gets 200 and nothing else happens (RFC 7009 §2.2)."""
    app = await flow.web()
    response = await flow.revoke(app, "not-a-token-we-issued")
    assert (200, b"") == (response.status_code, response.content)


async def test_revoking_another_clients_token_is_200_and_harmless(flow: FlowHelper) -> None:
    """A SPA revoking the web app's refresh token gets 200, and the token still refreshes."""
    web, spa = await flow.web(), await flow.spa()
    tokens = await flow.signed_in(web)
    response = await flow.revoke(spa, tokens.refresh_token)
    refreshed = await flow.refresh(web, tokens.refresh_token)
    assert 200 == response.status_code
    assert 200 == refreshed.status_code


@pytest.mark.parametrize("hint", [None, "access_token", "refresh_token"])
async def test_a_revoked_access_token_is_refused_everywhere(
    flow: FlowHelper, hint: str | None
) -> None:
    """An access token its client revoked (any hint or none) is refused by userinfo and
    introspection; the login's refresh token still works and gives a working access token."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    assert 200 == (await flow.userinfo(tokens.access_token)).status_code
    fields = {} if hint is None else {"token_type_hint": hint}
    response = await flow.revoke(app, tokens.access_token, **fields)
    userinfo = await flow.userinfo(tokens.access_token)
    introspected = (await flow.introspect(app, tokens.access_token)).json()
    refreshed = Tokens(await flow.refresh(app, tokens.refresh_token))
    assert (200, b"") == (response.status_code, response.content)
    assert 401 == userinfo.status_code
    assert (
        'error_description="The access token has been revoked."'
        in (userinfo.headers["www-authenticate"])
    )
    assert {"active": False} == introspected
    assert 200 == (await flow.userinfo(refreshed.access_token)).status_code


async def test_revoking_an_access_token_twice_is_200(flow: FlowHelper) -> None:
    """Revoking an access token that is already revoked answers 200 again."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    first = await flow.revoke(app, tokens.access_token)
    second = await flow.revoke(app, tokens.access_token)
    assert (200, 200) == (first.status_code, second.status_code)
    assert 401 == (await flow.userinfo(tokens.access_token)).status_code


async def test_a_spa_revokes_its_own_access_token(flow: FlowHelper) -> None:
    """A public client revokes its access token with its client_id only."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    response = await flow.revoke(app, tokens.access_token)
    assert 200 == response.status_code
    assert 401 == (await flow.userinfo(tokens.access_token)).status_code


async def test_revoking_another_clients_access_token_is_200_and_harmless(
    flow: FlowHelper,
) -> None:
    """Only the client a token was issued to may revoke it: another gets 200, nothing else."""
    web, spa = await flow.web(), await flow.spa()
    tokens = await flow.signed_in(web)
    response = await flow.revoke(spa, tokens.access_token)
    assert 200 == response.status_code
    assert 200 == (await flow.userinfo(tokens.access_token)).status_code


async def test_revoked_access_tokens_are_forgotten_once_expired(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """The sweeper deletes a revoked access token's row once the token has expired."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    await flow.revoke(app, tokens.access_token)
    rows_before = await _revoked_rows(flow)
    await flow.services.backchannel.sweep_expired()
    rows_kept = await _revoked_rows(flow)
    clock.advance(flow.services.settings.access_token_ttl + LEEWAY + 1)
    await flow.services.backchannel.sweep_expired()
    assert (1, 1, 0) == (rows_before, rows_kept, await _revoked_rows(flow))


async def _revoked_rows(flow: FlowHelper) -> int:
    async with flow.services.engine.connect() as conn:
        count = await conn.scalar(sa.text("SELECT count(*) FROM revoked_access_tokens"))
    return int(count)


async def test_revoke_with_wrong_secret_is_401(flow: FlowHelper) -> None:
    """A web app revoking with a wrong secret gets 401 invalid_client, the token survives."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    response = await flow.client.post(
        "/oauth/revoke",
        data={"token": tokens.refresh_token},
        auth=(app.client_id, "sec_wrong"),
    )
    assert (401, "invalid_client") == _error(response)
    assert 200 == (await flow.refresh(app, tokens.refresh_token)).status_code


async def test_introspect_live_access_token(flow: FlowHelper) -> None:
    """A web app introspecting a live access token gets active, sub, client_id, scope, exp."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    _, claims = await flow.verify(tokens.access_token)
    response = await flow.introspect(app, tokens.access_token)
    body = response.json()
    assert 200 == response.status_code
    assert "no-store" == response.headers["cache-control"]
    assert (True, claims["sub"], app.client_id, claims["scope"], claims["exp"]) == (
        body["active"],
        body["sub"],
        body["client_id"],
        body["scope"],
        body["exp"],
    )


async def test_introspect_live_refresh_token(flow: FlowHelper) -> None:
    """A web app introspecting its live refresh token gets active, sub, client_id, scope."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    _, claims = await flow.verify(tokens.id_token)
    body = (await flow.introspect(app, tokens.refresh_token, auth="post")).json()
    assert (True, claims["sub"], app.client_id, "openid profile email offline_access") == (
        body["active"],
        body["sub"],
        body["client_id"],
        body["scope"],
    )
    assert body["exp"] > claims["iat"]


async def test_introspect_after_revoke_is_inactive(flow: FlowHelper) -> None:
    """After the refresh token is revoked, both it and the login's access token are inactive."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    await flow.revoke(app, tokens.refresh_token)
    access = (await flow.introspect(app, tokens.access_token)).json()
    refresh = (await flow.introspect(app, tokens.refresh_token)).json()
    assert ({"active": False}, {"active": False}) == (access, refresh)


async def test_introspect_rotated_refresh_token_is_inactive(flow: FlowHelper) -> None:
    """A refresh token that has been rotated introspects as inactive."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    await flow.refresh(app, tokens.refresh_token)
    body = (await flow.introspect(app, tokens.refresh_token)).json()
    assert {"active": False} == body


async def test_introspect_unknown_token_is_inactive(flow: FlowHelper) -> None:
    """An unknown token introspects as {"active": false}."""
    app = await flow.web()
    body = (await flow.introspect(app, "nothing-we-issued")).json()
    assert {"active": False} == body


async def test_spa_cannot_introspect(flow: FlowHelper) -> None:
    """A SPA (no secret) calling /oauth/introspect gets 401 invalid_client."""
    app = await flow.spa()
    tokens = await flow.signed_in(app)
    response = await flow.introspect(app, tokens.access_token)
    assert (401, "invalid_client") == _error(response)


async def test_another_client_cannot_introspect_an_access_token(flow: FlowHelper) -> None:
    """A web app introspecting an access token issued to another app learns nothing."""
    web, other = await flow.web(), await flow.web("Other")
    tokens = await flow.signed_in(web)
    body = (await flow.introspect(other, tokens.access_token)).json()
    assert {"active": False} == body


async def test_a_resource_server_allowed_to_introspect_all_tokens_can(flow: FlowHelper) -> None:
    """An app with introspect_all_tokens introspects another app's live access token."""
    web = await flow.web()
    api = await flow.web("Orders API", introspect_all_tokens=True)
    tokens = await flow.signed_in(web)
    body = (await flow.introspect(api, tokens.access_token)).json()
    assert (True, web.client_id) == (body["active"], body["client_id"])


async def test_introspect_all_tokens_does_not_reach_refresh_tokens(flow: FlowHelper) -> None:
    """Even an app allowed to introspect every access token cannot introspect another app's
    refresh token: those go to their client only."""
    web = await flow.web()
    api = await flow.web("Orders API", introspect_all_tokens=True)
    tokens = await flow.signed_in(web)
    body = (await flow.introspect(api, tokens.refresh_token)).json()
    assert {"active": False} == body
