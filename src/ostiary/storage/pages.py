"""Keyset pagination: one page of rows after a key, the total, and whether more follow.

Pages are ordered by a unique, stable column (a time-sortable ``…_`` id, a permission name), so a
cursor is simply the last key of the previous page: no offsets that shift when rows are added.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from ostiary.storage.db import Database

__all__ = ["Page", "keyset_page"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """``items`` in key order; ``next_after`` is the key to continue from (None at the end)."""

    items: list[T]
    total: int
    next_after: str | None


async def keyset_page(
    engine: Database,
    table: sa.Table,
    key: sa.Column[str],
    convert: Callable[[sa.Row[Any]], T],
    *,
    after: str | None,
    limit: int,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> Page[T]:
    """Up to ``limit`` rows with ``key`` > ``after`` (ascending), and the count of all matches."""
    query = sa.select(table).where(*where).order_by(key).limit(limit + 1)
    if after is not None:
        query = query.where(key > after)
    count = sa.select(sa.func.count()).select_from(table).where(*where)
    async with engine.connect() as conn:
        rows = list(await conn.execute(query))
        total = int(await conn.scalar(count) or 0)
    items = [convert(row) for row in rows[:limit]]
    more = len(rows) > limit
    next_after = str(rows[limit - 1]._mapping[key.name]) if more and limit > 0 else None
    return Page(items=items, total=total, next_after=next_after)
