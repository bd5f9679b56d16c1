"""PostgreSQL connections are handed out first come, first served: when more requests want one
than the pool holds, none is passed over (a passed-over request is the slow tail of a busy
server), and a wait that never ends becomes a clear error instead of a hang."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import sqlalchemy as sa

from ostiary.storage import db

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
