"""Work tried on the event loop: whatever would wait says so before it changes anything."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest

from hub.core.db import Database
from hub.core.models import Tenant
from hub.core.waiting import WouldWait, no_wait
from tests.core.conftest import make_hub


@contextmanager
def another_thread_writing(db: Database, slug: str | None = None) -> Iterator[threading.Event]:
    """Another thread holds a write transaction (adding tenant ``slug``, if given) until the
    yielded event is set or the block ends; it commits then."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as session:
            if slug is not None:
                session.add(Tenant(slug=slug, name=slug.title()))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join()


def _tenants(db: Database) -> list[str]:
    with db.direct_sql() as sql:
        return [row[0] for row in sql.rows("SELECT slug FROM tenants ORDER BY slug")]


def test_a_write_waits_for_nobody_under_no_wait_when_the_lock_is_free(sqlite_db: Database) -> None:
    with no_wait(), sqlite_db.session() as session:
        session.add(Tenant(slug="free", name="Free"))
    assert _tenants(sqlite_db) == ["free"]


def test_a_write_behind_another_threads_writer_raises_would_wait_and_writes_nothing(
    sqlite_db: Database,
) -> None:
    with (
        another_thread_writing(sqlite_db, "first"),
        pytest.raises(WouldWait),
        no_wait(),
        sqlite_db.session() as session,
    ):
        session.add(Tenant(slug="second", name="Second"))
    assert _tenants(sqlite_db) == ["first"]


def test_a_write_behind_another_process_raises_would_wait_at_once(sqlite_db: Database) -> None:
    other = sqlite3.connect(sqlite_db.url.split("///", 1)[1], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        started = time.monotonic()
        with pytest.raises(WouldWait), no_wait(), sqlite_db.session() as session:
            session.add(Tenant(slug="blocked", name="Blocked"))
        assert time.monotonic() - started < 5  # not the 30 s busy timeout
    finally:
        other.execute("ROLLBACK")
        other.close()
    # The connection waits normally again once waiting is allowed.
    with sqlite_db.session() as session:
        session.add(Tenant(slug="later", name="Later"))
    assert _tenants(sqlite_db) == ["later"]


def test_reads_run_under_no_wait_while_another_thread_writes(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        session.add(Tenant(slug="seen", name="Seen"))
    with another_thread_writing(sqlite_db, "unseen"), no_wait():
        assert _tenants(sqlite_db) == ["seen"]


def test_a_request_that_would_wait_on_the_loop_finishes_in_a_thread(sqlite_db: Database) -> None:
    hub = make_hub(sqlite_db)
    calls: list[str] = []

    def work() -> str:
        calls.append(threading.current_thread().name)
        with sqlite_db.session() as session:
            session.add(Tenant(slug=f"t{len(calls)}", name="T"))
        return "done"

    async def main() -> Any:
        return await hub.run_on_loop_or_thread(work)

    with another_thread_writing(sqlite_db) as release:
        threading.Timer(0.3, release.set).start()
        assert anyio.run(main) == "done"
    assert len(calls) == 2 and calls[0] != calls[1]  # tried on the loop, done in a thread
    assert _tenants(sqlite_db) == ["t2"]  # the first try wrote nothing


def test_after_a_committed_write_a_busy_lock_is_waited_for_not_retried(
    sqlite_db: Database,
) -> None:
    with no_wait():
        with sqlite_db.session() as session:
            session.add(Tenant(slug="one", name="One"))
        with another_thread_writing(sqlite_db) as release:
            threading.Timer(0.3, release.set).start()
            with sqlite_db.session() as session:  # would re-run "one" if it raised
                session.add(Tenant(slug="two", name="Two"))
    assert _tenants(sqlite_db) == ["one", "two"]
