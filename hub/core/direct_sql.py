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
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Dialect
from sqlmodel import Session

from hub.core.types import UTCDateTime

__all__ = ["DirectSql", "in_list"]

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@lru_cache(maxsize=256)
def _pyformat(statement: str) -> str:
    """``:name`` → ``%(name)s`` (psycopg's style); a literal ``%`` is doubled."""
    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))


@lru_cache(maxsize=8)
def _time_binder(dialect: Dialect) -> Any:
    return UTCDateTime().dialect_impl(dialect).bind_processor(dialect)


def in_list(values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:v0, :v1, …`` and their parameters, for an ``IN (…)`` of direct SQL."""
    params = {f"v{n}": value for n, value in enumerate(values)}
    return ", ".join(f":{name}" for name in params), params


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

    def run_many(self, statement: str, rows: list[dict[str, Any]]) -> None:
        """Execute a write once per parameter set in ``rows``."""
        if rows:
            cursor = self._conn.cursor()
            try:
                cursor.executemany(_pyformat(statement) if self._pg else statement, rows)
            finally:
                cursor.close()
