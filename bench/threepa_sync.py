"""Bench: throughput of the 3PA inventory sync, end to end, against the 3PA sandbox.

The dealer has ``--parts`` parts (200,000) spread evenly over ``--codes`` supplier codes (8),
every one in stock and updated in the last 30 days, so a full pull returns all of them. The
sandbox runs in its own process (uvicorn on 127.0.0.1) with its rate limit lifted. The hub
tenant's catalog holds a product for ``--matched`` (95 %) of the parts, bulk-inserted with
SQLAlchemy Core into a SQLite file under a temp dir, plus ``--stale`` products (1 % of the parts)
whose stock from an earlier pull the "clear previous quantities" option must set to zero. The
DMS install maps the supplier codes to the catalogs' brands (pricing retail, current active
or disabled, in turn) and the hub's 3PA governor allows 1,000,000 requests a minute.

First the floor: the same pages (same ``$filter``/``$orderby``/``$top``/``$skip``) fetched with
plain httpx and decoded with ``json.loads``, one after another as the sync does. Then the
``inventory_sync`` job: queued and executed in this process (``hub.execute_run``), timed
from the start of the run to its end (fetch, parse, apply, clear, report, run row).

The sync derives its ``lastupdatedate`` cutoff from the clock at the start of the run, and the
sandbox caches its filter results per ``$filter`` text. So that the sync and the floor ask for
the very same pages (and neither pays for the sandbox's first evaluation of a filter over the
whole warehouse, a cost of the sandbox, not of the hub), the bench pins the sync module's clock
to the moment the bench starts and warms the sandbox's cache for those filters before the floor.

Prints::

    RESULT threepa_fetch_floor value=<parts/s> unit=parts/s floor=<parts/s> ratio=1
    RESULT threepa_sync_rate value=<parts/s> unit=parts/s floor=<fetch parts/s> ratio=…
    RESULT threepa_sync_peak_rss value=<MiB> unit=MiB floor=1024 ratio=value/1024

Targets: ≥ 20,000 parts/s end to end on SQLite; peak RSS under 1 GiB.

Run: ``.venv/bin/python bench/threepa_sync.py [--parts 200000] [--codes 8]``; add
``--profile`` to print where the sync spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import select

from bench._common import ServerProcess, result, serve_app
from hub.core import catalog, tenants
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.models import InventoryLevel, JobRun, Product
from hub.core.records import normalise_brand, normalise_part_number
from hub.plugin.manager import PluginManager
from hub.settings import load_settings
from plugins.lightspeed_dms import sync as dms_sync
from plugins.lightspeed_dms.threepa.odata import parts_filter
from plugins.lightspeed_dms.threepa.sandbox import create_app, format_dealer_datetime

SECRET_KEY = "bench-secret-key-" + "x" * 32
DEALER = "76014846"
TIMEZONE = "America/Chicago"
USERS = {"bench": "bench-pass"}
PAGE = 500
CHUNK = 20_000

# Supplier code, brand, catalog, pricing, part-number style.
CODES: tuple[tuple[str, str, str, str, str], ...] = (
    ("TR", "Tucker Rocky", "aftermarket", "retail", "dash"),
    ("WPS", "Western Power Sports", "aftermarket", "current_active", "plain"),
    ("KA", "Kawasaki", "oem", "retail", "oem"),
    ("HO", "Honda", "oem", "current_active", "honda"),
    ("PU", "Parts Unlimited", "aftermarket", "disabled", "dash"),
    ("YA", "Yamaha", "oem", "retail", "oem"),
    ("SU", "Suzuki", "oem", "disabled", "plain"),
    ("MR", "Moose Racing", "aftermarket", "retail", "dash"),
)
STYLES = ("dash", "plain", "oem", "honda")


def supplier_codes(n: int) -> list[tuple[str, str, str, str, str]]:
    """``n`` supplier codes: the eight real-looking ones, then synthetic ones."""
    codes = list(CODES[:n])
    pricing = ("retail", "current_active", "disabled")
    for k in range(len(codes), n):
        codes.append((f"X{k:02d}", f"Brand {k}", "aftermarket", pricing[k % 3], STYLES[k % 4]))
    return codes


def part_number(i: int, style: str) -> str:
    """The part number of part ``i`` (unique per ``i``), written in its supplier's style."""
    if style == "dash":
        return f"{10 + i % 90}-{i // 90:05d}"
    if style == "oem":
        return f"{i:06d}-{i % 7:03d}"
    if style == "honda":
        return f"{90000 + i % 9000}-KZ3-{i // 9000:03d}"
    return f"{i:08d}"


def make_parts(n: int, n_codes: int, now: datetime) -> list[dict[str, Any]]:
    """The dealer's parts: all in stock, updated in the last 30 days, numbers as the warehouse
    sends them (ints, floats and strings)."""
    codes = supplier_codes(n_codes)
    parts = []
    for i in range(n):
        code, _brand, _cat, _pricing, style = codes[i % n_codes]
        on_hand = 1 + i % 40
        retail = round(5 + (i % 997) * 0.37, 2)
        updated = now - timedelta(days=i % 30, seconds=i % 86_400, microseconds=(i % 100) * 10_000)
        parts.append(
            {
                "DealerId": DEALER,
                "PartNumber": part_number(i, style),
                "SupplierCode": code,
                "Description": f"PART {i}",
                "OnHand": on_hand if i % 10 else float(on_hand),
                "Avail": max(on_hand - i % 3, 0),
                "Retail": retail if i % 5 else f"{retail:.3f}",
                "CurrentActivePrice": None if i % 4 == 0 else round(retail * 0.9, 2),
                "lastupdatedate": format_dealer_datetime(updated),
            }
        )
    return parts


def serve_sandbox(port: int, n_parts: int, n_codes: int, now: datetime) -> None:
    """The 3PA sandbox with the bench's dealer, no rate limit (runs in the child)."""
    app = create_app(
        {DEALER: make_parts(n_parts, n_codes, now)}, users=USERS, rate_limit_per_minute=None
    )
    serve_app(app, port)


# -- the hub side ----------------------------------------------------------------------------


def make_hub(url: str) -> Hub:
    settings = load_settings(
        secret_key=SECRET_KEY,
        database_url=url,
        threepa_rate_per_minute=1_000_000,
        allow_loopback_vendors=True,
    )
    return Hub(settings, db=Database(url), plugins=PluginManager(autoload=False))


def seed(hub: Hub, args: argparse.Namespace, base_url: str) -> tuple[int, int, int]:
    """Tenant, location, install, products and stale levels; returns (tenant, products,
    stale levels)."""
    codes = supplier_codes(args.codes)
    with hub.db.session() as session:
        tenant = tenants.create_tenant(session, "bench", "Bench Powersports", TIMEZONE)
        tenant_id = tenant.id
        assert tenant_id is not None
        catalog.put_location(session, tenant_id, "store", "Store")
    install = hub.configure_install(
        tenant_id,
        "lightspeed_dms",
        enabled=True,
        actor="bench",
        admin=True,
        config={
            "threepa_enabled": True,
            "threepa_username": next(iter(USERS)),
            "threepa_password": USERS[next(iter(USERS))],
            "dealer_id": DEALER,
            "threepa_base_url": base_url,
            "location": "store",
            "quantity_column": "on_hand",
            "clear_previous_quantities": True,
            "supplier_codes": [
                {
                    "catalog": cat,
                    "supplier_code": code,
                    "brand": brand,
                    "lead_time_days": 2,
                    "pricing": pricing,
                }
                for code, brand, cat, pricing, _style in codes
            ],
        },
    )
    assert install.id is not None
    with hub.db.read() as session:
        location = catalog.get_location(session, tenant_id, "store")
        assert location is not None
        location_id = location.id

    now = datetime.now(UTC)
    matched_per_100 = round(args.matched * 100)
    stale_every = round(1 / args.stale) if args.stale > 0 else 0

    def rows() -> Iterator[tuple[dict[str, Any], bool]]:
        for i in range(args.parts):
            code, brand, cat, _pricing, style = codes[i % args.codes]
            if i % 100 < matched_per_100:
                yield _product(tenant_id, code, brand, cat, part_number(i, style), now), False
            if stale_every and i % stale_every == 0:
                # A product the dealer no longer stocks: in the catalog, not in the feed.
                number = f"OLD-{i:07d}"
                yield _product(tenant_id, code, brand, cat, number, now), True

    products = stale = 0
    product_t, level_t = Product.__table__, InventoryLevel.__table__
    batch: list[dict[str, Any]] = []
    stale_skus: list[str] = []
    with hub.db.engine.begin() as conn:
        for row, is_stale in rows():
            batch.append(row)
            if is_stale:
                stale_skus.append(row["sku"])
            if len(batch) >= CHUNK:
                conn.execute(product_t.insert(), batch)
                products += len(batch)
                batch = []
        if batch:
            conn.execute(product_t.insert(), batch)
            products += len(batch)
        for start in range(0, len(stale_skus), CHUNK):
            chunk = stale_skus[start : start + CHUNK]
            ids = conn.execute(
                select(Product.id).where(  # type: ignore[call-overload]
                    Product.tenant_id == tenant_id, Product.sku.in_(chunk)
                )
            ).scalars()
            levels = [
                {
                    "tenant_id": tenant_id,
                    "product_id": pid,
                    "location_id": location_id,
                    "install_id": install.id,
                    "quantity": 3,
                    "sale_price": None,
                    "lead_time_days": 2,
                    "updated_at": now - timedelta(days=1),
                }
                for pid in ids
            ]
            if levels:
                conn.execute(level_t.insert(), levels)
                stale += len(levels)
    with hub.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return tenant_id, products, stale


def _product(
    tenant_id: int, code: str, brand: str, cat: str, number: str, now: datetime
) -> dict[str, Any]:
    sku = f"{code}-{number}"
    return {
        "tenant_id": tenant_id,
        "sku": sku,
        "sku_norm": normalise_part_number(sku),
        "title": f"{brand} {number}",
        "catalog": cat,
        "brand": brand,
        "brand_norm": normalise_brand(brand),
        "part_number": number,
        "part_norm": normalise_part_number(number),
        "upc": None,
        "ean": None,
        "mpn": None,
        "price": None,
        "cost": None,
        "sale_price": None,
        "sale_starts_at": None,
        "sale_ends_at": None,
        "created_at": now,
        "updated_at": now,
    }


def page_url(base_url: str, code: str, since: datetime, skip: int, top: int = PAGE) -> str:
    """A ``/Part`` page exactly as the sync's client asks for it."""
    params = {
        "$filter": parts_filter(code, updated_since=since, quantity_column="on_hand"),
        "$top": str(top),
        "$skip": str(skip),
        "$orderby": "PartNumber",
    }
    query = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items())
    return f"{base_url}/Part/{DEALER}?{query}"


def fetch_floor(base_url: str, codes: list[str], since: datetime) -> tuple[int, int, float]:
    """Fetch every page with plain httpx, one after another; (parts, requests, seconds)."""
    parts = requests = 0
    with httpx.Client(auth=next(iter(USERS.items())), timeout=120.0) as client:
        for code in codes:  # warm the sandbox's filter cache (first evaluation is slow)
            client.get(page_url(base_url, code, since, 0, 1)).raise_for_status()
        started = time.perf_counter()
        for code in codes:
            skip = 0
            while True:
                response = client.get(page_url(base_url, code, since, skip))
                response.raise_for_status()
                rows = json.loads(response.content)
                requests += 1
                parts += len(rows)
                if len(rows) < PAGE:
                    break
                skip += len(rows)
        elapsed = time.perf_counter() - started
    return parts, requests, elapsed


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=200_000, help="parts in the warehouse")
    parser.add_argument("--codes", type=int, default=8, help="supplier codes")
    parser.add_argument("--matched", type=float, default=0.95, help="share with a product")
    parser.add_argument("--stale", type=float, default=0.01, help="stale products (share)")
    parser.add_argument("--target", type=float, default=20_000.0, help="parts/s to reach")
    parser.add_argument("--profile", action="store_true", help="cProfile the sync run")
    args = parser.parse_args(argv)
    if args.codes < 1 or args.parts < 1:
        parser.error("need at least one part and one supplier code")

    # The clock of the sync, pinned (see the module docstring).
    pinned = datetime.now(UTC).replace(microsecond=0)
    dms_sync.utcnow = lambda: pinned  # type: ignore[attr-defined]
    since = pinned.astimezone(ZoneInfo(TIMEZONE)).replace(tzinfo=None) - timedelta(days=365)
    dealer_now = datetime.now().replace(microsecond=0)
    codes = [c[0] for c in supplier_codes(args.codes)]

    sandbox = ServerProcess(
        serve_sandbox, args.parts, args.codes, dealer_now, probe="/lsapi/Dealer"
    )
    with tempfile.TemporaryDirectory(prefix="bench-3pa-") as tmp, sandbox:
        base_url = sandbox.url + "/lsapi"
        url = f"sqlite:///{tmp}/hub.db"
        hub = make_hub(url)
        hub.db.create_all()
        started = time.perf_counter()
        tenant_id, n_products, n_stale = seed(hub, args, base_url)
        print(
            f"# seeded {n_products} products ({n_stale} with stale stock) in "
            f"{time.perf_counter() - started:.1f}s; sandbox has {args.parts} parts "
            f"over {args.codes} codes",
            flush=True,
        )

        fetched, requests, floor_wall = fetch_floor(base_url, codes, since)
        floor_rate = fetched / floor_wall
        print(
            f"# floor: {fetched} parts in {requests} requests, {floor_wall:.2f}s "
            f"({requests / floor_wall:.0f} req/s)",
            flush=True,
        )

        rss_before = peak_rss_mib()
        hub.enqueue = lambda run_id: None
        run = hub.queue_job(tenant_id, "lightspeed_dms", "inventory_sync", options={"force": True})
        assert run.id is not None
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        final = hub.execute_run(run.id)
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - started
        peak = peak_rss_mib()
        with hub.db.read() as session:
            done = session.get(JobRun, run.id)
            assert done is not None
            counts, errors = dict(done.counts), list(done.errors)
        hub.db.dispose()

    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    synced = int(counts.get("parts_fetched", 0))
    rate = synced / wall if wall > 0 else 0.0
    print(
        f"# sync: state {final}, {synced} parts in {wall:.2f}s; counts "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    )
    print(f"# peak RSS {peak:.0f} MiB (before the run {rss_before:.0f} MiB)")
    for error in errors[:5]:
        print(f"# run error: {error}", file=sys.stderr)
    print(result("threepa_fetch_floor", floor_rate, "parts/s", floor_rate))
    print(result("threepa_sync_rate", rate, "parts/s", floor_rate))
    print(result("threepa_sync_peak_rss", peak, "MiB", 1024.0))
    ok = final == "succeeded" and synced == fetched == args.parts
    if rate < args.target:
        print(f"# below the target of {args.target:.0f} parts/s", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
