"""Engines and schema migrations (Alembic, shipped inside the package)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.util import greenlet_spawn

from ostiary.storage.changes import ChangeFeed, Changes
from ostiary.storage.prepared import Prepared, PreparedRow, Writer
from ostiary.storage.sqlite_inline import SQLiteDatabase

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "Database",
    "DatabaseConnection",
    "PostgresEngine",
    "create_engine",
    "current_revision",
    "head_revision",
    "upgrade",
]

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a SQLite statement waits for another connection's write lock (sqlite_inline).
BUSY_TIMEOUT_S = 30
# How long a PostgreSQL request waits for one of the pool's connections.
POOL_WAIT_S = 30
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

    async def fetch(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of a one-statement read, outside any transaction
        (``ostiary.storage.prepared``)."""
        ...

    def writing(self) -> AbstractAsyncContextManager[Writer]:
        """A write transaction of prepared statements: committed at the end of the block,
        rolled back on an exception."""
        ...

    async def write(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        """One prepared statement that writes, committed on its own; its ``RETURNING`` rows."""
        ...

    def changes(self) -> Changes:
        """How this process learns that an app or a client secret changed, whoever changed it
        (``ostiary.storage.changes``)."""
        ...

    async def dispose(self) -> None: ...


def create_engine(url: str, *, pool_size: int = 10) -> Database:
    """The database at ``url``. SQLite (WAL, foreign keys, lock waits that do not block the
    loop) runs on the event loop through ``sqlite_inline``, which says why; PostgreSQL through
    asyncpg."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or path == ":memory:":
            # Each pooled connection would open its own empty database (the settings refuse
            # such a URL too; this stops a direct caller).
            raise ValueError(f"a SQLite URL needs a file path: {url!r}")
        return SQLiteDatabase(path, patience=BUSY_TIMEOUT_S)
    # A fixed pool: requests beyond it wait for a connection. Overflow connections were
    # opened and closed again under load (a connect costs ~3 round trips and, with asyncpg's
    # default sslmode=prefer, an SSL context), which cost more than the wait.
    return PostgresEngine(
        create_async_engine(
            url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False, pool_timeout=POOL_WAIT_S
        ).sync_engine,
        pool_size=pool_size,
    )


class PostgresEngine(AsyncEngine):
    """Reads without a transaction around them, and connections handed out in turn.

    Storage code reads through ``connect()`` and writes through ``begin()``; a read in a
    transaction costs three round trips (BEGIN, the query, and the ROLLBACK when the connection
    goes back to the pool), in autocommit one. Each statement of a read already saw the latest
    committed data (READ COMMITTED), so nothing else changes. ``begin()`` keeps its transaction.

    In turn: when more requests want a connection than the pool holds, SQLAlchemy's pool
    serves its waiters out of order (40 requests of 3 checkouts on a pool of 3: 700-870 of the
    checkouts were served after one that asked later, some 36-72 places late), which made the
    slowest requests wait far longer than the rest: at 64 connections on a pool of 10, refresh
    p99 was 700-860 ms at a p50 of 230-270 ms. A first-come, first-served semaphore (one per
    event loop) with as many places as the pool hands out the connections instead, so the pool
    itself never has a waiter (p99 340-400 ms, same throughput)."""

    __slots__ = ("_changes", "_places", "_reader", "_states")

    def __init__(self, sync_engine: Any, *, pool_size: int) -> None:
        super().__init__(sync_engine)
        self._changes: ChangeFeed | None = None
        # Shares the pool: connections are set to autocommit on checkout and reset on return.
        self._reader = AsyncEngine(sync_engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._places = pool_size
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState]
        self._states = weakref.WeakKeyDictionary()

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState(self._places)
        return state

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[_LoopState]:
        state = self._state()
        turns = state.turns
        if not turns.locked():
            await turns.acquire()  # a free place: taken at once, no timer needed
        else:
            try:
                async with asyncio.timeout(POOL_WAIT_S):
                    await turns.acquire()
            except TimeoutError:
                raise sa.exc.TimeoutError(
                    f"no database connection free after {POOL_WAIT_S} s "
                    f"(OSTIARY_DB_POOL_SIZE={self._places})"
                ) from None
        try:
            yield state
        finally:
            turns.release()

    @contextlib.asynccontextmanager
    async def _pool_turn(self) -> AsyncIterator[None]:
        """A turn for SQLAlchemy's own connections, which check one out of the pool: a kept
        connection goes back first, as the pool may have none free without it (``_driver``)."""
        async with self._turn() as state:
            if state.kept:
                await greenlet_spawn(state.kept.pop().close)
            yield

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:  # type: ignore[override]
        async with self._pool_turn(), self._reader.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._pool_turn(), AsyncConnection(self) as conn, conn.begin():
            yield conn

    async def fetch(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        """A prepared read on one of the pool's connections, through asyncpg itself (which
        prepares the statement once per connection and keeps it). Through SQLAlchemy's
        ``connect()`` and ``execute`` client authentication cost 319 µs of CPU, this way
        136 µs (asyncpg alone: 55 µs; the rest was the pool's check-out and return, which the
        connections kept between turns now skip: see ``_driver``). No transaction is begun:
        asyncpg runs the statement in autocommit, so a kept connection is left with nothing
        to roll back."""
        async with self._driver() as driver:
            reader = _PostgresWriter(driver, self.sync_engine.dialect)
            return await reader.rows(prepared, parameters)

    async def write(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        # asyncpg runs it in autocommit: one round trip, where BEGIN and COMMIT make three.
        return await self.fetch(prepared, parameters)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[Writer]:
        """A write transaction of prepared statements, on asyncpg as ``fetch`` is."""
        async with self._driver() as driver, driver.transaction():
            yield _PostgresWriter(driver, self.sync_engine.dialect)

    @contextlib.asynccontextmanager
    async def _driver(self) -> AsyncIterator[Any]:
        """The asyncpg connection of one of the pool's connections, taken in turn.

        Kept: a connection that ends its turn idle (no transaction, not closed) stays checked
        out of the pool for the next turn rather than going back. A check-out and a return
        cost two greenlet switches and the pool's bookkeeping and events. The pool never runs
        short for it: a turn holds at most one connection and a kept one was a turn's, so
        turns plus kept connections never outnumber the pool's, and a turn that checks out
        through SQLAlchemy returns a kept connection first (``_pool_turn``)."""
        import asyncpg  # loaded by the dialect already; SQLite deployments never load it

        async with self._turn() as state:
            if state.kept:
                record = state.kept.pop()
            else:
                record = await greenlet_spawn(self.sync_engine.pool.connect)
            driver: Any = record.driver_connection
            try:
                yield driver
            except BaseException as err:
                if driver.is_closed():
                    # Lost. As SQLAlchemy does on a disconnect, the idle connections (likely
                    # lost the same way, as by a server restart) are closed too.
                    await greenlet_spawn(record.invalidate, err)
                    await self._return_kept(state, lost=err)
                    await greenlet_spawn(self.sync_engine.pool.dispose)
                elif isinstance(err, (asyncpg.InterfaceError, OSError, asyncio.CancelledError)):
                    await greenlet_spawn(record.invalidate, err)  # in an unknown state
                await greenlet_spawn(record.close)
                raise
            if driver.is_closed() or driver.is_in_transaction():
                await greenlet_spawn(record.close)
            else:
                state.kept.append(record)

    @staticmethod
    async def _return_kept(state: _LoopState, *, lost: BaseException | None = None) -> None:
        while state.kept:
            record = state.kept.pop()
            if lost is not None:
                await greenlet_spawn(record.invalidate, lost)
            await greenlet_spawn(record.close)

    def changes(self) -> ChangeFeed:
        """The feed of app changes (``ostiary.storage.changes``), listening on a connection of
        its own outside the pool."""
        if self._changes is None:
            self._changes = ChangeFeed(self._listening_connection, self._notify)
        return self._changes

    async def _listening_connection(self) -> Any:
        import asyncpg

        dialect = self.sync_engine.dialect
        _, options = dialect.create_connect_args(self.sync_engine.url)
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            options.pop(adapter_only, None)  # SQLAlchemy's adapter reads these, not asyncpg
        return await asyncpg.connect(**options)

    async def _notify(self, channel: str, payload: str) -> None:
        await self.write(_NOTIFY, {"channel": channel, "payload": payload})

    async def dispose(self, close: bool = True) -> None:
        """Kept connections go back to the pool first, so that disposing closes them too."""
        if self._changes is not None:
            await self._changes.close()
        state = self._states.get(asyncio.get_running_loop())
        if state is not None:
            await self._return_kept(state)
        await super().dispose(close)


_NOTIFY = Prepared(sa.select(sa.func.pg_notify(sa.bindparam("channel"), sa.bindparam("payload"))))


class _LoopState:
    """Per event loop: its turns, and the connections kept checked out between them."""

    __slots__ = ("kept", "turns")

    def __init__(self, places: int) -> None:
        self.turns = asyncio.Semaphore(places)
        self.kept: list[Any] = []


class _PostgresWriter:
    """``Writer`` on one asyncpg connection (also what ``fetch`` reads with)."""

    __slots__ = ("_dialect", "_driver")

    def __init__(self, driver: Any, dialect: sa.Dialect) -> None:
        self._driver = driver
        self._dialect = dialect

    async def rows(self, prepared: Prepared, parameters: Mapping[str, Any]) -> list[PreparedRow]:
        plan = prepared.plan(self._dialect)
        raw = await self._driver.fetch(plan.sql, *plan.parameters(parameters))
        return [plan.row(values) for values in raw]

    async def run(self, prepared: Prepared, parameters: Mapping[str, Any]) -> int:
        plan = prepared.plan(self._dialect)
        status: str = await self._driver.execute(plan.sql, *plan.parameters(parameters))
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE 1", "INSERT 0 1"


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
