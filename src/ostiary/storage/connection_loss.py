"""PostgreSQL out of reach, or ending a connection (a restart, a failover, an idle-connection
killer, ``pg_terminate_backend``): what is tried again, and the one error the rest is.

- A connection found closed when it is taken (the server ended it while it sat idle) is let
  go and another taken: nothing was sent on it. The pool does it for its own checkouts (a
  ``checkout`` listener that asks the driver, no round trip), ``PostgresEngine`` for the
  connections it keeps between turns.
- A read that loses its connection reads again, once, on another one: reading twice changes
  nothing. Reads run outside a transaction (``PostgresEngine.connect``), so each statement is
  read again on its own.
- A write transaction whose BEGIN loses its connection begins again on another: nothing was
  written yet.
- A write that loses its connection after that is not tried again: the COMMIT (or the one
  autocommitted statement) may have reached the server and its answer not come back, so doing
  it again could do it twice. It ends, like an unreachable server, in ``DatabaseUnavailable``,
  which the web layer answers 503 with ``Retry-After``: the client is told that the request did
  not succeed and may be made again, never that it did.

A lost connection never goes back to the pool: it is invalidated (SQLAlchemy does so itself
for its connections when the driver reports it closed) and the pool opens a new one.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.base import Executable

__all__ = [
    "ConnectionLost",
    "DatabaseUnavailable",
    "PoolExhausted",
    "ReadingConnection",
    "lost",
    "open_connection",
    "refuse_closed_on_checkout",
    "unreachable",
    "warn",
]

log = logging.getLogger("ostiary.storage")


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or lost a connection where trying again could repeat a
    write: nothing the request asked for is known to be done. ``str()`` says so, with no SQL
    and no values in it."""

    retry_after_s = 1  # what a client is told to wait before it tries again


class ConnectionLost(DatabaseUnavailable):
    """A connection broke while it was in use."""


class PoolExhausted(DatabaseUnavailable):
    """Every connection of the pool stayed busy for the whole wait: the server is too busy
    now, and nothing was done (answered 503 with Retry-After, like a database out of reach)."""


def lost(err: BaseException) -> bool:
    """Whether SQLAlchemy saw a connection end under ``err`` (and invalidated it)."""
    return isinstance(err, sa.exc.DBAPIError) and err.connection_invalidated


def unreachable(err: BaseException, dbapi_error: type[Exception] | None = None) -> bool:
    """Whether opening or taking a connection failed because of the server or the network
    (refused, closed, not accepting connections), rather than a bug. ``dbapi_error``: the
    driver's DB-API ``Error`` class, raised as it is by the pool's own ``connect``."""
    if isinstance(err, (sa.exc.DBAPIError, sa.exc.DisconnectionError, OSError)):
        return True
    if dbapi_error is not None and isinstance(err, dbapi_error):
        return True
    if isinstance(err, sa.exc.InvalidRequestError):  # the pool's checkout retries ran out
        return True
    return type(err).__module__.startswith("asyncpg")


def warn(err: BaseException, during: str, then: str) -> None:
    """One WARNING line: the kind of error only (a driver's message can carry SQL or values)."""
    cause = err.orig if isinstance(err, sa.exc.DBAPIError) else err
    log.warning("PostgreSQL connection lost during %s (%s): %s", during, type(cause).__name__, then)


def refuse_closed_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pool ``checkout`` listener: a connection the server has closed is not handed out; the
    pool opens another in its place (SQLAlchemy's documented answer to ``DisconnectionError``
    raised here). Costs no round trip, unlike ``pool_pre_ping``."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa.exc.DisconnectionError("the server closed this connection while it was idle")


async def open_connection(engine: AsyncEngine) -> AsyncConnection:
    """A connection of ``engine``'s pool; DatabaseUnavailable if none can be had."""
    conn = AsyncConnection(engine)
    try:
        await conn.start()
    except Exception as err:
        if unreachable(err):
            warn(err, "a checkout", "answering 503")
            raise DatabaseUnavailable("The database cannot be reached; try again shortly.") from err
        raise
    return conn


def _reads_only(statement: Executable) -> bool:
    return bool(getattr(statement, "is_select", False))


class ReadingConnection:
    """``DatabaseConnection`` for reads outside a transaction: a ``SELECT`` whose connection is
    lost runs again, once, on a new connection from the pool."""

    __slots__ = ("_conn", "_engine")

    def __init__(self, engine: AsyncEngine, conn: AsyncConnection) -> None:
        self._engine = engine
        self._conn = conn

    async def execute(self, statement: Executable, parameters: Any = None) -> Any:
        try:
            return await self._conn.execute(statement, parameters)
        except sa.exc.DBAPIError as err:
            if not (lost(err) and _reads_only(statement)):
                raise
            warn(err, "a read", "reading again on another connection")
        await self._conn.close()
        self._conn = await open_connection(self._engine)
        return await self._conn.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Executable, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalars()

    def begin_nested(self) -> Any:
        return self._conn.begin_nested()

    async def run_sync(self, fn: Any) -> Any:
        return await self._conn.run_sync(fn)

    async def close(self) -> None:
        await self._conn.close()
