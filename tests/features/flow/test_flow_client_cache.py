"""Each worker keeps the clients it authenticated (no query for the client per token request),
and a change made anywhere (another worker, the CLI, a hand-written UPDATE) reaches it: on
PostgreSQL through its notifications, so a revoked secret or a deleted app is refused as soon as
the notification arrives; on SQLite through a counter that triggers move, which a worker reads
at most once per turn of its event loop, so the next request is refused, with no wait at all.
While a worker cannot hear changes (a lost listening connection, a missing trigger), it keeps
nothing."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
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
from ostiary.storage.apps import AppStore
from ostiary.storage.changes import Changes, CountedChanges
from ostiary.storage.db import PostgresEngine
from ostiary.storage.sqlite_inline import SQLiteDatabase
from ostiary.web.app import create_web_app

WAIT_S = 2.0  # a limit for things that happen within milliseconds, not a measurement


@dataclass
class Worker:
    services: Services
    client: httpx.AsyncClient
    fetches: list[str]

    @property
    def feed(self) -> Changes:
        return self.services.engine.changes()

    async def client_credentials(self, client_id: str, secret: str) -> int:
        # A request that comes over a connection is handled at a later turn of the event loop
        # than whatever happened before it arrived; one made in-process by ASGITransport, in
        # the turn it is made. A turn passes first, so that it is a request like the others.
        await asyncio.sleep(0)
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
    database_url: str,
    data_dir: Path,
    make_settings: Callable[..., Settings],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Worker, Worker]]:
    """Two workers (services and web app each, with connections of their own) on one database,
    counting the prepared reads each makes."""
    made: list[Worker] = []
    fetches: dict[int, list[str]] = {}
    for engine_class in (PostgresEngine, SQLiteDatabase):

        async def counted(
            engine: Any, prepared: Any, parameters: Any, fetch: Any = engine_class.fetch
        ) -> Any:
            fetches.setdefault(id(engine), []).append(str(prepared.statement).split()[0])
            return await fetch(engine, prepared, parameters)

        monkeypatch.setattr(engine_class, "fetch", counted)
    try:
        for _ in range(2):
            services = build_services(make_settings(DATABASE_URL=database_url), clock=clock)
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
    """Authenticates until a token request reads nothing from the database: the client is
    kept. The first request also notes the secret's use, a write, which the worker hears like
    any other change (on PostgreSQL, a notification that may come after the next request)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            worker.fetches.clear()
            assert 200 == await worker.client_credentials(client_id, secret)
            if not worker.fetches:
                return
            await asyncio.sleep(0.01)


async def _by_hand(url: str, sql: str) -> None:
    """``sql`` on a connection of its own, as from psql or the sqlite3 shell."""
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.split(":///", 1)[1])) as conn:
            conn.executescript(sql)
        return
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _heard(worker: Worker, before: int) -> None:
    """On PostgreSQL, waits for the notification of a change to reach ``worker``. On SQLite
    there is nothing to wait for: the next request reads the counter."""
    if isinstance(worker.services.engine, PostgresEngine):
        await _until(lambda: worker.feed.generation != before)


async def _revoke_on_other_worker(a: Worker, app_id: str) -> None:
    (only,) = await a.services.apps.list_secrets(app_id)
    await a.services.apps.revoke_secret(app_id, only.id)


async def _delete_on_other_worker(a: Worker, app_id: str) -> None:
    await a.services.apps.delete(app_id)


async def _revoke_by_hand(url: str, app_id: str) -> None:
    """Every secret of the app revoked by a hand-written UPDATE."""
    now = "datetime('now')" if url.startswith("sqlite") else "now()"
    await _by_hand(url, f"UPDATE client_secrets SET revoked_at = {now} WHERE app_id = '{app_id}'")


def _update_by_hand(url: str) -> Callable[[Worker, str], Awaitable[None]]:
    async def run(_a: Worker, app_id: str) -> None:
        await _revoke_by_hand(url, app_id)

    return run


@pytest.mark.parametrize("change", ["revoke on another worker", "delete", "UPDATE by hand"])
async def test_a_change_anywhere_is_refused_by_a_worker_that_kept_the_client(
    workers: tuple[Worker, Worker], database_url: str, change: str
) -> None:
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)
    before = b.feed.generation

    make_change = {
        "revoke on another worker": _revoke_on_other_worker,
        "delete": _delete_on_other_worker,
        "UPDATE by hand": _update_by_hand(database_url),
    }[change]
    await make_change(a, app_id)
    await _heard(b, before)

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
    await _heard(b, before)
    assert (200, 200) == (
        await b.client_credentials(client_id, second.value),
        await b.client_credentials(client_id, secret),
    )


ON_POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@ON_POSTGRES
async def test_a_worker_that_cannot_hear_changes_reads_every_time_and_listens_again(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """PostgreSQL: the listening connection is cut. The worker keeps nothing, so a change that
    sends no notification at all (triggers disabled) is still refused; then the feed comes
    back."""
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)

    await _by_hand(
        database_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    )
    await _until(lambda: not b.feed.live)
    await _by_hand(
        database_url,
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


@ON_SQLITE
async def test_while_a_trigger_is_missing_a_worker_reads_every_time_and_keeps_again_after(
    workers: tuple[Worker, Worker], database_url: str
) -> None:
    """SQLite: with a trigger dropped, the counter no longer hears every change. A revocation
    that moves no counter is still refused; with the trigger back, clients are kept again."""
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)

    await _by_hand(database_url, "DROP TRIGGER client_secrets_changed_update")
    await _revoke_by_hand(database_url, app_id)
    b.fetches.clear()
    assert 401 == await b.client_credentials(client_id, secret)
    assert ["SELECT"] == b.fetches  # read from the database, not kept
    assert not b.feed.live

    await _by_hand(
        database_url,
        "CREATE TRIGGER client_secrets_changed_update AFTER UPDATE ON client_secrets BEGIN "
        "UPDATE change_counters SET counter = counter + 1 WHERE name = 'apps'; END",
    )
    fresh = await a.services.apps.create_secret(app_id)
    await _kept(b, client_id, fresh.value)


@ON_SQLITE
async def test_requests_in_one_turn_of_the_loop_share_one_read_of_the_counter(
    workers: tuple[Worker, Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter is read once per turn of the event loop, not once per request; a request
    that starts at a later turn reads it again."""
    a, b = workers
    _app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)
    feed = b.feed
    assert isinstance(feed, CountedChanges)
    reads: list[object] = []
    counter = feed._read

    async def counted() -> tuple[int, ...] | None:
        reads.append(found := await counter())
        return found

    monkeypatch.setattr(feed, "_read", counted)
    apps = b.services.apps
    assert (await apps.identify_client(client_id, secret)) == (
        await apps.identify_client(client_id, secret)
    )
    assert 1 == len(reads)
    await asyncio.sleep(0)
    await apps.identify_client(client_id, secret)
    assert 2 == len(reads)


@pytest.mark.parametrize("change", ["revoke", "delete"])
async def test_a_change_a_worker_makes_itself_holds_for_its_next_read_in_the_same_turn(
    workers: tuple[Worker, Worker], change: str
) -> None:
    """No turn passes between the change and the next client authentication (nor, on
    PostgreSQL, time for the notification): the worker dropped what it kept at the commit."""
    a, b = workers
    app_id, client_id, secret = await _web_app(a)
    await _kept(b, client_id, secret)
    apps = b.services.apps
    assert (await apps.identify_client(client_id, secret))[1]
    if change == "revoke":
        (only,) = await apps.list_secrets(app_id)
        await apps.revoke_secret(app_id, only.id)
        assert not (await apps.identify_client(client_id, secret))[1]
    else:
        await apps.delete(app_id)
        assert (None, False) == await apps.identify_client(client_id, secret)


async def test_a_burst_of_requests_notes_a_secrets_use_once(
    workers: tuple[Worker, Worker], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests that all read the secret before its use was written (on PostgreSQL, every read
    suspends the request) write ``last_used_at`` once, not once each."""
    a, b = workers
    _app_id, client_id, secret = await _web_app(a)
    noted: list[str] = []
    note = AppStore.note_secret_use

    async def counted(store: AppStore, secret_id: str, *args: Any) -> None:
        noted.append(secret_id)
        await note(store, secret_id, *args)

    monkeypatch.setattr(AppStore, "note_secret_use", counted)
    burst = await asyncio.gather(
        *(b.services.apps.identify_client(client_id, secret) for _ in range(5))
    )
    assert [True] * 5 == [ok for _app, ok in burst]
    assert 1 == len(noted)
