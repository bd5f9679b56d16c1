"""SQLite through SQLAlchemy's synchronous Core, called on the event loop, behind the same small
async interface that storage code uses for PostgreSQL (``ostiary.storage.db.Database``).

Hand-written because no library does this. SQLAlchemy's async SQLite dialect expects aiosqlite,
which sends every call (cursor, execute, fetch, commit) to a thread of its own and waits for the
answer, and SQLAlchemy's async engine enters a greenlet for each connect, execute and close. For
statements that take SQLite a few microseconds, that machinery was most of the cost of a
request. Measured on the userinfo lookup (one indexed join): 177 µs through aiosqlite's threads,
~170 µs through an adapter that ran sqlite3 inline under the async engine, 86 µs through the
synchronous engine, of which SQLite itself is 11 µs. So the stores keep their async interface
(PostgreSQL needs it), and for SQLite it is a thin layer whose calls run synchronously: a
statement never suspends the coroutine, except to wait for a lock.

Statements are point lookups and small writes on indexed tables: microseconds, short enough to
run on the loop. Waiting for a lock is not: SQLite's own busy handler would sleep inside the
call and block the loop, and with it the other coroutine, or the other worker process's
request, that holds the lock. So connections have no busy timeout, and a statement refused with
SQLITE_BUSY (another connection holds the write lock; nothing was done) is tried again after an
``asyncio.sleep``, with backoff, until ``patience`` has passed. SQLITE_BUSY_SNAPSHOT (a read
snapshot too old to write from) is not retried, as SQLite would not wait for it either.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy import event, pool
from sqlalchemy.engine import URL
from sqlalchemy.sql.base import Executable

from ostiary.storage.changes import APP_TRIGGERS, CountedChanges
from ostiary.storage.prepared import Plan, Prepared, PreparedRow

__all__ = ["SQLiteDatabase"]

SQLITE_BUSY = 5
FIRST_PAUSE_S = 0.0005
LONGEST_PAUSE_S = 0.05
T = TypeVar("T")


# Statements fail with SQLAlchemy's wrapper, the DBAPI commit with sqlite3's own error.
_LOCK_ERRORS = (sa.exc.OperationalError, sqlite3.OperationalError)


def _busy(err: sa.exc.OperationalError | sqlite3.OperationalError) -> bool:
    cause = err.orig if isinstance(err, sa.exc.DBAPIError) else err
    return getattr(cause, "sqlite_errorcode", None) == SQLITE_BUSY


async def _when_unlocked(call: Callable[[], T], patience: float) -> T:
    """``call()``, tried again while SQLite answers SQLITE_BUSY, pausing without blocking the
    loop. (Callers try once themselves first: the common case costs no closure and no await.)"""
    deadline = time.monotonic() + patience
    pause = FIRST_PAUSE_S
    while True:
        await asyncio.sleep(pause)
        try:
            return call()
        except _LOCK_ERRORS as err:
            if not _busy(err) or time.monotonic() >= deadline:
                raise
        pause = min(pause * 2, LONGEST_PAUSE_S)


async def _patiently(call: Callable[[], T], patience: float) -> T:
    """``call()`` (a statement or a commit on the sqlite3 connection), tried again while SQLite
    answers SQLITE_BUSY."""
    try:
        return call()
    except sqlite3.OperationalError as err:
        if not _busy(err):
            raise
    return await _when_unlocked(call, patience)


async def _prepared_rows(
    conn: sqlite3.Connection, plan: Plan, parameters: Mapping[str, Any], patience: float
) -> tuple[list[PreparedRow], int]:
    arguments = plan.parameters(parameters)
    cursor = await _patiently(lambda: conn.execute(plan.sql, arguments), patience)
    return [plan.row(values) for values in cursor.fetchall()], cursor.rowcount


class _BufferedCursor(sqlite3.Cursor):
    """Reads a statement's rows as it runs, as SQLAlchemy's async drivers do: storage code may
    read a result after its connection went back to the pool (another request may use it
    then), and an unfinished statement would keep its read snapshot open meanwhile."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._rows: list[Any] = []
        self._next = 0

    def execute(self, sql: str, parameters: Any = (), /) -> _BufferedCursor:
        super().execute(sql, parameters)
        self._rows = super().fetchall() if self.description is not None else []
        self._next = 0
        return self

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        start = self._next
        self._next = min(len(self._rows), start + (self.arraysize if size is None else size))
        return self._rows[start : self._next]

    def fetchall(self) -> list[Any]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _BufferedCursor) -> Any:
        return super().cursor(factory)


def _open(path: str) -> sqlite3.Connection:
    # ``check_same_thread`` is off only so that the pool may close a connection from the
    # garbage collector's thread; statements run on the loop's thread.
    return sqlite3.connect(path, timeout=0, check_same_thread=False, factory=_Connection)


class SQLiteConnection:
    """One checked-out connection; the subset of ``AsyncConnection`` that the stores use."""

    __slots__ = ("_conn", "_patience")

    def __init__(self, conn: sa.Connection, patience: float) -> None:
        self._conn = conn
        self._patience = patience

    async def execute(self, statement: Executable, parameters: Any = None) -> sa.CursorResult[Any]:
        try:
            return self._conn.execute(statement, parameters)
        except sa.exc.OperationalError as err:
            if not _busy(err):
                raise
        # SQLAlchemy leaves the connection and its transaction as they were: SQLite refused
        # the statement before doing anything.
        return await _when_unlocked(
            lambda: self._conn.execute(statement, parameters), self._patience
        )

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Executable, parameters: Any = None) -> sa.ScalarResult[Any]:
        return (await self.execute(statement, parameters)).scalars()

    def begin_nested(self) -> _Savepoint:
        return _Savepoint(self._conn)

    async def run_sync(self, fn: Callable[[sa.Connection], T]) -> T:
        """``fn`` with the synchronous connection (schema migrations). Its statements cannot be
        retried one by one from here, so for its duration SQLite's own busy handler waits for
        locks, blocking the loop: migrations run before the server takes requests."""
        self._conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(self._patience * 1000)}")
        try:
            return fn(self._conn)
        finally:
            self._conn.exec_driver_sql("PRAGMA busy_timeout = 0")

    async def _commit(self) -> None:
        # The commit itself can meet SQLITE_BUSY (the transaction then stays open, so it can
        # be tried again): commit the DBAPI connection patiently, then let SQLAlchemy end its
        # transaction, which finds nothing left to commit.
        dbapi = self._conn.connection.dbapi_connection
        assert dbapi is not None
        await _patiently(dbapi.commit, self._patience)
        self._conn.commit()


class _SQLiteWriter:
    """``Writer`` on one pooled sqlite3 connection: sqlite3 begins the transaction before the
    first write, as it does under SQLAlchemy."""

    __slots__ = ("_conn", "_dialect", "_patience")

    def __init__(self, conn: sqlite3.Connection, dialect: sa.Dialect, patience: float) -> None:
        self._conn = conn
        self._dialect = dialect
        self._patience = patience

    async def rows(self, prepared: Prepared, parameters: Mapping[str, Any]) -> list[PreparedRow]:
        plan = prepared.plan(self._dialect)
        return (await _prepared_rows(self._conn, plan, parameters, self._patience))[0]

    async def run(self, prepared: Prepared, parameters: Mapping[str, Any]) -> int:
        plan = prepared.plan(self._dialect)
        return (await _prepared_rows(self._conn, plan, parameters, self._patience))[1]


class _Writing:
    """``async with database.writing()``: committed at the end of the block, rolled back (by
    the pool, as the connection goes back) on an exception."""

    __slots__ = ("_database", "_pooled")

    def __init__(self, database: SQLiteDatabase) -> None:
        self._database = database
        self._pooled: Any = None

    async def __aenter__(self) -> _SQLiteWriter:
        database = self._database
        self._pooled = database.sync_engine.raw_connection()
        conn = self._pooled.driver_connection
        return _SQLiteWriter(conn, database.sync_engine.dialect, database.patience)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                await _patiently(self._pooled.driver_connection.commit, self._database.patience)
        finally:
            self._pooled.close()  # rolls back whatever was not committed


class _Savepoint:
    """``async with conn.begin_nested()``: a SAVEPOINT, released at the end of the block or
    rolled back to on an exception."""

    __slots__ = ("_conn", "_transaction")

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._transaction: sa.NestedTransaction | None = None

    async def __aenter__(self) -> None:
        self._transaction = self._conn.begin_nested()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._transaction is not None
        self._transaction.__exit__(exc_type, exc, tb)


class _Checkout:
    """``async with database.connect()`` / ``database.begin()``: a pooled connection for the
    block; with ``transaction``, committed at the end or rolled back on an exception.
    (A class rather than ``asynccontextmanager``: this runs on every request.)"""

    __slots__ = ("_conn", "_database", "_transaction")

    def __init__(self, database: SQLiteDatabase, transaction: bool) -> None:
        self._database = database
        self._transaction = transaction
        self._conn: SQLiteConnection | None = None

    async def __aenter__(self) -> SQLiteConnection:
        sync = self._database.sync_engine.connect()
        if self._transaction:
            sync.begin()
        self._conn = SQLiteConnection(sync, self._database.patience)
        return self._conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        assert conn is not None
        try:
            if self._transaction and exc_type is None:
                await conn._commit()
        finally:
            conn._conn.close()  # rolls back whatever was not committed


# The counter of app changes and the schema's version, in one statement (both cheap lookups,
# ~5 µs): the triggers that move the counter are looked for again only when the schema changed.
# Plain SQL: both are SQLite's own (the pragma function), and this runs on many requests.
_APP_COUNTER = (
    "SELECT counter, schema_version FROM change_counters, pragma_schema_version WHERE name = 'apps'"
)
_TRIGGERS = "SELECT name FROM sqlite_master WHERE type = 'trigger'"


class SQLiteDatabase:
    """The SQLite ``Database``: WAL (readers never wait for the writer), foreign keys, and the
    lock waits described in the module's docstring. Reads through ``connect()``, writes
    through ``begin()``, as on PostgreSQL."""

    def __init__(self, path: str, *, patience: float, pool_size: int = 5) -> None:
        self.patience = patience
        self._reader: tuple[int, Any] | None = None  # (pid, pooled connection kept out)
        self._changes: CountedChanges | None = None
        self._triggers_seen_in: int | None = None  # the schema version they were found in
        self.sync_engine = sa.create_engine(
            URL.create("sqlite", database=path),
            creator=lambda: _open(path),
            # Never waits for a free connection (that wait would block the loop): beyond
            # pool_size, connections are opened and closed as needed (~0.1 ms each).
            poolclass=pool.QueuePool,
            pool_size=pool_size,
            max_overflow=-1,
        )
        event.listen(self.sync_engine, "connect", _pragmas)

    @property
    def url(self) -> URL:
        return self.sync_engine.url

    def connect(self) -> _Checkout:
        return _Checkout(self, transaction=False)

    def begin(self) -> _Checkout:
        return _Checkout(self, transaction=True)

    async def fetch(self, prepared: Prepared, parameters: Mapping[str, Any]) -> list[PreparedRow]:
        """The rows of a prepared read: one statement, outside any transaction, on a connection
        kept for these reads (statements run one at a time on the loop's thread, and each
        leaves nothing open behind it, so one connection serves them all)."""
        plan = prepared.plan(self.sync_engine.dialect)
        return (await _prepared_rows(self._read_connection(), plan, parameters, self.patience))[0]

    def writing(self) -> _Writing:
        """A write transaction of prepared statements (``ostiary.storage.prepared``)."""
        return _Writing(self)

    async def write(self, prepared: Prepared, parameters: Mapping[str, Any]) -> list[PreparedRow]:
        """One prepared statement that writes, in a transaction of its own."""
        async with self.writing() as writer:
            return await writer.rows(prepared, parameters)

    def changes(self) -> CountedChanges:
        """How this process learns that an app or a client secret changed
        (``ostiary.storage.changes``): the counter that migration 0008's triggers move."""
        if self._changes is None:
            self._changes = CountedChanges(self._app_counter)
        return self._changes

    async def _app_counter(self) -> tuple[int, int] | None:
        """The counter and the schema version, or None while the counter cannot be believed:
        its row, its table (a schema older than 0008) or one of its triggers is missing."""
        conn = self._read_connection()
        try:
            row = await _patiently(lambda: conn.execute(_APP_COUNTER).fetchone(), self.patience)
        except sqlite3.OperationalError:  # no such table (older schema), or a lock held past
            return None  # patience: either way nothing is kept, and the client is read
        if row is None:
            return None
        counter, schema = row
        if schema != self._triggers_seen_in:
            triggers = await _patiently(lambda: conn.execute(_TRIGGERS).fetchall(), self.patience)
            if not set(APP_TRIGGERS) <= {name for (name,) in triggers}:
                return None
            self._triggers_seen_in = schema
        return counter, schema

    def _read_connection(self) -> sqlite3.Connection:
        # One of the pool's connections (opened like the rest, with the same pragmas and
        # listeners), checked out for as long as the engine lives.
        reader = self._reader
        if reader is None or reader[0] != os.getpid():  # not one inherited through a fork
            self._reader = reader = (os.getpid(), self.sync_engine.raw_connection())
        return cast(sqlite3.Connection, reader[1].driver_connection)

    async def dispose(self) -> None:
        if self._reader is not None and self._reader[0] == os.getpid():
            self._reader[1].close()
        self._reader = None
        self.sync_engine.dispose()


def _pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()
