"""PostgreSQL connections are handed out first come, first served: when more requests want one
than the pool holds, none is passed over (a passed-over request is the slow tail of a busy
server), and a wait that never ends becomes a clear error instead of a hang."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import asyncpg
import pytest
import sqlalchemy as sa

from ostiary.storage import db
from ostiary.storage.connection_loss import DatabaseUnavailable
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
    """A request that waits past the limit for a free connection gets DatabaseUnavailable (a
    503 with Retry-After), never a 500; the message names the pool size."""
    monkeypatch.setattr(db, "POOL_WAIT_S", 0.2)
    engine = db.create_engine(postgres_url, pool_size=1)
    try:
        async with engine.connect() as held:
            await held.execute(sa.text("SELECT 1"))
            with pytest.raises(DatabaseUnavailable, match="OSTIARY_DB_POOL_SIZE=1"):
                async with engine.begin():
                    pass
        async with engine.begin() as conn:  # the place is free again once released
            assert await conn.scalar(sa.text("SELECT 2")) == 2
    finally:
        await engine.dispose()


QUERY = Prepared(sa.select(sa.bindparam("x", type_=sa.Integer).label("one")))


TERMINATE_ALL = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
PID = Prepared(sa.select(sa.func.pg_backend_pid().label("pid")))
SLEEP = Prepared(sa.select(sa.func.pg_sleep(sa.bindparam("s", type_=sa.Float)).label("slept")))


def _admin_dsn(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+asyncpg", "postgresql")


async def test_reads_after_the_server_drops_the_connections_are_read_again(
    postgres_url: str,
) -> None:
    """After the server ends every connection (a restart, a failover), reads made at once,
    before the driver has seen the connections close, still answer: each is read again on a
    fresh connection."""
    engine = db.create_engine(postgres_url, pool_size=3)
    admin = await asyncpg.connect(_admin_dsn(postgres_url))
    try:

        async def read() -> int:
            rows = await engine.fetch(QUERY, {"x": 1})
            await asyncio.sleep(0.02)  # hold the connection, so that three get opened
            return int(rows[0].one)

        async def read_through_sqlalchemy() -> int:
            async with engine.connect() as conn:
                return int(await conn.scalar(sa.select(sa.literal(2))))

        assert [1, 1, 1] == await asyncio.gather(read(), read(), read())
        assert 2 == await read_through_sqlalchemy()
        for _ in range(2):
            await admin.execute(TERMINATE_ALL)
            assert [1, 2, 1] == [await read(), await read_through_sqlalchemy(), await read()]
    finally:
        await admin.close()
        await engine.dispose()


async def test_a_write_whose_connection_is_lost_is_unavailable_and_the_next_one_works(
    postgres_url: str,
) -> None:
    """A transaction whose connection ends before COMMIT is a DatabaseUnavailable (answered
    503), never another error; the broken connection does not go back to the pool, so the
    next transaction on a pool of one works."""
    engine = db.create_engine(postgres_url, pool_size=1)
    admin = await asyncpg.connect(_admin_dsn(postgres_url))
    failed: list[str] = []
    try:
        with contextlib.suppress(db.DatabaseUnavailable):
            async with engine.begin() as conn:
                pid = await conn.scalar(sa.select(sa.func.pg_backend_pid()))
                await admin.execute("SELECT pg_terminate_backend($1)", pid)
                await conn.execute(sa.select(sa.literal(1)))
            failed.append("begin went on")
        with contextlib.suppress(db.DatabaseUnavailable):
            async with engine.writing() as writer:
                (row,) = await writer.rows(PID, {})
                await admin.execute("SELECT pg_terminate_backend($1)", row.pid)
                await writer.rows(QUERY, {"x": 1})
            failed.append("writing went on")
        async with engine.begin() as conn:
            assert 2 == await conn.scalar(sa.select(sa.literal(2)))
        async with engine.writing() as writer:
            assert 3 == (await writer.rows(QUERY, {"x": 3}))[0].one
        assert [] == failed
    finally:
        await admin.close()
        await engine.dispose()


async def test_a_write_on_a_connection_ended_while_idle_is_never_a_500(postgres_url: str) -> None:
    """A kept connection the server ended a moment ago (the driver has not seen it yet): a
    write on it is a DatabaseUnavailable or succeeds, never another error, and the next works."""
    engine = db.create_engine(postgres_url, pool_size=1)
    admin = await asyncpg.connect(_admin_dsn(postgres_url))
    outcomes = []
    try:
        for _ in range(3):
            assert 1 == (await engine.fetch(QUERY, {"x": 1}))[0].one  # keeps the connection
            await admin.execute(TERMINATE_ALL)
            try:
                outcomes.append(len(await engine.write(QUERY, {"x": 1})))
            except db.DatabaseUnavailable:
                outcomes.append(503)
            async with engine.writing() as writer:
                assert 2 == (await writer.rows(QUERY, {"x": 2}))[0].one
        assert set(outcomes) <= {1, 503}
    finally:
        await admin.close()
        await engine.dispose()


async def test_a_statement_cancelled_in_a_transaction_leaves_no_busy_connection_in_the_pool(
    postgres_url: str,
) -> None:
    """A request cancelled mid-statement (a timeout, a client gone) does not hand its busy
    connection to the next request ("another operation is in progress")."""
    engine = db.create_engine(postgres_url, pool_size=1)
    try:
        for block in ("writing", "begin"):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    if block == "writing":
                        async with engine.writing() as writer:
                            await writer.rows(SLEEP, {"s": 2.0})
                    else:
                        async with engine.begin() as conn:
                            await conn.execute(sa.select(sa.func.pg_sleep(2.0)))
            assert 1 == (await engine.fetch(QUERY, {"x": 1}))[0].one
            async with engine.begin() as conn:
                assert 2 == await conn.scalar(sa.select(sa.literal(2)))
    finally:
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
