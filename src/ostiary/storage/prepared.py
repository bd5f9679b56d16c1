"""The statements behind every token request as prepared statements: a Core statement compiled
once per dialect, run on the driver's connection directly, its rows converted with SQLAlchemy's
own type processors.

Hand-written because SQLAlchemy has no such short path. Its ``Connection.execute`` builds an
execution context, a cursor result and its metadata for every statement, and a checkout (pool,
autobegin, reset on return) around every block. For the lookups behind every token request
(client authentication, the login behind a bearer token or a refresh token), that machinery
cost several times the statement: client authentication took 54 µs through a checkout and
``execute``, against 6 µs for the same SQL on the sqlite3 cursor. Only fixed statements with
plain bound values use this: one-statement reads (``Database.fetch``) and the short write
transactions of the token endpoint (``Database.writing``); everything else goes through
SQLAlchemy as before.

The rows answer what the stores' row mappers ask of SQLAlchemy's: ``row._mapping[column]``
with the ``Column`` object, ``row._mapping["name"]`` and ``row.name`` for a name that only
one selected column has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["AnyRow", "Plan", "Prepared", "PreparedRow", "Writer"]

Statement = sa.Select[Any] | sa.Insert | sa.Update | sa.Delete


class PreparedRow:
    """One row: the values, and the shared index from column (or unique name) to position."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: tuple[Any, ...], index: Mapping[Any, int]) -> None:
        self._values = values
        self._index = index

    @property
    def _mapping(self) -> PreparedRow:
        return self

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._index[key]]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


# What the row mappers read: SQLAlchemy's rows, or these.
AnyRow = sa.Row[Any] | PreparedRow


class Plan:
    """A statement compiled for one dialect: its SQL, how to bind, how to read a row."""

    __slots__ = ("_binders", "_index", "_readers", "_width", "sql")

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: prepared statements need positional parameters")
        self.sql = str(compiled)
        self._binders: list[tuple[str, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding or bind.callable is not None or bind.value is not None:
                raise ValueError(f"prepared statements take plain bound values only: {name}")
            self._binders.append((name, bind.type._cached_bind_processor(dialect)))
        columns = list(statement.exported_columns)  # selected or RETURNING; none otherwise
        # The processors SQLAlchemy itself applies to this dialect's raw values (the adapted
        # type, e.g. SQLite's DATETIME that parses text, and TypeDecorators).
        readers = [column.type._cached_result_processor(dialect, None) for column in columns]
        # Only the columns that need converting (dates on SQLite, JSON, decorators), by position.
        self._readers = [(i, read) for i, read in enumerate(readers) if read is not None]
        self._width = len(columns)
        index: dict[Any, int] = {}
        names: dict[str, int] = {}
        for i, column in enumerate(columns):
            index[column] = i
            if column.key is not None:
                names[column.key] = -1 if column.key in names else i
        index.update({name: i for name, i in names.items() if i >= 0})
        self._index = index

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self._binders
        )

    def row(self, raw: tuple[Any, ...] | Any) -> PreparedRow:
        if len(raw) != self._width:
            raise ValueError(f"a row of {len(raw)} values for {self._width} columns")
        values = list(raw)
        for i, read in self._readers:
            values[i] = read(values[i])
        return PreparedRow(tuple(values), self._index)


class Prepared:
    """A statement built once at import, planned once per dialect on first use."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._plans: dict[str, Plan] = {}

    def plan(self, dialect: Dialect) -> Plan:
        found = self._plans.get(dialect.name)
        if found is None:
            found = self._plans[dialect.name] = Plan(self.statement, dialect)
        return found


class Writer(Protocol):
    """Prepared statements inside one write transaction (``Database.writing``)."""

    async def rows(
        self, prepared: Prepared, parameters: Mapping[str, Any]
    ) -> Sequence[PreparedRow]:
        """The rows a statement returns (a ``SELECT``, or ``RETURNING``)."""
        ...

    async def run(self, prepared: Prepared, parameters: Mapping[str, Any]) -> int:
        """How many rows an ``INSERT``, ``UPDATE`` or ``DELETE`` changed."""
        ...
