"""An access token revoked at one node (RFC 7009) is refused at once by every other node on the
same database: the revocation lives in the database, and each node's cache of verified
signatures does not keep a revoked token alive."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from flow_helpers import FlowHelper

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.web.app import create_web_app


@pytest.fixture
async def nodes(
    database_url: str, data_dir: Path, make_settings: Callable[..., Settings], clock: Clock
) -> AsyncIterator[tuple[FlowHelper, FlowHelper]]:
    """Two nodes (services, web app and connections of their own) on one database: the same
    SQLite file, or the same PostgreSQL database."""
    made: list[FlowHelper] = []
    try:
        for _ in range(2):
            services = build_services(make_settings(DATABASE_URL=database_url), clock=clock)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_web_app(services)),
                base_url=services.settings.issuer,
            )
            made.append(FlowHelper(client, services))
            await prepare(services)
        yield made[0], made[1]
    finally:
        for node in made:
            await node.client.aclose()
            await node.services.engine.dispose()


async def test_an_access_token_revoked_at_one_node_is_refused_at_the_other(
    nodes: tuple[FlowHelper, FlowHelper],
) -> None:
    """Node B accepts the token (and keeps its verified signature), node A revokes it, node B
    refuses it at userinfo and at introspection on the next request."""
    a, b = nodes
    app = await a.web()
    tokens = await a.signed_in(app)
    before = await b.userinfo(tokens.access_token)
    revoked = await a.revoke(app, tokens.access_token, token_type_hint="access_token")
    after = await b.userinfo(tokens.access_token)
    introspected = (await b.introspect(app, tokens.access_token)).json()
    assert (200, 200, 401) == (before.status_code, revoked.status_code, after.status_code)
    assert {"active": False} == introspected
