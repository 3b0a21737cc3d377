"""Benchmark of the inventory apply engine (``hub.core.inventory.apply_inventory``).

200,000 vendor records (5 % unmatched) against a 200,000-product catalog, matched by
catalog + brand + part number, on SQLite (a temp file) and, when available, PostgreSQL.

Targets: ≥ 50,000 records/s, and ≥ 0.5 × the rate of the floor — a raw bulk upsert of the same
rows (product ids known in advance) through SQLAlchemy Core in the same run. Peak memory
(ru_maxrss) must stay under 1 GiB.

    .venv/bin/python bench/inventory_apply.py [--records N] [--postgres-url URL | --no-postgres]

Ends with ``RESULT <name> value=<number> unit=<unit> floor=<number> ratio=<number>`` lines.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import insert

from hub.core.db import Database
from hub.core.inventory import apply_inventory
from hub.core.models import InventoryLevel, Location, PluginInstall, Product, Tenant
from hub.core.records import (
    ApplyOutcome,
    InventoryRecord,
    MatchRule,
    normalise_brand,
    normalise_part_number,
)
from hub.core.types import utcnow

PG_BIN = Path(os.environ.get("HUB_PG_BIN", "/usr/lib/postgresql/15/bin"))
BRANDS = [f"Brand {i:02d}" for i in range(40)]
TARGET_RATE = 50_000
TARGET_RATIO = 0.5
MEMORY_LIMIT_MIB = 1024


def seed(db: Database, n_products: int) -> tuple[int, int, int, int, list[int]]:
    """Tenant, location, two installs (engine, floor) and the catalog, by bulk Core insert."""
    db.create_all()
    now = utcnow()
    with db.session() as session:
        tenant = Tenant(slug="bench", name="Bench")
        session.add(tenant)
        session.flush()
        assert tenant.id is not None
        location = Location(tenant_id=tenant.id, code="main", name="Main")
        engine_install = PluginInstall(tenant_id=tenant.id, plugin_id="engine", enabled=True)
        floor_install = PluginInstall(tenant_id=tenant.id, plugin_id="floor", enabled=True)
        session.add_all([location, engine_install, floor_install])
        session.flush()
        ids = (tenant.id, location.id, engine_install.id, floor_install.id)
    tenant_id = ids[0]
    rows = []
    for i in range(n_products):
        brand = BRANDS[i % len(BRANDS)]
        part = f"{i:06d}-{i % 97:02d}"
        rows.append(
            {
                "tenant_id": tenant_id,
                "sku": f"SKU{i:07d}",
                "sku_norm": f"SKU{i:07d}",
                "title": "",
                "catalog": "aftermarket",
                "brand": brand,
                "brand_norm": normalise_brand(brand),
                "part_number": part,
                "part_norm": normalise_part_number(part),
                "created_at": now,
                "updated_at": now,
            }
        )
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(Product), rows[start : start + 20_000])
    with db.read() as session:
        product_ids = [
            int(pid)
            for pid in session.exec(  # type: ignore[call-overload]
                Product.__table__.select()
                .with_only_columns(Product.__table__.c.id)  # type: ignore[attr-defined]
                .order_by(Product.__table__.c.id)  # type: ignore[attr-defined]
            ).scalars()
        ]
    return (*ids, product_ids)  # type: ignore[return-value]


def make_records(
    n: int, n_products: int, *, unmatched: float = 0.05, shift: int = 0
) -> list[InventoryRecord]:
    records = []
    cut = int(n * (1 - unmatched))
    for i in range(n):
        if i < cut:
            j = i % n_products
            records.append(
                InventoryRecord(
                    key=f"{j:06d}-{j % 97:02d}",
                    quantity=(i + shift) % 13,
                    catalog="aftermarket",
                    brand=BRANDS[j % len(BRANDS)],
                    ref=f"r{i}",
                )
            )
        else:
            records.append(
                InventoryRecord(
                    key=f"X{i:07d}", quantity=1, catalog="aftermarket", brand=BRANDS[0], ref=f"r{i}"
                )
            )
    return records


def time_engine(
    db: Database, ids: tuple[int, int, int], records: list[InventoryRecord]
) -> tuple[float, dict[str, int]]:
    tenant_id, location_id, install_id = ids
    started = time.perf_counter()
    with db.session() as session:
        result = apply_inventory(
            session,
            tenant_id=tenant_id,
            install_id=install_id,
            location_id=location_id,
            records=records,
            rule=MatchRule.CATALOG_BRAND_PART,
        )
    elapsed = time.perf_counter() - started
    return elapsed, result.counts


def time_floor(
    db: Database,
    ids: tuple[int, int, int],
    product_ids: list[int],
    records: list[InventoryRecord],
    shift: int = 0,
) -> float:
    """A raw INSERT … ON CONFLICT DO UPDATE executemany of the matched rows."""
    tenant_id, location_id, install_id = ids
    matched = int(len(records) * 0.95)
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant_id,
            "product_id": product_ids[i % len(product_ids)],
            "location_id": location_id,
            "install_id": install_id,
            "quantity": (i + shift) % 13,
            "updated_at": now,
        }
        for i in range(matched)
    ]
    if db.is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(InventoryLevel.__table__)  # type: ignore[arg-type]
    stmt = stmt.on_conflict_do_update(
        index_elements=["product_id", "location_id", "install_id"],
        set_={"quantity": stmt.excluded.quantity, "updated_at": stmt.excluded.updated_at},
    )
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(stmt, rows)
    return time.perf_counter() - started


def bench(name: str, url: str, n_records: int, n_products: int) -> dict[str, float]:
    print(f"\n== {name}: {n_records:,} records, {n_products:,} products ==", flush=True)
    db = Database(url)
    try:
        started = time.perf_counter()
        tenant_id, location_id, engine_install, floor_install, product_ids = seed(db, n_products)
        print(f"seeded the catalog in {time.perf_counter() - started:.1f}s", flush=True)
        records = make_records(n_records, n_products)
        engine_ids = (tenant_id, location_id, engine_install)
        floor_ids = (tenant_id, location_id, floor_install)

        floor_first = time_floor(db, floor_ids, product_ids, records)
        first, counts = time_engine(db, engine_ids, records)
        assert counts[ApplyOutcome.UNMATCHED.value] == n_records - int(n_records * 0.95), counts
        assert counts[ApplyOutcome.UPDATED.value] == int(n_records * 0.95), counts
        print(
            f"first import (inserts):  engine {first:6.2f}s = {n_records / first:9,.0f} rec/s;"
            f"  floor {floor_first:6.2f}s = {n_records / floor_first:9,.0f} rec/s",
            flush=True,
        )

        changed = make_records(n_records, n_products, shift=1)
        floor_second = time_floor(db, floor_ids, product_ids, changed, shift=1)
        second, counts = time_engine(db, engine_ids, changed)
        print(
            f"second import (updates): engine {second:6.2f}s = {n_records / second:9,.0f} rec/s;"
            f"  floor {floor_second:6.2f}s = {n_records / floor_second:9,.0f} rec/s",
            flush=True,
        )

        unchanged, counts = time_engine(db, engine_ids, changed)
        assert counts[ApplyOutcome.UNCHANGED.value] == int(n_records * 0.95), counts
        print(
            f"same import (unchanged): engine {unchanged:6.2f}s = {n_records / unchanged:9,.0f} rec/s",
            flush=True,
        )
        # The figure: first and second import together, against the floor doing the same.
        rate = 2 * n_records / (first + second)
        floor_rate = 2 * n_records / (floor_first + floor_second)
        return {"rate": rate, "floor": floor_rate}
    finally:
        db.dispose()


@contextmanager
def throwaway_postgres() -> Iterator[str | None]:
    """A PostgreSQL server in a temp dir (as tests/conftest.py starts it); None if missing."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        yield None
        return
    import psycopg

    from hub.serving import free_port

    datadir = tempfile.mkdtemp(prefix="hub-bench-pg-")
    port = free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run_as: list[str] = []
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
            user = "postgres"
        except KeyError:
            user = "nobody"
        shutil.chown(datadir, user=user)
        run_as = ["runuser", "-u", user, "--"]
    subprocess.run(
        [*run_as, str(initdb), "-D", datadir, "-U", "hub", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    proc = subprocess.Popen(
        [
            *run_as,
            str(PG_BIN / "postgres"),
            "-D",
            datadir,
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            datadir,
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        for _ in range(300):
            try:
                psycopg.connect(f"host=127.0.0.1 port={port} user=hub dbname=postgres").close()
                break
            except psycopg.OperationalError:
                time.sleep(0.05)
        with psycopg.connect(
            f"host=127.0.0.1 port={port} user=hub dbname=postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE bench")
        yield f"postgresql+psycopg://hub@127.0.0.1:{port}/bench"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(datadir, ignore_errors=True)


def peak_memory_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / (1024 * 1024)


def result_line(name: str, value: float, unit: str, floor: float) -> str:
    return (
        f"RESULT {name} value={value:.0f} unit={unit} floor={floor:.0f} ratio={value / floor:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--postgres-url", default=None, help="an empty PostgreSQL database to use")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    results: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        figures = bench("sqlite", f"sqlite:///{tmp}/bench.db", args.records, args.products)
    results.append(
        result_line("inventory_apply_sqlite", figures["rate"], "records/s", figures["floor"])
    )
    ok &= figures["rate"] >= TARGET_RATE and figures["rate"] >= TARGET_RATIO * figures["floor"]

    if not args.no_postgres:
        if args.postgres_url:
            figures = bench("postgresql", args.postgres_url, args.records, args.products)
            results.append(
                result_line(
                    "inventory_apply_postgresql", figures["rate"], "records/s", figures["floor"]
                )
            )
        else:
            with throwaway_postgres() as url:
                if url is None:
                    print(
                        f"\nnote: PostgreSQL binaries not found under {PG_BIN}; skipping PostgreSQL"
                    )
                else:
                    figures = bench("postgresql", url, args.records, args.products)
                    results.append(
                        result_line(
                            "inventory_apply_postgresql",
                            figures["rate"],
                            "records/s",
                            figures["floor"],
                        )
                    )

    memory = peak_memory_mib()
    ok &= memory < MEMORY_LIMIT_MIB
    print(
        f"\npeak memory {memory:.0f} MiB; targets: ≥ {TARGET_RATE:,} records/s and "
        f"≥ {TARGET_RATIO} × floor on SQLite, < {MEMORY_LIMIT_MIB} MiB: {'met' if ok else 'NOT met'}"
    )
    results.append(result_line("inventory_apply_peak_memory", memory, "MiB", MEMORY_LIMIT_MIB))
    print("\n".join(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
