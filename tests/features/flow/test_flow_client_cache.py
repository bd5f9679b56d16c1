"""On PostgreSQL, each worker keeps the clients it authenticated (no query per token request),
and a change made anywhere (another worker, the CLI, a hand-written UPDATE) reaches it through
PostgreSQL's notifications: a revoked secret or a deleted app is refused by every worker as soon
as the notification arrives, and while a worker cannot hear them it keeps nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.storage.changes import ChangeFeed
from ostiary.storage.db import PostgresEngine
from ostiary.web.app import create_web_app

pytestmark = pytest.mark.postgres

WAIT_S = 2.0  # a limit for things that happen within milliseconds, not a measurement


@dataclass
class Worker:
    services: Services
    client: httpx.AsyncClient
    fetches: list[str]

    @property
    def feed(self) -> ChangeFeed:
        engine = self.services.engine
        assert isinstance(engine, PostgresEngine)
        return engine.changes()

    async def client_credentials(self, client_id: str, secret: str) -> int:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        response = await self.client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"authorization": f"Basic {basic}"},
        )
        return response.status_code


async def _until(what: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not what():  # noqa: ASYNC110 - the condition is the feed's state, no event
            await asyncio.sleep(0.01)


@pytest.fixture
async def workers(
    postgres_url: str,
    data_dir: Path,
    make_settings: Callable[..., Settings],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Worker, Worker]]:
    """Two workers (services and web app each) on one PostgreSQL database, counting the
    prepared reads each makes."""
    made: list[Worker] = []
    fetches: dict[int, list[str]] = {}
    fetch = PostgresEngine.fetch

    async def counted(engine: PostgresEngine, prepared: Any, parameters: Any) -> Any:
        fetches.setdefault(id(engine), []).append(str(prepared.statement).split()[0])
        return await fetch(engine, prepared, parameters)

    monkeypatch.setattr(PostgresEngine, "fetch", counted)
    try:
        for _ in range(2):
            services = build_services(make_settings(DATABASE_URL=postgres_url), clock=clock)
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_web_app(services)),
                base_url=services.settings.issuer,
            )
            made.append(Worker(services, client, fetches.setdefault(id(services.engine), [])))
            await prepare(services)
        yield made[0], made[1]
    finally:
        for worker in made:
            await worker.client.aclose()
            await worker.services.engine.dispose()


async def _web_app(worker: Worker) -> tuple[str, str, str]:
    app, secret = await worker.services.apps.create(
        "Billing", "web", redirect_uris=["https://billing.example.com/callback"]
    )
    assert secret is not None
    return app.id, app.client_id, secret.value


async def _kept(worker: Worker, client_id: str, secret: str) -> None:
    """Authenticates until the worker's feed is live and the client is kept, then proves it:
    one more token request reads nothing from the database."""
    assert 200 == await worker.client_credentials(client_id, secret)
    await _until(lambda: worker.feed.live)
    assert 200 == await worker.client_credentials(client_id, secret)  # read, and kept
    worker.fetches.clear()
    assert 200 == await worker.client_credentials(client_id, secret)
    assert [] == worker.fetches


async def _by_hand(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _revoke_on_other_worker(a: Worker, app_id: str) -> None:
    (only,) = await a.services.apps.list_secrets(app_id)
    await a.services.apps.revoke_secret(app_id, only.id)


async def _delete_on_other_worker(a: Worker, app_id: str) -> None:
    await a.services.apps.delete(app_id)


def _update_by_hand(url: str) -> Callable[[Worker, str], Awaitable[None]]:
    async def run(_a: Worker, app_id: str) -> None:
        sql = f"UPDATE client_secrets SET revoked_at = now() WHERE app_id = '{app_id}'"
        await _by_hand(url, sql)

    return run


@pytest.mark.parametrize("change", ["revoke on another worker", "delete", "UPDATE by hand"])
async def test_a_change_anywhere_is_refused_by_a_worker_that_kept_the_client(
    workers: tuple[Worker, Worker], postgres_url: str, change: str
) -> None:
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)
    before = b.feed.generation

    make_change = {
        "revoke on another worker": _revoke_on_other_worker,
        "delete": _delete_on_other_worker,
        "UPDATE by hand": _update_by_hand(postgres_url),
    }[change]
    await make_change(a, app_id)
    await _until(lambda: b.feed.generation != before)  # the notification reached worker b

    assert 401 == await b.client_credentials(client_id, secret)
    assert 401 == await a.client_credentials(client_id, secret)


async def test_a_new_secret_works_on_every_worker_once_created(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)
    before = b.feed.generation
    second = await a.services.apps.create_secret(app_id)
    await _until(lambda: b.feed.generation != before)
    assert (200, 200) == (
        await b.client_credentials(client_id, second.value),
        await b.client_credentials(client_id, secret),
    )


async def test_a_worker_that_cannot_hear_changes_reads_every_time_and_listens_again(
    workers: tuple[Worker, Worker], postgres_url: str
) -> None:
    """The listening connection is cut: the worker keeps nothing, so a change that sends no
    notification at all (triggers disabled) is still refused; then the feed comes back."""
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)

    await _by_hand(
        postgres_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    await _until(lambda: not b.feed.live)
    await _by_hand(
        postgres_url,
        "ALTER TABLE client_secrets DISABLE TRIGGER client_secrets_changed; "
        f"UPDATE client_secrets SET revoked_at = now() WHERE app_id = '{app_id}'; "
        "ALTER TABLE client_secrets ENABLE TRIGGER client_secrets_changed",
    )
    b.fetches.clear()
    assert 401 == await b.client_credentials(client_id, secret)
    assert ["SELECT"] == b.fetches  # read from the database, not kept

    await _until(lambda: b.feed.live)  # a new listening connection, proven by a probe
    fresh = await a.services.apps.create_secret(app_id)
    await _kept(b, client_id, fresh.value)
