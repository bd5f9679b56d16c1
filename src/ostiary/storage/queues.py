"""Claiming due rows of a durable work queue (back-channel deliveries, outgoing email).

Every server process runs the same background worker; a compare-and-set on ``next_attempt_at``
lets exactly one of them take a row, on SQLite and PostgreSQL alike (no SELECT … FOR UPDATE
SKIP LOCKED, which SQLite lacks). A claimed row's ``next_attempt_at`` moves ``lease`` ahead, so
a process that dies mid-send leaves it to be picked up again after the lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ostiary.storage.db import Database

__all__ = ["claim_due_rows"]


async def claim_due_rows(
    engine: Database,
    table: sa.Table,
    *,
    pending: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[sa.Row[Any]]:
    """Rows with ``status == pending`` whose ``next_attempt_at`` has come, each claimed by this
    process for ``lease``. The rows are returned as they were before the claim."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(table)
                .where(table.c.status == pending)
                .where(table.c.next_attempt_at <= now)
                .order_by(table.c.next_attempt_at)
                .limit(limit)
            )
        ).all()
    claimed = []
    for row in rows:
        async with engine.begin() as conn:
            result = await conn.execute(
                table.update()
                .where(table.c.id == row.id)
                .where(table.c.status == pending)
                .where(table.c.next_attempt_at == row.next_attempt_at)
                .values(next_attempt_at=now + lease)
            )
        if result.rowcount == 1:
            claimed.append(row)
    return claimed
