"""Direct SQL: plain statements with ``:name`` parameters, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hub.core.db import Database
from hub.core.direct_sql import _pyformat, insert_rows, update_rows
from hub.core.models import Tenant
from hub.core.runs import csv_field, csv_line, report_csv


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


def test_rows_given_as_tuples_bind_in_the_order_of_their_marks(db: Database) -> None:
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    later = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    with db.direct_sql(write=True) as sql:
        sql.run_many(
            "INSERT INTO tenants (slug, name, timezone, company_address, created_at, updated_at)"
            " VALUES (:slug, :name, 'UTC', '{}', :created, :updated)",
            [
                ("t-one", "One 100%", sql.when(at), sql.when(at)),
                ("t-two", "Two", sql.when(at), sql.when(later)),
            ],
        )
    with db.read() as session:
        found = {t.slug: (t.name, t.created_at, t.updated_at) for t in session.query(Tenant)}
    assert found["t-one"] == ("One 100%", at, at)
    assert found["t-two"] == ("Two", at, later)


def test_rows_inserted_and_updated_directly_read_back_through_the_orm(db: Database) -> None:
    when = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)
    table = Tenant.__table__  # type: ignore[attr-defined]
    row = {
        "slug": "direct-rows",
        "name": "Rows",
        "timezone": "UTC",
        "company_address": {"city": "Ghent", "lines": ["Veldstraat 1"]},
        "created_at": when,
        "updated_at": when,
    }
    with db.session() as session:
        insert_rows(session, table, [row])
    with db.session() as session:
        update_rows(
            session,
            table,
            ["slug"],
            [
                {
                    "name": "Rows, updated",
                    "company_address": {"city": "Bruges"},
                    "slug": "direct-rows",
                }
            ],
        )
    with db.read() as session:
        tenant = session.query(Tenant).filter_by(slug="direct-rows").one()
    assert (tenant.name, tenant.company_address, tenant.created_at) == (
        "Rows, updated",
        {"city": "Bruges"},
        when,
    )


@pytest.mark.parametrize(
    "value", ["plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "", None, 7, Decimal("19.90")]
)
def test_a_report_field_is_written_as_the_csv_module_writes_it(value: object) -> None:
    row = ["x", value, "y"]
    line = ",".join(csv_field(v) for v in row)
    assert csv_line(row) == line
    if "\r" not in str(value):  # (a carriage return is quoted too, which the module does not)
        assert report_csv(["a", "b", "c"], [row]) == f"a,b,c\n{line}\n"
    expected = "" if value is None else str(value)
    assert next(csv.reader(io.StringIO(line, newline=""))) == ["x", expected, "y"]
