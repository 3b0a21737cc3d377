"""Direct SQL: plain statements on the driver's connection, for the statements vendors run on
every request (a DMS poll, an acknowledgement).

Running a statement through SQLAlchemy costs 50–80 µs before the database sees it; the
driver alone costs under 10 µs. A DMS acknowledgement is five statements, so the hot paths
(:meth:`hub.core.hub.Hub.context_for`, :func:`hub.core.exports.queue_fingerprint`, the
export transitions, ``order.updated`` events) speak SQL through :class:`DirectSql` instead,
written once with ``:name`` parameters for SQLite and PostgreSQL alike.

It runs either in a transaction of its own (:meth:`hub.core.db.Database.direct_sql`) or on
the connection of an ORM session's transaction (:meth:`DirectSql.of`), so the same
functions serve the REST API and the vendor routes. Values are what the driver returns:
datetimes come back as stored (strings on SQLite), which is all a fingerprint needs; datetimes
going in pass through :meth:`DirectSql.when`, stored exactly as the ORM stores them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Dialect
from sqlmodel import Session

from hub.core.types import UTCDateTime

__all__ = ["DirectSql", "in_list", "insert_rows", "update_rows"]

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    """``:name`` → ``%(name)s`` (psycopg's style); a literal ``%`` is doubled."""
    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))


@lru_cache(maxsize=256)
def _positional(statement: str, mark: str) -> str:
    """``:name`` → ``mark`` (``?`` or ``%s``), for values given in the order they appear."""
    if mark == "%s":
        statement = statement.replace("%", "%%")
    return _NAMED.sub(mark, statement)


@lru_cache(maxsize=8)
def _time_binder(dialect: Dialect) -> Any:
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


@lru_cache(maxsize=64)
def _marks(count: int) -> tuple[str, tuple[str, ...]]:
    names = tuple(f"v{n}" for n in range(count))
    return ", ".join(f":{name}" for name in names), names


def in_list(values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:v0, :v1, …`` and their parameters, for an ``IN (…)`` of direct SQL."""
    marks, names = _marks(len(values))
    return marks, dict(zip(names, values, strict=True))


class DirectSql:
    """Plain SQL on one driver connection (inside a transaction the caller owns)."""

    __slots__ = ("_conn", "_pg", "_time")

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self._conn = dbapi_connection
        self._pg = dialect.name != "sqlite"
        self._time = _time_binder(dialect)

    @classmethod
    def of(cls, session: Session) -> DirectSql:
        """Direct SQL in ``session``'s transaction (pending ORM changes are flushed first)."""
        session.flush()
        connection = session.connection()
        return cls(connection.connection.dbapi_connection, connection.dialect)

    def when(self, value: datetime | None) -> Any:
        """``value`` as a UTC timestamp column stores it."""
        return self._time(value)

    def _cursor(self, statement: str, params: dict[str, Any]) -> Any:
        cursor = self._conn.cursor()
        cursor.execute(_pyformat(statement) if self._pg else statement, params)
        return cursor

    def rows(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Every row ``statement`` returns."""
        cursor = self._cursor(statement, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def row(self, statement: str, **params: Any) -> tuple[Any, ...] | None:
        """The first row ``statement`` returns, or None."""
        cursor = self._cursor(statement, params)
        try:
            row = cursor.fetchone()
            return tuple(row) if row is not None else None
        finally:
            cursor.close()

    def run(self, statement: str, **params: Any) -> int:
        """Execute a write; returns the number of rows it changed."""
        cursor = self._cursor(statement, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert ``rows`` (tuples in ``columns``' order) into ``table``: on SQLite hundreds
        per ``INSERT … VALUES (…), (…)`` (within the connection's limit of parameters), a
        fraction of ``executemany``'s cost per row; on PostgreSQL one ``executemany``."""
        if not rows:
            return
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        if self._pg:
            self.run_many(head + "(" + ", ".join(f":{name}" for name in columns) + ")", rows)
            return
        one = "(" + ", ".join(["?"] * len(columns)) + ")"
        try:
            limit = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except AttributeError:  # a driver without getlimit: SQLite's historical minimum
            limit = 999
        per = max(1, min(500, limit // len(columns)))
        cursor = self._conn.cursor()
        try:
            full = head + ", ".join([one] * per)
            for start in range(0, len(rows), per):
                chunk = rows[start : start + per]
                statement = full if len(chunk) == per else head + ", ".join([one] * len(chunk))
                cursor.execute(statement, list(chain.from_iterable(chunk)))
        finally:
            cursor.close()

    def run_many(
        self, statement: str, rows: Sequence[dict[str, Any]] | Sequence[tuple[Any, ...]]
    ) -> None:
        """Execute a write once per parameter set in ``rows``: dicts by name, or tuples of
        the values in the order their ``:name`` marks appear in ``statement`` (each mark
        once) — SQLite binds a tuple in half the time of a dict, which counts at 100,000
        rows."""
        if not rows:
            return
        if isinstance(rows[0], tuple):
            statement = _positional(statement, "%s" if self._pg else "?")
        elif self._pg:
            statement = _pyformat(statement)
        cursor = self._conn.cursor()
        try:
            cursor.executemany(statement, rows)
        finally:
            cursor.close()


def _bound_rows(
    session: Session, table: Any, rows: Sequence[dict[str, Any]]
) -> tuple[Dialect, list[tuple[Any, ...]]]:
    """``rows`` as tuples (in the columns' order), each value bound by its column's type
    exactly as the ORM binds it (a value that is the same object in every row, a
    template's, is bound once)."""
    dialect = session.connection().dialect
    first = rows[0]
    binders: list[tuple[str, Any]] = []
    shared: dict[str, Any] = {}
    for name in first:
        bind = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if bind is None:
            continue
        if all(row[name] is first[name] for row in rows):
            shared[name] = bind(first[name])
        else:
            binders.append((name, bind))
    bound = []
    names = list(first)
    for row in rows:
        values = dict(row)
        values.update(shared)
        for name, bind in binders:
            values[name] = bind(values[name])
        bound.append(tuple([values[name] for name in names]))
    return dialect, bound


def insert_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (each with the same columns) into ``table`` with one ``executemany``
    on the driver's connection, in ``session``'s transaction, values bound as the ORM binds
    them, without SQLAlchemy's cost per row (a page of sales is hundreds of rows, an import
    thousands)."""
    if not rows:
        return
    sql = DirectSql.of(session)
    dialect, bound = _bound_rows(session, table, rows)
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    sql.run_many(
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"VALUES ({', '.join(f':{name}' for name in names)})",
        bound,
    )


def update_rows(
    session: Session, table: Any, keys: Iterable[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Update ``table``'s rows named by the columns ``keys`` to the other values of each of
    ``rows`` (each with the same columns), as :func:`insert_rows` inserts."""
    if not rows:
        return
    sql = DirectSql.of(session)
    where = list(keys)
    values = [name for name in rows[0] if name not in where]
    ordered = [{name: row[name] for name in (*values, *where)} for row in rows]
    dialect, bound = _bound_rows(session, table, ordered)
    quote = dialect.identifier_preparer.quote
    sql.run_many(
        f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(n)} = :{n}' for n in values)} "
        f"WHERE {' AND '.join(f'{quote(n)} = :{n}' for n in where)}",
        bound,
    )
