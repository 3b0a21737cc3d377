"""Direct SQL: plain statements with ``:name`` parameters, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.db import Database
from hub.core.direct_sql import _pyformat
from hub.core.models import Tenant


def test_named_parameters_become_pyformat_and_percent_signs_are_kept() -> None:
    sql = "SELECT 1 WHERE a = :a AND b LIKE '5%' AND c::text = :c_2"
    assert _pyformat(sql) == "SELECT 1 WHERE a = %(a)s AND b LIKE '5%%' AND c::text = %(c_2)s"


def test_a_time_written_by_direct_sql_reads_back_through_the_orm_unchanged(db: Database) -> None:
    when = datetime(2026, 11, 23, 17, 4, 5, 123456, tzinfo=UTC)
    with db.direct_sql(write=True) as sql:
        sql.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES (:slug, :name, 'UTC', '{}', :at, :at)",
            slug="direct",
            name="Direct & Co",
            at=sql.when(when),
        )
    with db.read() as session:
        tenant = session.query(Tenant).filter_by(slug="direct").one()
    assert tenant.name == "Direct & Co"
    assert tenant.created_at == when


def test_a_failing_direct_sql_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError), db.direct_sql(write=True) as sql:
        sql.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES ('gone', 'Gone', 'UTC', '{}', :at, :at)",
            at=sql.when(datetime.now(UTC)),
        )
        raise RuntimeError("half-way")
    with db.direct_sql() as sql:
        assert sql.rows("SELECT slug FROM tenants") == []


def test_a_direct_sql_read_on_sqlite_sees_one_snapshot(sqlite_db: Database) -> None:
    db = sqlite_db
    with db.session() as session:
        session.add(Tenant(slug="before", name="Before"))
    with db.direct_sql() as sql:
        first = sql.rows("SELECT slug FROM tenants ORDER BY slug")
        with db.session() as session:
            session.add(Tenant(slug="during", name="During"))
        second = sql.rows("SELECT slug FROM tenants ORDER BY slug")
    assert first == second == [("before",)]


def test_a_whole_second_is_stored_as_text_exactly_as_the_orm_stores_it(
    sqlite_db: Database,
) -> None:
    when = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    with sqlite_db.session() as session:
        session.add(Tenant(slug="orm", name="ORM", created_at=when, updated_at=when))
    with sqlite_db.direct_sql(write=True) as sql:
        sql.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES ('direct', 'Direct', 'UTC', '{}', :at, :at)",
            at=sql.when(when),
        )
    with sqlite_db.direct_sql() as sql:
        stored = sql.rows("SELECT slug, created_at FROM tenants ORDER BY slug")
    assert stored == [
        ("direct", "2026-01-01 12:00:00.000000"),
        ("orm", "2026-01-01 12:00:00.000000"),
    ]
