"""Readiness: can this process reach its database?"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from ostiary.storage.db import Database

__all__ = ["database_ready"]

PROBE_TIMEOUT = 2.0


async def database_ready(engine: Database) -> bool:
    async def probe() -> None:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    try:
        await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    except Exception:  # any failure means "not ready"; the probe must never raise
        return False
    return True
