"""Benchmark: the ``lightspeed_pos`` flows against the R-Series sandbox and its bucket.

The sandbox runs in its own process (bucket 90; the drip raised so the bench runs in
minutes — the same drip is the floor), the hub in this one, so the figures are the hub's and
the rate limit's, not the sandbox's:

- **upload**: 10,000 changed items over 2 shops (``inventory_upload``). Utilisation = cost
  the bucket drained per second ÷ drip (target ≥ 0.95) with zero 429s; writes per changed
  item (target 1.00); a second run with nothing changed (target 0 writes); hub CPU per
  uploaded item (reported).
- **download**: 5,000 sales, 100 per page (``order_download``) with the bucket nearly full
  when it starts (the account's budget spent by other work), so every page waits for the
  drip: utilisation ≥ 0.95, zero 429s. Then the same sales from the recorded pages, without
  the network, into a second tenant: local processing ≥ 2,000 sales/s (orders stored, stock
  moved, report rows).

Utilisation is measured on the sandbox: from the first request the governor had to wait
for (the bucket full) to the last, (cost charged + level at the start − level at the end) ÷
time ÷ drip.

Prints ``RESULT <name> value=<number> unit=<unit> floor=<number> ratio=<number>`` lines and
exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import result
from hub.serving import free_port

CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
PLUGIN = "lightspeed_pos"


# -- the sandbox process ----------------------------------------------------------------------


def _seed(items: int) -> dict[str, Any]:
    return {
        "account": {"accountID": 777, "name": "Bench Retail"},
        "Shop": [
            {"shopID": 1, "name": "North", "timeZone": "UTC"},
            {"shopID": 2, "name": "South", "timeZone": "UTC"},
        ],
        "Register": [
            {"registerID": 1, "name": "North Till", "shopID": 1},
            {"registerID": 2, "name": "South Till", "shopID": 2},
        ],
        "EmployeeRole": [{"employeeRoleID": 1, "name": "Admin"}],
        "Employee": [{"employeeID": 1, "firstName": "B", "lastName": "Ench", "employeeRoleID": 1}],
        "PaymentType": [{"paymentTypeID": 1, "name": "Cash", "type": "cash"}],
        "Item": [
            {
                "itemID": i,
                "customSku": f"B-{i:05d}",
                "description": f"Bench item {i}",
                "Prices": [{"amount": "10.00", "useTypeID": 1, "useType": "Default"}],
                "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 0}],
            }
            for i in range(1, items + 1)
        ],
    }


def _sandbox_process(port: int, items: int, bucket: float, drip: float, conn: Any) -> None:
    """Serve the sandbox; answer commands on ``conn`` (see :class:`SandboxControl`)."""
    import threading

    from bench._common import serve_app
    from plugins.lightspeed_rseries.sandbox import create_app
    from plugins.lightspeed_rseries.sandbox.state import _Bucket

    sandbox = create_app(seed=_seed(items), bucket_size=bucket, drip_rate=drip)
    state = sandbox.state
    charges: list[tuple[float, float, float]] = []  # (time, cost, level after)
    original = state.charge

    def charge(key: str, cost: float) -> dict[str, str]:
        headers = original(key, cost)
        charges.append(
            (state.clock.time(), cost, float(headers["X-LS-API-Bucket-Level"].split("/")[0]))
        )
        return headers

    state.charge = charge  # type: ignore[method-assign]

    def control() -> None:
        while True:
            command, arg = conn.recv()
            if command == "prefill":
                with state.lock:
                    for key in list(state._buckets) or [f"{state.account_id}:{CLIENT_ID}"]:
                        state._buckets[key] = _Bucket(float(arg), state.clock.time())
                    charges.clear()
                    mark = (len(state.writes), state.count_status(429), len(state.requests))
                conn.send(mark)
            elif command == "stats":
                with state.lock:
                    conn.send(
                        {
                            "charges": list(charges),
                            "puts": sum(1 for w in state.writes if w.method == "PUT"),
                            "writes": len(state.writes),
                            "429": state.count_status(429),
                            "requests": len(state.requests),
                        }
                    )
            elif command == "ring_up":
                count, lines_per = arg
                for n in range(count):
                    lines = [
                        (1 + (n * 7 + k * 13) % items, 1 + k % 2, "10.00") for k in range(lines_per)
                    ]
                    state.ring_up(1 + n % 2, lines)
                conn.send(count)

    threading.Thread(target=control, daemon=True).start()
    serve_app(sandbox.app, port)


class SandboxControl:
    def __init__(self, items: int, bucket: float, drip: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_sandbox_process, args=(self.port, items, bucket, drip, child), daemon=True
        )

    def __enter__(self) -> SandboxControl:
        self.process.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/API/V3/Account.json", timeout=2)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("the sandbox did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(timeout=10)

    def ask(self, command: str, arg: Any = None) -> Any:
        self.conn.send((command, arg))
        return self.conn.recv()


def utilisation(charges: list[tuple[float, float, float]], capacity: float, drip: float) -> float:
    """Drained cost per second ÷ drip, from the first charge that filled the bucket to the
    last charge."""
    full = next((i for i, c in enumerate(charges) if c[2] >= capacity - 5.0), None)
    if full is None or full >= len(charges) - 2:
        return 0.0
    start_t, _, start_level = charges[full]
    end_t, _, end_level = charges[-1]
    charged = sum(cost for _, cost, _ in charges[full + 1 :])
    elapsed = end_t - start_t
    return (charged + start_level - end_level) / elapsed / drip if elapsed > 0 else 0.0


# -- the hub ---------------------------------------------------------------------------------


def _hub(directory: Path) -> Any:
    from hub.plugin.testing import make_test_hub
    from plugins.lightspeed_pos import plugin

    return make_test_hub(
        directory, plugin, rseries_client_id=CLIENT_ID, rseries_client_secret=CLIENT_SECRET
    )


def _tenant(hub: Any, slug: str, items: int) -> int:
    from hub.core import catalog
    from hub.core.inventory import set_quantities
    from hub.plugin.testing import add_tenant

    tenant_id = add_tenant(hub, slug, locations=("NORTH", "SOUTH", "RET"))
    products = [
        catalog.ProductIn(sku=f"B-{i:05d}", title=f"Bench item {i}", price=Decimal("10.00"))
        for i in range(1, items + 1)
    ]
    for start in range(0, len(products), 1000):
        with hub.db.session() as session:
            catalog.upsert_products(session, tenant_id, products[start : start + 1000])
    levels = [
        (f"B-{i:05d}", loc, 5 + (i * 3 + j) % 40)
        for i in range(1, items + 1)
        for j, loc in enumerate(("NORTH", "SOUTH"))
    ]
    for start in range(0, len(levels), 1000):
        with hub.db.session() as session:
            set_quantities(session, tenant_id, levels[start : start + 1000])
    return tenant_id


def _install(hub: Any, tenant_id: int, slug: str, url: str, items: int, *, connect: bool) -> Any:
    from sqlmodel import select

    from hub.core import bindings
    from hub.core.models import PluginInstall

    shops = [
        {"shop_id": 1, "name": "North", "warehouses": ["NORTH"], "registers": [{"register_id": 1}]},
        {"shop_id": 2, "name": "South", "warehouses": ["SOUTH"], "registers": [{"register_id": 2}]},
    ]
    hub.configure_install(
        tenant_id,
        PLUGIN,
        enabled=True,
        admin=True,
        actor="bench",
        config={
            "enabled": True,
            "api_url": url,
            "cloud_url": url,
            "order_download": True,
            "inventory_upload": True,
            "returns_warehouse": "RET",
            "shops_mapping_enabled": True,
            "shops": shops,
        },
    )
    if connect:
        authorize = hub.connect(tenant_id, PLUGIN, "bench")
        consent = httpx.get(authorize, follow_redirects=False)
        query = parse_qs(urlparse(consent.headers["location"]).query)
        outcome = hub.finish_connect(query["state"][0], query["code"][0])
        assert outcome.ok, outcome.detail
    ctx = hub.context_for(slug, PLUGIN)
    assert ctx is not None
    ids = [
        p.product_id for p in ctx.find_products(skus=[f"B-{i:05d}" for i in range(1, items + 1)])
    ]
    for start in range(0, len(ids), 1000):
        ctx.set_listing_enabled(ids[start : start + 1000], True)
    with hub.db.session() as session:
        install = session.exec(
            select(PluginInstall).where(PluginInstall.tenant_id == tenant_id)
        ).one()
        for n, pid in enumerate(ids, start=1):
            bindings.bind(session, install.id, "product", pid, str(n))
    return ctx


def _run(hub: Any, tenant_id: int, job: str) -> dict[str, Any]:
    from hub.plugin.testing import run_job

    return run_job(hub, tenant_id, PLUGIN, job)


def _local_processing(hub: Any, pages: list[list[dict[str, Any]]], items: int) -> float:
    """Apply the recorded pages to a fresh tenant's install, without the network: sales/s."""
    from sqlmodel import select

    from hub.core import runs
    from hub.core.models import PluginInstall
    from hub.plugin import JobContext
    from plugins.lightspeed_pos.orders import apply_sales, sale_shops

    slug = "bench-local"
    tenant_id = _tenant(hub, slug, items)
    base = _install(hub, tenant_id, slug, "http://127.0.0.1:9", items, connect=False)
    with hub.db.read() as session:
        install = session.exec(
            select(PluginInstall).where(PluginInstall.tenant_id == tenant_id)
        ).one()
    run = runs.create_run(
        hub.db,
        tenant_id=tenant_id,
        install_id=install.id,
        plugin_id=PLUGIN,
        job="order_download",
        trigger="bench",
    )
    claimed = runs.claim(hub.db, run.id, "bench")
    ctx = JobContext(
        hub,
        base.tenant,
        base.install_id,
        PLUGIN,
        base.config,
        run_id=run.id,
        job="order_download",
        options={},
        trigger="bench",
        attempt=claimed.attempts,
    )
    shops = sale_shops(base.config, ctx.location_codes())
    sales = sum(len(p) for p in pages)
    started = time.perf_counter()
    for records in pages:
        apply_sales(ctx, base.config, records, shops=shops, payment_types={1: "cash"}, client=None)
    elapsed = time.perf_counter() - started
    assert ctx.counts.get("orders_created") == sales, ctx.counts
    return sales / elapsed


def _mapping_only(pages: list[list[dict[str, Any]]], items: int) -> float:
    """The pure part of the same work — parse each sale, match its lines, build its order
    and its stock movements — without the database: sales/s."""
    from plugins.lightspeed_pos.mapping import (
        ProductRef,
        SaleLineIn,
        build_order,
        match_lines,
        movements_of_lines,
    )
    from plugins.lightspeed_rseries.models import Sale

    refs = {i: ProductRef(i, f"B-{i:05d}") for i in range(1, items + 1)}
    sku_ids = {ref.sku: ref.product_id for ref in refs.values()}
    stock: dict[str, dict[str, int]] = {}
    shops = {1: ["NORTH"], 2: ["SOUTH"]}
    count = 0
    started = time.perf_counter()
    for records in pages:
        for raw in records:
            sale = Sale.model_validate(raw)
            lines = [
                SaleLineIn(ln.item_id, ln.unit_quantity or 0, ln.unit_price or Decimal(0))
                for ln in sale.sale_lines
            ]
            matched = match_lines(lines, bound=refs, by_sku={}, by_upc={})
            built = build_order(
                sale_id=sale.sale_id or 0,
                placed_at=sale.complete_time or sale.timestamp,  # type: ignore[arg-type]
                total=sale.total or Decimal(0),
                lines=matched,
                payments=[("cash", p.amount or Decimal(0)) for p in sale.sale_payments],
                warehouses=shops[sale.shop_id or 1],
                returns_warehouse="RET",
                stock=stock,
            )
            movements_of_lines(built.order, sku_ids)
            count += 1
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=5_000)
    parser.add_argument("--bucket", type=float, default=90.0)
    parser.add_argument("--upload-drip", type=float, default=100.0)
    parser.add_argument("--download-drip", type=float, default=2.0)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    failures = 0
    directory = Path(tempfile.mkdtemp(prefix="bench-pos-"))
    hub = _hub(directory / "hub")

    # -- upload ------------------------------------------------------------------------------
    with SandboxControl(args.items, args.bucket, args.upload_drip) as sandbox:
        tenant_id = _tenant(hub, "bench", args.items)
        _install(hub, tenant_id, "bench", sandbox.url, args.items, connect=True)
        sandbox.ask("prefill", args.bucket - 10)
        cpu, wall = time.process_time(), time.perf_counter()
        first = _run(hub, tenant_id, "inventory_upload")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        stats = sandbox.ask("stats")
        if "--debug" in sys.argv:
            print([round(c[2], 1) for c in stats["charges"][:40]], file=sys.stderr)
        assert first["state"] == "succeeded", first
        puts = stats["puts"]
        util = utilisation(stats["charges"], args.bucket, args.upload_drip)
        failures += _report("pos_upload_utilisation", util, "ratio", 1.0, 0.95)
        failures += _report("pos_upload_429s", stats["429"], "count", 0, None, max_value=0)
        failures += _report(
            "pos_upload_writes_per_item", puts / args.items, "writes/item", 1.0, None, exact=1.0
        )
        print(result("pos_upload_items_per_s", puts / wall, "items/s", args.upload_drip / 2.0))
        print(result("pos_upload_hub_cpu_per_item", cpu / max(puts, 1) * 1000, "ms", 0.0))
        second = _run(hub, tenant_id, "inventory_upload")
        after = sandbox.ask("stats")
        failures += _report(
            "pos_upload_second_run_writes",
            after["writes"] - stats["writes"],
            "writes",
            0,
            None,
            max_value=0,
        )
        assert second["state"] in ("skipped", "succeeded"), second

    # -- download --------------------------------------------------------------------------
    recorded: list[list[dict[str, Any]]] = []
    from plugins.lightspeed_pos import orders

    apply = orders.apply_sales

    def recording(ctx: Any, config: Any, records: Any, **kw: Any) -> None:
        recorded.append([dict(r) for r in records])
        apply(ctx, config, records, **kw)

    orders.apply_sales = recording  # type: ignore[assignment]
    with SandboxControl(args.items, args.bucket, args.download_drip) as sandbox:
        tenant_id = _tenant(hub, "bench-dl", args.items)
        _install(hub, tenant_id, "bench-dl", sandbox.url, args.items, connect=True)
        sandbox.ask("ring_up", (args.sales, 2))
        sandbox.ask("prefill", args.bucket - 3)
        wall = time.perf_counter()
        run = _run(hub, tenant_id, "order_download")
        wall = time.perf_counter() - wall
        stats = sandbox.ask("stats")
        assert run["state"] == "succeeded", run
        assert run["counts"]["orders_created"] == args.sales, run["counts"]
        util = utilisation(stats["charges"], args.bucket, args.download_drip)
        failures += _report("pos_download_utilisation", util, "ratio", 1.0, 0.95)
        failures += _report("pos_download_429s", stats["429"], "count", 0, None, max_value=0)
        print(result("pos_download_sales_per_s_networked", args.sales / wall, "sales/s", 0.0))
    orders.apply_sales = apply  # type: ignore[assignment]
    print(
        result(
            "pos_download_mapping_sales_per_s",
            _mapping_only(recorded, args.items),
            "sales/s",
            2000.0,
        ),
        flush=True,
    )
    rate = _local_processing(hub, recorded, args.items)
    failures += _report("pos_download_local_sales_per_s", rate, "sales/s", 2000.0, 1.0)
    hub.db.dispose()
    return 1 if failures else 0


def _report(
    name: str,
    value: float,
    unit: str,
    floor: float,
    min_ratio: float | None,
    *,
    max_value: float | None = None,
    exact: float | None = None,
) -> int:
    """Print the RESULT line; 1 when the target is missed."""
    print(result(name, value, unit, floor), flush=True)
    if min_ratio is not None and floor and value / floor < min_ratio:
        return 1
    if max_value is not None and value > max_value:
        return 1
    if exact is not None and abs(value - exact) > 1e-9:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
