"""SQLite runs on the event loop (ostiary.storage.sqlite_inline): a write lock held by another
process must not freeze the loop, and the waiting statement must go through once it is free;
transactions commit or roll back as a block; results outlive their connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from ostiary.storage.db import create_engine
from ostiary.storage.sqlite_inline import SQLiteDatabase


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    assert isinstance(engine, SQLiteDatabase)
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    yield engine
    await engine.dispose()


def other_process_lock(engine: SQLiteDatabase) -> sqlite3.Connection:
    """Another connection (as another worker process would have) holding the write lock."""
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    return other


async def test_a_locked_database_is_waited_for_without_blocking_the_loop(
    engine: SQLiteDatabase,
) -> None:
    other = other_process_lock(engine)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def release_later() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (2)"))

    tick_task = asyncio.create_task(ticker())
    try:
        await asyncio.gather(write(), release_later())
    finally:
        tick_task.cancel()
        other.close()
    # The loop kept running while the write waited (a blocking busy handler gives 0 ticks).
    assert ticks >= 5
    async with engine.connect() as conn:
        assert [1, 2] == sorted((await conn.execute(sa.text("SELECT n FROM t"))).scalars())


async def test_a_lock_held_past_the_timeout_is_an_error(engine: SQLiteDatabase) -> None:
    other = other_process_lock(engine)
    engine.patience = 0.2
    try:
        with pytest.raises(OperationalError, match="locked"):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO t VALUES (3)"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Nothing the waiting statement tried was written.
    async with engine.connect() as conn:
        assert [] == list((await conn.execute(sa.text("SELECT n FROM t"))).scalars())


async def test_other_sqlite_errors_are_not_retried(engine: SQLiteDatabase) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT * FROM missing"))


async def test_a_failed_block_leaves_nothing_behind(engine: SQLiteDatabase) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO t VALUES (4)"))
            raise RuntimeError("the request failed after its first write")
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t VALUES (5)"))
    async with engine.connect() as conn:
        assert [5] == list((await conn.execute(sa.text("SELECT n FROM t"))).scalars())


async def test_a_savepoint_undoes_only_its_own_writes(engine: SQLiteDatabase) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t VALUES (6)"))
        with pytest.raises(RuntimeError):
            async with conn.begin_nested():
                await conn.execute(sa.text("INSERT INTO t VALUES (7)"))
                raise RuntimeError("undo 7")
    async with engine.connect() as conn:
        assert [6] == list((await conn.execute(sa.text("SELECT n FROM t"))).scalars())


async def test_results_can_be_read_after_the_connection_went_back(engine: SQLiteDatabase) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(50)])
    async with engine.connect() as conn:
        result = await conn.execute(sa.text("SELECT n FROM t ORDER BY n"))
    # Back in the pool, the connection may be reused or closed (as here) before the caller
    # reads the result; the result still has every row.
    await engine.dispose()
    assert list(range(50)) == [row.n for row in result]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite+aiosqlite://", "sqlite:///:memory:"])
def test_a_url_without_a_file_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="needs a file path"):
        create_engine(url)
