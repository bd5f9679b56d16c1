"""Consents of users to third-party apps, and login throttling counters."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ostiary.storage.db import Database
from ostiary.storage.tables import consents, login_throttle

__all__ = ["ConsentStore", "ThrottleStore"]


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
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def blocked_until(self, keys: list[str]) -> datetime | None:
        async with self._engine.connect() as conn:
            values = await conn.scalars(
                sa.select(login_throttle.c.blocked_until)
                .where(login_throttle.c.key.in_(keys))
                .where(login_throttle.c.blocked_until.is_not(None))
            )
            return max(values, default=None)

    async def record_failure(self, key: str, now: datetime, *, window_seconds: int) -> int:
        """Count a failure; the count restarts after ``window_seconds`` without failures."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(login_throttle.c.failures, login_throttle.c.last_failure_at).where(
                        login_throttle.c.key == key
                    )
                )
            ).first()
            if row is None:
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            login_throttle.insert().values(
                                key=key, failures=1, last_failure_at=now, blocked_until=None
                            )
                        )
                    return 1
                except IntegrityError:
                    row = (
                        await conn.execute(
                            sa.select(
                                login_throttle.c.failures, login_throttle.c.last_failure_at
                            ).where(login_throttle.c.key == key)
                        )
                    ).one()
            failures = row.failures
            last = row.last_failure_at
            stale = (now - last).total_seconds() > window_seconds
            count = 1 if stale else failures + 1
            await conn.execute(
                login_throttle.update()
                .where(login_throttle.c.key == key)
                .values(failures=count, last_failure_at=now)
            )
        return int(count)

    async def block(self, key: str, until: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                login_throttle.update()
                .where(login_throttle.c.key == key)
                .values(blocked_until=until)
            )

    async def reset(self, key: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(login_throttle.delete().where(login_throttle.c.key == key))
