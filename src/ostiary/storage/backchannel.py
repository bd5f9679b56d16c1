"""Durable back-channel logout deliveries and the record of every attempt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ostiary.domain.sessions import BackchannelDelivery, DeliveryStatus
from ostiary.storage.db import Database, DatabaseConnection
from ostiary.storage.queues import claim_due_rows
from ostiary.storage.tables import backchannel_attempts, backchannel_deliveries

__all__ = ["DeliveryStore", "insert_deliveries"]

T = backchannel_deliveries


def _delivery(row: sa.Row[Any]) -> BackchannelDelivery:
    m = row._mapping
    return BackchannelDelivery(
        id=m["id"],
        session_id=m["session_id"],
        user_id=m["user_id"],
        client_id=m["client_id"],
        uri=m["uri"],
        status=DeliveryStatus(m["status"]),
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        delivered_at=m["delivered_at"],
        last_error=m["last_error"],
    )


async def insert_deliveries(
    conn: DatabaseConnection, deliveries: Sequence[BackchannelDelivery]
) -> None:
    """Queue notices inside the caller's transaction (the one that ends the session)."""
    if not deliveries:
        return
    await conn.execute(
        T.insert(),
        [
            {
                "id": d.id,
                "session_id": d.session_id,
                "user_id": d.user_id,
                "client_id": d.client_id,
                "uri": d.uri,
                "status": d.status.value,
                "attempts": d.attempts,
                "next_attempt_at": d.next_attempt_at,
                "created_at": d.created_at,
                "delivered_at": None,
                "last_error": None,
            }
            for d in deliveries
        ],
    )


class DeliveryStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def claim_due(
        self, now: datetime, *, lease: timedelta, limit: int = 20
    ) -> list[BackchannelDelivery]:
        """Due deliveries, each claimed for ``lease`` so that no other process sends it at the
        same time (a compare-and-set on ``next_attempt_at``; works on SQLite and PostgreSQL)."""
        rows = await claim_due_rows(
            self._engine, T, pending=DeliveryStatus.PENDING.value, now=now, lease=lease, limit=limit
        )
        return [_delivery(row) for row in rows]

    async def record_attempt(
        self,
        delivery: BackchannelDelivery,
        now: datetime,
        *,
        ok: bool,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        """Log the attempt and move the delivery on: delivered, retried later, or failed."""
        if ok:
            status = DeliveryStatus.DELIVERED
        elif next_attempt_at is None:
            status = DeliveryStatus.FAILED
        else:
            status = DeliveryStatus.PENDING
        async with self._engine.begin() as conn:
            await conn.execute(
                backchannel_attempts.insert().values(
                    delivery_id=delivery.id,
                    attempted_at=now,
                    ok=ok,
                    status_code=status_code,
                    error=(error or None) and error[:500],
                )
            )
            await conn.execute(
                T.update()
                .where(T.c.id == delivery.id)
                .values(
                    status=status.value,
                    attempts=T.c.attempts + 1,
                    next_attempt_at=next_attempt_at or now,
                    delivered_at=now if ok else None,
                    last_error=None if ok else (error or "")[:500],
                )
            )

    async def for_session(self, session_id: str) -> list[BackchannelDelivery]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(T).where(T.c.session_id == session_id).order_by(T.c.created_at)
            )
        return [_delivery(row) for row in rows]

    async def attempts(self, delivery_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(backchannel_attempts)
                .where(backchannel_attempts.c.delivery_id == delivery_id)
                .order_by(backchannel_attempts.c.id)
            )
        return [dict(row._mapping) for row in rows]

    async def next_due(self) -> datetime | None:
        async with self._engine.connect() as conn:
            due: datetime | None = await conn.scalar(
                sa.select(T.c.next_attempt_at)
                .where(T.c.status == DeliveryStatus.PENDING.value)
                .order_by(T.c.next_attempt_at)
                .limit(1)
            )
        return due
