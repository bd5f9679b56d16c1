"""The authentication log: sign-ins, failures, sign-ups, logouts, revocations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ostiary.storage.db import Database
from ostiary.storage.tables import auth_events, users

__all__ = ["EventStore"]


class EventStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, values: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(auth_events.insert().values(**values))

    async def recent(
        self, *, limit: int = 100, before: str | None = None, type_: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; ``before`` is an event id (ids sort by time) for the next page. Each
        row has ``user_email``: the user's email now (None once the user is deleted), for the
        events recorded without one (sign-outs, revocations, expiries)."""
        query = (
            sa.select(auth_events, users.c.email.label("user_email"))
            .select_from(auth_events.outerjoin(users, users.c.id == auth_events.c.user_id))
            .order_by(auth_events.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(auth_events.c.id < before)
        if type_ is not None:
            query = query.where(auth_events.c.type == type_)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [dict(row._mapping) for row in rows]

    async def purge(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                auth_events.delete().where(auth_events.c.created_at < before)
            )
        return result.rowcount
