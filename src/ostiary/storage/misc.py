"""Consents of users to third-party apps, and login throttling counters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ostiary.storage.db import Database
from ostiary.storage.tables import UTCDateTime, consents, login_throttle

__all__ = ["ConsentStore", "Reservation", "ThrottleStore"]


@dataclasses.dataclass(frozen=True, slots=True)
class Reservation:
    """One attempt's place on a key: ``granted`` (counted, go ahead and check the secret) or
    refused; ``blocked_until`` is the key's block after this attempt (None: not blocked)."""

    key: str
    granted: bool
    blocked_until: datetime | None


class ConsentStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def granted(self, user_id: str, app_id: str) -> tuple[str, ...]:
        async with self._engine.connect() as conn:
            scope = await conn.scalar(
                sa.select(consents.c.scope)
                .where(consents.c.user_id == user_id)
                .where(consents.c.app_id == app_id)
            )
        return tuple(scope or ())

    async def grant(self, user_id: str, app_id: str, scope: tuple[str, ...], now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                consents.delete()
                .where(consents.c.user_id == user_id)
                .where(consents.c.app_id == app_id)
            )
            await conn.execute(
                consents.insert().values(
                    user_id=user_id, app_id=app_id, scope=list(scope), created_at=now
                )
            )


class ThrottleStore:
    """Attempt counters, one row per key (``acct:…``, ``ip:…``, ``client-ip:…``).

    ``reserve`` counts an attempt *before* the secret is checked, in one statement (an upsert
    whose update happens only while the key is not blocked): concurrent attempts, on any node,
    each get a different count, and once a key is blocked none of them gets through. The block
    is set by the same statement, from the times the caller gives for each count. (The
    columns ``failures`` and ``last_failure_at`` count attempts: a right one is given back.)"""

    def __init__(self, engine: Database) -> None:
        self._engine = engine
        backend = engine.url.get_backend_name()
        self._insert = postgresql_insert if backend == "postgresql" else sqlite_insert

    async def reserve(
        self, key: str, *, allowance: int, now: datetime, forget_before: datetime,
        block_times: Sequence[datetime],
    ) -> Reservation:  # fmt: skip
        """Count one attempt on ``key`` unless it is blocked. The count starts again when the
        last attempt is older than ``forget_before``. Reaching ``allowance + n`` attempts blocks
        the key until ``block_times[n]`` (the last one for every count beyond)."""
        t = login_throttle
        stale = t.c.last_failure_at < forget_before
        count = sa.case((stale, 1), else_=t.c.failures + 1)
        blocks = [(count == allowance + n, sa.literal(until, UTCDateTime())) for n, until in
                  enumerate(block_times[:-1])]  # fmt: skip
        block = sa.case(
            (count < allowance, sa.null()), *blocks,
            else_=sa.literal(block_times[-1], UTCDateTime()),
        )  # fmt: skip
        first_block = block_times[0] if allowance <= 1 else None
        statement = (
            self._insert(t)
            .values(key=key, failures=1, last_failure_at=now, blocked_until=first_block)
            .on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"failures": count, "last_failure_at": now, "blocked_until": block},
                where=sa.or_(t.c.blocked_until.is_(None), t.c.blocked_until <= now),
            )
            .returning(t.c.blocked_until)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).first()
            if row is not None:
                return Reservation(key, granted=True, blocked_until=row.blocked_until)
            until = await conn.scalar(sa.select(t.c.blocked_until).where(t.c.key == key))
        return Reservation(key, granted=False, blocked_until=until)

    async def refund(self, reservation: Reservation, *, allowance: int) -> None:
        """Give back a granted attempt that turned out right: the count goes down by one, and
        the block it set (if no later attempt replaced it) goes with it."""
        t = login_throttle
        mine = reservation.blocked_until
        unblock = sa.and_(t.c.failures - 1 < allowance, t.c.blocked_until == mine)
        async with self._engine.begin() as conn:
            await conn.execute(
                t.update()
                .where(t.c.key == reservation.key)
                .where(t.c.failures > 0)
                .values(
                    failures=t.c.failures - 1,
                    blocked_until=t.c.blocked_until
                    if mine is None
                    else sa.case((unblock, sa.null()), else_=t.c.blocked_until),
                )
            )

    async def reset(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(login_throttle.delete().where(login_throttle.c.key == key))
