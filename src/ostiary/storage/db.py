"""Engines and schema migrations (Alembic, shipped inside the package)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable

from ostiary.storage.sqlite_inline import SQLiteDatabase

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "Database",
    "DatabaseConnection",
    "create_engine",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a SQLite statement waits for another connection's write lock (sqlite_inline).
BUSY_TIMEOUT_S = 30
T = TypeVar("T")


class DatabaseConnection(Protocol):
    """What storage code does with a connection: SQLAlchemy's ``AsyncConnection`` on
    PostgreSQL, ``sqlite_inline.SQLiteConnection`` on SQLite."""

    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> sa.CursorResult[Any]: ...

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...

    async def scalars(
        self, statement: Executable, parameters: Any = None
    ) -> sa.ScalarResult[Any]: ...

    def begin_nested(self) -> AbstractAsyncContextManager[Any]: ...

    async def run_sync(self, fn: Callable[[Connection], T]) -> T: ...


class Database(Protocol):
    """Reads through ``connect()``, writes through ``begin()`` (committed at the end of the
    block, rolled back on an exception)."""

    @property
    def url(self) -> sa.URL: ...

    def connect(self) -> AbstractAsyncContextManager[DatabaseConnection]: ...

    def begin(self) -> AbstractAsyncContextManager[DatabaseConnection]: ...

    async def dispose(self) -> None: ...


def create_engine(url: str, *, pool_size: int = 10) -> Database:
    """The database at ``url``. SQLite (WAL, foreign keys, lock waits that do not block the
    loop) runs on the event loop through ``sqlite_inline``, which says why; PostgreSQL through
    asyncpg."""
    if url.startswith("sqlite"):
        return SQLiteDatabase(make_url(url).database or ":memory:", patience=BUSY_TIMEOUT_S)
    # A fixed pool: requests beyond it wait for a connection. Overflow connections were
    # opened and closed again under load (a connect costs ~3 round trips and, with asyncpg's
    # default sslmode=prefer, an SSL context), which cost more than the wait.
    return PostgresEngine(
        create_async_engine(
            url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False
        ).sync_engine
    )


class PostgresEngine(AsyncEngine):
    """Reads without a transaction around them. Storage code reads through ``connect()`` and
    writes through ``begin()``; a read in a transaction costs three round trips (BEGIN, the
    query, and the ROLLBACK when the connection goes back to the pool), in autocommit one.
    Each statement of a read already saw the latest committed data (READ COMMITTED), so
    nothing else changes. ``begin()`` keeps its transaction."""

    __slots__ = ("_reader",)

    def __init__(self, sync_engine: Any) -> None:
        super().__init__(sync_engine)
        # Shares the pool: connections are set to autocommit on checkout and reset on return.
        self._reader = AsyncEngine(sync_engine.execution_options(isolation_level="AUTOCOMMIT"))

    def connect(self) -> AsyncConnection:
        return self._reader.connect()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with AsyncConnection(self) as conn, conn.begin():
            yield conn


# Alembic is imported where it is used: a serving worker never migrates, and the import costs
# a fifth of a second and about 12 MB of memory per process (mako, pygments and the dialects).


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


async def current_revision(engine: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(engine: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe to run when it is already there."""

    from alembic import command

    def run(connection: Connection) -> None:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
