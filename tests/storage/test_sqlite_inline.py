"""SQLite runs on the event loop (ostiary.storage.sqlite_inline): a write lock held by another
process must not freeze the loop, and the waiting statement must go through once it is free."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ostiary.storage import sqlite_inline
from ostiary.storage.db import create_engine


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE t (n INTEGER)"))
    yield engine
    await engine.dispose()


def other_process_lock(engine: AsyncEngine) -> sqlite3.Connection:
    """Another connection (as another worker process would have) holding the write lock."""
    other = sqlite3.connect(str(engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    return other


async def test_a_locked_database_is_waited_for_without_blocking_the_loop(
    engine: AsyncEngine,
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


async def test_a_lock_held_past_the_timeout_is_an_error(engine: AsyncEngine) -> None:
    other = other_process_lock(engine)
    conn = await sqlite_inline.connect(str(engine.url.database), timeout=0.2)()
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await conn.cursor().execute("INSERT INTO t VALUES (3)")
    finally:
        await conn.close()
        other.execute("ROLLBACK")
        other.close()
    # Nothing the waiting statement tried was written.
    async with engine.connect() as conn:
        assert [] == list((await conn.execute(sa.text("SELECT n FROM t"))).scalars())


async def test_other_sqlite_errors_are_not_retried(engine: AsyncEngine) -> None:
    with pytest.raises(OperationalError, match="no such table"):
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT * FROM missing"))
