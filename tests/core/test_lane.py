"""The lane: plain SQL with ``:name`` parameters, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.db import Database
from hub.core.lane import _pyformat
from hub.core.models import Tenant


def test_named_parameters_become_pyformat_and_percent_signs_are_kept() -> None:
    sql = "SELECT 1 WHERE a = :a AND b LIKE '5%' AND c::text = :c_2"
    assert _pyformat(sql) == "SELECT 1 WHERE a = %(a)s AND b LIKE '5%%' AND c::text = %(c_2)s"


def test_a_time_written_on_the_lane_reads_back_through_the_orm_unchanged(db: Database) -> None:
    when = datetime(2026, 11, 23, 17, 4, 5, 123456, tzinfo=UTC)
    with db.lane(write=True) as lane:
        lane.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES (:slug, :name, 'UTC', '{}', :at, :at)",
            slug="lane",
            name="Lane & Co",
            at=lane.when(when),
        )
    with db.read() as session:
        tenant = session.query(Tenant).filter_by(slug="lane").one()
    assert tenant.name == "Lane & Co"
    assert tenant.created_at == when


def test_a_failing_lane_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError), db.lane(write=True) as lane:
        lane.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES ('gone', 'Gone', 'UTC', '{}', :at, :at)",
            at=lane.when(datetime.now(UTC)),
        )
        raise RuntimeError("half-way")
    with db.lane() as lane:
        assert lane.rows("SELECT slug FROM tenants") == []


def test_a_read_lane_on_sqlite_sees_one_snapshot(sqlite_db: Database) -> None:
    db = sqlite_db
    with db.session() as session:
        session.add(Tenant(slug="before", name="Before"))
    with db.lane() as lane:
        first = lane.rows("SELECT slug FROM tenants ORDER BY slug")
        with db.session() as session:
            session.add(Tenant(slug="during", name="During"))
        second = lane.rows("SELECT slug FROM tenants ORDER BY slug")
    assert first == second == [("before",)]


def test_a_whole_second_is_stored_as_text_exactly_as_the_orm_stores_it(
    sqlite_db: Database,
) -> None:
    when = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    with sqlite_db.session() as session:
        session.add(Tenant(slug="orm", name="ORM", created_at=when, updated_at=when))
    with sqlite_db.lane(write=True) as lane:
        lane.run(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES ('lane', 'Lane', 'UTC', '{}', :at, :at)",
            at=lane.when(when),
        )
    with sqlite_db.lane() as lane:
        stored = lane.rows("SELECT slug, created_at FROM tenants ORDER BY slug")
    assert stored == [("lane", "2026-01-01 12:00:00.000000"), ("orm", "2026-01-01 12:00:00.000000")]
