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
from ostiary.storage.connection_loss import (
    ConnectionLost,
    DatabaseUnavailable,
    PoolExhausted,
    ReadingConnection,
    lost,
    open_connection,
    refuse_closed_on_checkout,
    unreachable,
    warn,
)
from ostiary.storage.prepared import Prepared, PreparedRow, Writer
from ostiary.storage.sqlite_inline import SQLiteDatabase

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "Database",
    "DatabaseConnection",
    "DatabaseUnavailable",
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
UNAVAILABLE = "The database connection was lost; try again shortly."
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
    itself never has a waiter (p99 340-400 ms, same throughput).

    Lost connections (a restart, a failover, ``pg_terminate_backend``): a closed one is replaced
    before use, a read is read again once, anything else ends in ``DatabaseUnavailable``
    (answered 503), and none goes back to the pool broken: ``connection_loss`` says which and
    why."""

    __slots__ = ("_changes", "_places", "_reader", "_states")

    def __init__(self, sync_engine: Any, *, pool_size: int) -> None:
        super().__init__(sync_engine)
        self._changes: ChangeFeed | None = None
        # A connection the server closed while it sat in the pool is replaced at checkout.
        sa.event.listen(sync_engine.pool, "checkout", refuse_closed_on_checkout)
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
                raise PoolExhausted(
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
                record = state.kept.pop()
                if record.driver_connection.is_closed():  # ended by the server while kept
                    await greenlet_spawn(record.invalidate)
                await greenlet_spawn(record.close)
            yield

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[ReadingConnection]:  # type: ignore[override]
        """Reads: a ``SELECT`` whose connection is lost runs again on another
        (``connection_loss``)."""
        async with self._pool_turn():
            reading = ReadingConnection(self._reader, await open_connection(self._reader))
            try:
                yield reading
            except sa.exc.DBAPIError as err:
                if lost(err):
                    warn(err, "a read", "answering 503")
                    raise ConnectionLost(UNAVAILABLE) from err
                raise
            finally:
                await reading.close()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction. A connection the server closed while it was idle is replaced
        at checkout; one lost after that ends in ``ConnectionLost``, as the transaction may or
        may not have been committed (``connection_loss``)."""
        async with self._pool_turn():
            conn = await open_connection(self)
            try:
                async with conn.begin():
                    yield conn
            except sa.exc.DBAPIError as err:
                if lost(err):
                    warn(err, "a write", "answering 503 (not known to be written)")
                    raise ConnectionLost(UNAVAILABLE) from err
                raise
            finally:
                await conn.close()

    async def fetch(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        """A prepared read on one of the pool's connections, through asyncpg itself (which
        prepares the statement once per connection and keeps it). Through SQLAlchemy's
        ``connect()`` and ``execute`` client authentication cost 319 µs of CPU, this way
        136 µs (asyncpg alone: 55 µs; the rest was the pool's check-out and return, which the
        connections kept between turns now skip: see ``_driver``). No transaction is begun:
        asyncpg runs the statement in autocommit, so a kept connection is left with nothing
        to roll back. A read that loses its connection reads again, once, on another."""
        dialect = self.sync_engine.dialect
        try:
            async with self._driver() as driver:
                return await _PostgresWriter(driver, dialect).rows(prepared, parameters)
        except ConnectionLost as err:
            warn(err.__cause__ or err, "a read", "reading again on another connection")
        try:
            async with self._driver() as driver:
                return await _PostgresWriter(driver, dialect).rows(prepared, parameters)
        except ConnectionLost as err:
            warn(err.__cause__ or err, "a read", "answering 503")
            raise

    async def write(self, prepared: Prepared, parameters: Mapping[str, Any]) -> Sequence[Any]:
        """asyncpg runs it in autocommit: one round trip, where BEGIN and COMMIT make three.
        Never sent twice: a lost connection ends in ``ConnectionLost``."""
        try:
            async with self._driver() as driver:
                return await _PostgresWriter(driver, self.sync_engine.dialect).rows(
                    prepared, parameters
                )
        except ConnectionLost as err:
            warn(err.__cause__ or err, "a write", "answering 503 (not known to be written)")
            raise

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[Writer]:
        """A write transaction of prepared statements, on asyncpg as ``fetch`` is."""
        try:
            async with self._driver(begin=True) as driver:
                yield _PostgresWriter(driver, self.sync_engine.dialect)
        except ConnectionLost as err:
            warn(err.__cause__ or err, "a write", "answering 503 (not known to be written)")
            raise

    @contextlib.asynccontextmanager
    async def _driver(self, *, begin: bool = False) -> AsyncIterator[Any]:
        """The asyncpg connection of one of the pool's connections, taken in turn; with
        ``begin``, in a transaction committed at the end of the block.

        Kept: a connection that ends its turn idle (no transaction, not closed) stays checked
        out of the pool for the next turn rather than going back. A check-out and a return
        cost two greenlet switches and the pool's bookkeeping and events. The pool never runs
        short for it: a turn holds at most one connection and a kept one was a turn's, so
        turns plus kept connections never outnumber the pool's, and a turn that checks out
        through SQLAlchemy returns a kept connection first (``_pool_turn``).

        A connection lost during the block (closed by the server, or by asyncpg after an
        error it could not recover from) ends in ``ConnectionLost`` and is not kept or given
        back to the pool."""
        async with self._turn() as state:
            kept = state.kept
            if kept and not begin and not kept[-1].driver_connection.is_closed():
                record = kept.pop()  # the hot path: a kept connection, no transaction
                driver, transaction = record.driver_connection, None
            else:
                record, driver, transaction = await self._take(state, begin=begin)
            try:
                yield driver
                if transaction is not None:
                    await transaction.commit()
            except BaseException as err:
                if transaction is not None and driver.is_in_transaction():
                    await self._roll_back(transaction, err)
                if await self._let_go(state, record, err):
                    raise ConnectionLost(UNAVAILABLE) from err
                raise
            if driver.is_closed() or driver.is_in_transaction():
                await greenlet_spawn(record.invalidate)  # not fit for another turn
                await greenlet_spawn(record.close)
            else:
                state.kept.append(record)

    async def _take(self, state: _LoopState, *, begin: bool) -> tuple[Any, Any, Any]:
        """A live connection (its transaction begun, with ``begin``): one that is found closed,
        or whose BEGIN fails because it was lost, is let go and another taken, once: nothing
        that writes was sent on it."""
        for last in (False, True):
            record = state.kept.pop() if state.kept else await self._checkout()
            driver: Any = record.driver_connection
            try:
                if driver.is_closed():
                    raise ConnectionResetError("closed by the server while idle")
                transaction = driver.transaction() if begin else None
                if transaction is not None:
                    await transaction.start()
                return record, driver, transaction
            except BaseException as err:
                if not await self._let_go(state, record, err):
                    raise
                if last:
                    warn(err, "a checkout", "answering 503")
                    raise DatabaseUnavailable(UNAVAILABLE) from err
                warn(err, "a checkout", "taking another connection")
        raise AssertionError("unreachable")

    async def _checkout(self) -> Any:
        try:
            return await greenlet_spawn(self.sync_engine.pool.connect)
        except Exception as err:
            if unreachable(err, self.sync_engine.dialect.loaded_dbapi.Error):
                warn(err, "a checkout", "answering 503")
                raise DatabaseUnavailable(UNAVAILABLE) from err
            raise

    @staticmethod
    async def _roll_back(transaction: Any, err: BaseException) -> None:
        """After a failed statement; a rollback that fails too leaves the connection in a
        transaction, which ``_let_go`` then invalidates."""
        if isinstance(err, asyncio.CancelledError):
            return  # a statement may still be running: the connection is invalidated instead
        with contextlib.suppress(Exception):
            await transaction.rollback()

    async def _let_go(self, state: _LoopState, record: Any, err: BaseException) -> bool:
        """Give back a connection whose turn failed; True when it was lost. A lost connection
        is invalidated, and so are the idle ones (likely lost the same way, as by a server
        restart), as SQLAlchemy does on a disconnect. One in an unknown state (cancelled, an
        error of the driver or the socket, still in a transaction) is invalidated too: none
        goes back to the pool broken."""
        import asyncpg  # loaded by the dialect already; SQLite deployments never load it

        driver = record.driver_connection
        was_lost: bool = driver.is_closed()
        if was_lost:
            await greenlet_spawn(record.invalidate, err)
            await self._return_kept(state, lost=err)
            await greenlet_spawn(self.sync_engine.pool.dispose)
        elif driver.is_in_transaction() or isinstance(
            err, (asyncpg.InterfaceError, OSError, asyncio.CancelledError)
        ):
            await greenlet_spawn(record.invalidate, err)
        await greenlet_spawn(record.close)
        return was_lost

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
