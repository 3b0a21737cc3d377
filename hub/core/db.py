"""Database engine, sessions and migrations.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the API, the in-process
worker and the scheduler can share the file; PostgreSQL is used as is. The schema is managed by
Alembic (``hub db upgrade``); :func:`upgrade` runs the migrations programmatically.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from hub.core.direct_sql import DirectSql
from hub.core.waiting import WouldWait, check_may_wait, mark_attempt_wrote, may_wait

__all__ = ["Database", "upgrade"]

BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class Database:
    """One engine and its sessions. ``session()`` is a transaction: commit on success."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                path = url.split("///", 1)[1]
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url not in ("sqlite://", "sqlite:///:memory:"):
                # A file connection is cheap: never make a caller wait for one.
                kwargs["max_overflow"] = -1
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(url, **kwargs)
        self._read_engine = self.engine.execution_options(hub_read_only=True)
        self._write_lock = threading.RLock()
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate_if_asked)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def direct_sql(self, *, write: bool = False) -> Iterator[DirectSql]:
        """:class:`~hub.core.direct_sql.DirectSql` in a transaction of its own: a read
        transaction (one snapshot on SQLite; read committed on PostgreSQL), or with ``write``
        a write transaction (queued as :meth:`session` queues), committed when the block
        succeeds and rolled back if not."""
        if not write:
            self._check_reads_need_no_wait()
        with self._writer() if write else nullcontext():
            fairy = self.engine.raw_connection()
            try:
                dbapi: Any = fairy.dbapi_connection
                if self.is_sqlite:
                    if write:
                        _begin_immediate(dbapi)
                    else:
                        dbapi.execute("BEGIN")
                yield DirectSql(dbapi, self.engine.dialect)
                if write:
                    dbapi.commit()
                    mark_attempt_wrote()
            except BaseException:
                fairy.rollback()
                raise
            finally:
                fairy.close()  # back to the pool, which rolls back what is left open

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: on SQLite it does not take the write lock."""
        self._check_reads_need_no_wait()
        with Session(self._read_engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                # Detach first: a rollback would expire the loaded rows the caller keeps.
                session.expunge_all()
                session.rollback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed when the block succeeds, rolled back if not.

        On SQLite, writers of this process queue on a lock first: SQLite's own busy handler
        sleeps in steps of up to 100 ms, which turns contention into long tail latencies.
        Under :func:`hub.core.waiting.no_wait` a writer that would queue (on that lock, or on
        another process's write transaction) raises ``WouldWait`` before it writes."""
        with self._writer(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            mark_attempt_wrote()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        if not self.is_sqlite:  # PostgreSQL serialises writers itself; its I/O may wait
            check_may_wait()
            yield
            return
        if may_wait():
            self._write_lock.acquire()
        elif not self._write_lock.acquire(blocking=False):
            raise WouldWait
        try:
            yield
        finally:
            self._write_lock.release()

    def _check_reads_need_no_wait(self) -> None:
        # Readers of a SQLite WAL database never wait for writers; PostgreSQL is network I/O.
        if not self.is_sqlite:
            check_may_wait()

    def create_all(self) -> None:
        """Create every table directly (tests); production uses :func:`upgrade`."""
        from sqlmodel import SQLModel

        import hub.core.models  # noqa: F401  (registers the tables)

        SQLModel.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy (not pysqlite) issue BEGIN so transactions behave predictably.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin_immediate_if_asked(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
    # instead of failing on a lock upgrade mid-transaction.
    if conn.get_execution_options().get("hub_read_only"):
        conn.exec_driver_sql("BEGIN")
    else:
        _begin_immediate(conn.connection.dbapi_connection)


def _begin_immediate(dbapi_conn: Any) -> None:
    if may_wait():
        dbapi_conn.execute("BEGIN IMMEDIATE")
        return
    # Under no_wait: another process holding the write lock is not waited for.
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise WouldWait from exc
            raise
        finally:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the Alembic migrations to the database at ``url``."""
    from alembic import command

    if url.startswith("sqlite:///") and url not in ("sqlite:///:memory:",):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
