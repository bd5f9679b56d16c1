"""PostgreSQL ending the server's connections under load (``pg_terminate_backend``, as a restart,
a failover or an idle-connection killer does) costs no request a 500 and loses no write that was
acknowledged: two nodes on one database serve client_credentials grants, /userinfo bearer
checks and management API revocations while every connection is ended again and again; a
request answers, or says 503 with ``Retry-After``, and every revocation answered 204 holds on
both nodes afterwards."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from api_helpers import PASSWORD, Api, ManagementApp

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app

pytestmark = pytest.mark.postgres

LOAD_S = 4.0  # how long the load runs
KILL_EVERY_S = 0.5
TERMINATE_ALL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@contextlib.asynccontextmanager
async def _node(settings: Settings, clock: Any) -> AsyncIterator[Api]:
    services = build_services(settings, clock=clock)
    await prepare(services)
    # A server's view: an exception that escapes the app is the 500 the server would send.
    transport = httpx.ASGITransport(app=create_web_app(services), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=services.settings.issuer
        ) as client:
            yield Api(client, services)
    finally:
        await services.engine.dispose()


@dataclasses.dataclass(frozen=True)
class Revocable:
    """An app with two active secrets: the one its grants use, and another, to revoke."""

    app: ManagementApp
    secret_id: str
    secret: str


async def _revocables(api: Api, count: int) -> list[Revocable]:
    found = []
    for n in range(count):
        app = await api.register(f"Worker {n}", management=False)
        second = await api.services.apps.create_secret(app.app.id)
        found.append(Revocable(app, second.secret.id, second.value))
    return found


class Load:
    """Every answer of the load, and the revocations acknowledged."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, int]] = []
        self.unavailable: list[tuple[str, httpx.Response]] = []
        self.revoked: list[Revocable] = []
        self.kills = 0

    def note(self, what: str, response: httpx.Response) -> int:
        self.statuses.append((what, response.status_code))
        if response.status_code == 503:
            self.unavailable.append((what, response))
        return response.status_code


async def _grants(api: Api, app: ManagementApp, load: Load, until: float) -> None:
    while time.monotonic() < until:
        load.note("grant", await api.token_response(app))


async def _userinfo(api: Api, token: str, load: Load, until: float) -> None:
    while time.monotonic() < until:
        response = await api.client.get("/userinfo", headers={"authorization": f"Bearer {token}"})
        load.note("userinfo", response)


async def _revocations(api: Api, revocables: list[Revocable], load: Load, until: float) -> None:
    for one in revocables:
        if time.monotonic() >= until:
            return
        response = await api.delete(f"/applications/{one.app.app.id}/secrets/{one.secret_id}")
        if load.note("revoke", response) == 204:
            load.revoked.append(one)
        await asyncio.sleep(0)


async def _terminations(dsn: str, load: Load, until: float) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        while time.monotonic() < until:
            await asyncio.sleep(KILL_EVERY_S)
            load.kills += await admin.fetchval(TERMINATE_ALL)
    finally:
        await admin.close()


async def test_an_unreachable_database_is_a_503_in_each_endpoints_own_shape(
    postgres_url: str, make_settings: Callable[..., Settings], clock: Any, data_dir: Any
) -> None:
    """While PostgreSQL refuses connections, a token request, a bearer check, the management API
    and a page each answer 503 with Retry-After, in their own error shape; once it takes
    connections again, they answer as before."""
    settings = make_settings(OSTIARY_DATABASE_URL=postgres_url)
    dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")
    name = postgres_url.rsplit("/", 1)[1]
    async with _node(settings, clock) as node:
        app = await node.register("Back office")
        token = await node.token_for(app)
        await node.services.users.create("ada@example.com", password=PASSWORD)
        signed_in = await node.sign_in("ada@example.com")
        admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(TERMINATE_ALL.replace("current_database()", f"'{name}'"))
            await asyncio.sleep(0.1)  # the node sees its connections close
            answers = [
                await node.token_response(app),
                await node.client.get(
                    "/userinfo", headers={"authorization": f"Bearer {signed_in.access_token}"}
                ),
                await node.get("/users", token=token),
                await node.client.get("/oauth/authorize", params={"client_id": "nobody"}),
            ]
            shapes = [
                (
                    r.status_code,
                    r.headers.get("retry-after"),
                    r.headers["content-type"].split(";")[0],
                    _error_of(r)
                    if r.headers["content-type"].startswith("application/json")
                    else "page",
                )
                for r in answers
            ]
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        statuses_after = [
            (await node.token_response(app)).status_code,
            (await node.get("/users", token=token)).status_code,
        ]

    assert [
        (503, "1", "application/json", "temporarily_unavailable"),
        (503, "1", "application/json", "temporarily_unavailable"),
        (503, "1", "application/json", "unavailable"),
        (503, "1", "text/html", "page"),
    ] == shapes
    assert [200, 200] == statuses_after


async def test_two_nodes_answer_no_500_and_lose_no_revocation_while_connections_are_ended(
    postgres_url: str, make_settings: Callable[..., Settings], clock: Any, data_dir: Any
) -> None:
    """Under grants, bearer checks and revocations on two nodes, with every connection ended
    every half second: no 500, every 503 says when to come back, every 204 revocation holds."""
    settings = make_settings(OSTIARY_DATABASE_URL=postgres_url, OSTIARY_DB_POOL_SIZE="4")
    async with _node(settings, clock) as one, _node(settings, clock) as two:
        await one.services.users.create("ada@example.com", password=PASSWORD)
        signed_in = await one.sign_in("ada@example.com")
        grants_app = await one.register("Grants", management=False)
        revocables = await _revocables(one, 60)
        nodes = (one, two, one, two)
        await one.token()
        await two.token()
        load = Load()
        until = time.monotonic() + LOAD_S
        dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")
        await asyncio.gather(
            _terminations(dsn, load, until),
            *(_grants(node, grants_app, load, until) for node in (one, two)),
            *(_userinfo(node, signed_in.access_token, load, until) for node in (one, two)),
            *(_revocations(node, revocables[n::4], load, until) for n, node in enumerate(nodes)),
        )
        await asyncio.sleep(0.1)  # the nodes see the last ended connections close
        grants_after = [
            (await node.token_response(ManagementApp(r.app.app, r.secret))).status_code
            for node in (one, two)
            for r in load.revoked
        ]
        stored = {
            secret.id: secret.revoked_at is not None
            for r in load.revoked
            for secret in await one.services.apps.list_secrets(r.app.app.id)
        }

    print(f"{load.kills} connections ended; answers: {collections.Counter(load.statuses)}")
    assert load.kills > 0
    assert [] == [(w, s) for w, s in load.statuses if s not in (200, 204, 503)]
    assert load.revoked, "no revocation was acknowledged: the load proves nothing"
    # Refused: 401 invalid_client, or 429 once this address has used up its allowance of
    # failed client authentications (30: every revoked secret tried twice counts).
    assert 2 * len(load.revoked) == len(grants_after)
    assert [] == [status for status in grants_after if status not in (401, 429)]
    assert 401 == grants_after[0]
    assert [True] * len(load.revoked) == [stored[r.secret_id] for r in load.revoked]
    assert [] == [what for what, r in load.unavailable if r.headers.get("retry-after") != "1"]
    assert {_shape(what) for what, _ in load.unavailable} >= {
        (what, _error_of(r)) for what, r in load.unavailable
    }


def _shape(what: str) -> tuple[str, str]:
    """The error a 503 names: RFC 6749's code at OAuth endpoints, the API's own code there."""
    return (what, "unavailable" if what == "revoke" else "temporarily_unavailable")


def _error_of(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("error") or body.get("code"))
