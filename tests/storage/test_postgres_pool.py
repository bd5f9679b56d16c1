"""PostgreSQL connections are handed out first come, first served: when more requests want one
than the pool holds, none is passed over (a passed-over request is the slow tail of a busy
server), and a wait that never ends becomes a clear error instead of a hang."""

from __future__ import annotations

import asyncio
import itertools

import asyncpg
import pytest
import sqlalchemy as sa

from ostiary.storage import db
from ostiary.storage.prepared import Prepared

pytestmark = pytest.mark.postgres


async def test_waiting_requests_get_connections_in_the_order_they_asked(postgres_url: str) -> None:
    engine = db.create_engine(postgres_url, pool_size=3)
    asked, served = itertools.count(), itertools.count()
    checkouts: list[tuple[int, int]] = []

    async def warm() -> None:  # open the pool's connections first: opening takes varying time
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
            await asyncio.sleep(0.05)

    async def request() -> None:  # like a refresh: read, write, read, one after another
        for blocks in (engine.connect, engine.begin, engine.connect):
            ask = next(asked)
            async with blocks() as conn:
                checkouts.append((ask, next(served)))
                await conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.gather(*(warm() for _ in range(3)))
        await asyncio.gather(*(request() for _ in range(40)))
    finally:
        await engine.dispose()

    assert len(checkouts) == 120
    passed_over = [
        (ask, ask_later)
        for ask, got in checkouts
        for ask_later, got_later in checkouts
        if ask < ask_later and got_later < got
    ]
    assert passed_over == []


async def test_a_wait_longer_than_the_limit_is_an_error_naming_the_pool_size(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "POOL_WAIT_S", 0.2)
    engine = db.create_engine(postgres_url, pool_size=1)
    try:
        async with engine.connect() as held:
            await held.execute(sa.text("SELECT 1"))
            with pytest.raises(sa.exc.TimeoutError, match="OSTIARY_DB_POOL_SIZE=1"):
                async with engine.begin():
                    pass
        async with engine.begin() as conn:  # the place is free again once released
            assert await conn.scalar(sa.text("SELECT 2")) == 2
    finally:
        await engine.dispose()


QUERY = Prepared(sa.select(sa.bindparam("x", type_=sa.Integer).label("one")))


async def test_prepared_reads_recover_when_the_server_drops_the_connections(
    postgres_url: str,
) -> None:
    """After the server ends every connection (a restart, a failover), the read that meets a
    dead connection fails, and the next one works on a fresh connection: dead idle ones are
    not handed out one failed request at a time."""
    engine = db.create_engine(postgres_url, pool_size=3)
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    try:

        async def read() -> int:
            rows = await engine.fetch(QUERY, {"x": 1})
            await asyncio.sleep(0.02)  # hold the connection, so that three get opened
            return int(rows[0].one)

        assert [1, 1, 1] == await asyncio.gather(read(), read(), read())
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        with pytest.raises(Exception):  # noqa: B017 - whichever error the lost connection gives
            await read()
        assert 1 == await read()
        assert 1 == await read()
    finally:
        await admin.close()
        await engine.dispose()


async def _connections_to(admin: asyncpg.Connection) -> int:
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return count


async def test_connections_kept_for_reads_never_starve_a_transaction(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prepared reads keep their connections checked out between turns; a write or a read
    through SQLAlchemy that comes next still gets one of the pool's, at once."""
    monkeypatch.setattr(db, "POOL_WAIT_S", 1)
    engine = db.create_engine(postgres_url, pool_size=2)
    try:

        async def read() -> int:
            rows = await engine.fetch(QUERY, {"x": 1})
            await asyncio.sleep(0.02)  # hold the connection, so that both get opened
            return int(rows[0].one)

        assert [1, 1] == await asyncio.gather(read(), read())
        async with engine.begin() as conn:
            assert await conn.scalar(sa.text("SELECT 2")) == 2
        async with engine.connect() as first, engine.connect() as second:
            assert await first.scalar(sa.text("SELECT 3")) == 3
            assert await second.scalar(sa.text("SELECT 4")) == 4
        assert [1, 1] == await asyncio.gather(read(), read())
    finally:
        await engine.dispose()


async def test_dispose_closes_the_connections_kept_for_reads(postgres_url: str) -> None:
    """Shutting down (or a test's clean-up) leaves no connection open on the server."""
    engine = db.create_engine(postgres_url, pool_size=3)
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for _ in range(3):
            assert (await engine.fetch(QUERY, {"x": 1}))[0].one == 1
        assert await _connections_to(admin) == 1
        await engine.dispose()
        assert await _connections_to(admin) == 0
    finally:
        await admin.close()
        await engine.dispose()
