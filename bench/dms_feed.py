"""Bench: the lightspeed_dms Web Orders feed of one busy tenant, served over real HTTP.

The tenant has ``--orders`` orders (100,000) of ``--lines`` lines (3), of which ``--outstanding``
(10,000, spread evenly over the order history) still wait for the DMS: their export is
``pending``; every other export is ``acknowledged``. The orders, lines and exports are written
with SQLAlchemy Core bulk inserts into a SQLite file under a temp dir; the tenant, its location,
products and the DMS install (Web Orders on, Basic credentials) go through the core functions.

The hub app (``create_app(hub)``) is served by uvicorn on 127.0.0.1 in a separate process
(the machine has two cores: the load generator must not share the server's GIL). The same app
also gets a trivial async route serving a static XML body of exactly the size of one
OutstandingActivity answer: the floor, what this server and this client can do at all.

Measured, each for ``--seconds`` with ``--clients`` threads (keep-alive httpx, Basic auth):

1. ``GET …/OutstandingActivity`` requests/s and p99 latency vs the static body's requests/s.
   Target: ≥ 0.5 × the static rate and p99 < 50 ms.
2. ``POST …/AcknowledgeRequest`` for distinct outstanding orders: acknowledgements/s.
   Target: ≥ 500/s.
3. Draining every remaining outstanding order with the sandbox DMS poller
   (``DmsPoller.run(0.0, until_empty=True)``, one poller): orders/s, floor the ack rate.

Prints::

    RESULT dms_static_rps value=<req/s> unit=req/s floor=<req/s> ratio=1
    RESULT dms_outstanding_rps value=<req/s> unit=req/s floor=<static req/s> ratio=…
    RESULT dms_outstanding_p99 value=<ms> unit=ms floor=50 ratio=value/50
    RESULT dms_ack_rate value=<ack/s> unit=ack/s floor=500 ratio=…
    RESULT dms_drain_rate value=<orders/s> unit=orders/s floor=<ack/s> ratio=…

Run: ``.venv/bin/python bench/dms_feed.py [--orders 100000] [--outstanding 10000]
[--seconds 10]``; e.g. ``--orders 10000 --outstanding 1000 --seconds 3`` for a quick look.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from litestar import Response, get
from sqlalchemy import func, select

from bench._common import ServerProcess, result, run_load, serve_app
from hub.core import catalog, tenants
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.models import Order, OrderExport, OrderLine, Product
from hub.plugin.manager import PluginManager
from hub.settings import load_settings
from plugins.lightspeed_dms.mapping import to_dms_cancellation, to_dms_order
from plugins.lightspeed_dms.weborders import build_outstanding_activity
from plugins.lightspeed_dms.weborders.documents import build_acknowledge_request
from plugins.lightspeed_dms.weborders.poller import DmsPoller

SECRET_KEY = "bench-secret-key-" + "x" * 32
SLUG = "bench"
USERNAME = "dms"
PASSWORD = "bench-dms-password"
BASE = f"/dms/{SLUG}/LightSpeed"
STATIC = "/bench/static-outstanding"
XML = "application/xml; charset=utf-8"
CHUNK = 20_000

# (catalog, supplier code, brand): products of these brands map to the DMS supplier codes.
BRANDS = (
    ("aftermarket", "TR", "Tucker Rocky"),
    ("aftermarket", "WPS", "Western Power Sports"),
    ("aftermarket", "PU", "Parts Unlimited"),
    ("oem", "KA", "Kawasaki"),
    ("oem", "HO", "Honda"),
)
PRODUCTS_PER_BRAND = 20
UNIT_PRICES = (Decimal("24.95"), Decimal("8.50"), Decimal("129.00"), Decimal("3.75"))


def make_hub(url: str) -> Hub:
    settings = load_settings(secret_key=SECRET_KEY, database_url=url)
    return Hub(settings, db=Database(url), plugins=PluginManager(autoload=False))


# -- seeding -------------------------------------------------------------------------------------


def seed(hub: Hub, n_orders: int, n_outstanding: int, n_lines: int) -> tuple[int, list[str]]:
    """The tenant, its install and the orders; returns (tenant id, outstanding numbers)."""
    with hub.db.session() as session:
        tenant = tenants.create_tenant(session, SLUG, "Bench Powersports", "America/Chicago")
        tenant_id = tenant.id
        assert tenant_id is not None
        catalog.put_location(session, tenant_id, "store", "Store")
        catalog.upsert_products(
            session,
            tenant_id,
            [
                catalog.ProductIn(
                    sku=f"{code}-{n:04d}",
                    catalog=cat,
                    brand=brand,
                    part_number=f"{n:02d}-{1000 + n}",
                    title=f"{brand} part {n}",
                )
                for cat, code, brand in BRANDS
                for n in range(PRODUCTS_PER_BRAND)
            ],
        )
    install = hub.configure_install(
        tenant_id,
        "lightspeed_dms",
        enabled=True,
        actor="bench",
        config={
            "web_orders_enabled": True,
            "web_orders_username": USERNAME,
            "web_orders_password": PASSWORD,
            "supplier_codes": [
                {"catalog": cat, "supplier_code": code, "brand": brand}
                for cat, code, brand in BRANDS
            ],
            "payment_type_map": {"visa": "VISA", "paypal": "PAYPAL"},
        },
    )
    install_id = install.id
    assert install_id is not None
    with hub.db.engine.connect() as conn:
        products = [
            (row.id, row.sku, row.brand)
            for row in conn.execute(
                select(Product.id, Product.sku, Product.brand)  # type: ignore[call-overload]
                .where(Product.tenant_id == tenant_id)
                .order_by(Product.id)
            )
        ]

    step = max(1, n_orders // max(1, n_outstanding))
    outstanding_idx = set(range(0, n_orders, step)[:n_outstanding])
    outstanding = [f"W{i + 1:08d}" for i in sorted(outstanding_idx)]
    base_time = datetime(2025, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    first_id = _next_id(hub, Order)
    first_line = _next_id(hub, OrderLine)
    orders_t, lines_t, exports_t = Order.__table__, OrderLine.__table__, OrderExport.__table__
    with hub.db.engine.begin() as conn:
        for start in range(0, n_orders, CHUNK):
            order_rows: list[dict[str, Any]] = []
            line_rows: list[dict[str, Any]] = []
            export_rows: list[dict[str, Any]] = []
            for i in range(start, min(start + CHUNK, n_orders)):
                order_id = first_id + i
                placed = base_time + timedelta(minutes=5 * i)
                pending = i in outstanding_idx
                address = {
                    "first_name": f"Jane{i % 97}",
                    "last_name": "Doe",
                    "company": "",
                    "address1": f"{i % 9000 + 1} Main St",
                    "address2": "",
                    "city": "Austin",
                    "state": "TX",
                    "county": "",
                    "postal_code": "78701",
                    "country": "US",
                    "phone": "512-555-0100",
                    "email": f"customer{i % 5000}@example.com",
                }
                subtotal = Decimal("0")
                for no in range(1, n_lines + 1):
                    pid, sku, brand = products[(i * n_lines + no) % len(products)]
                    price = UNIT_PRICES[(i + no) % len(UNIT_PRICES)]
                    qty = 1 + (i + no) % 3
                    subtotal += price * qty
                    line_rows.append(
                        {
                            "id": first_line + i * n_lines + no - 1,
                            "order_id": order_id,
                            "line_no": no,
                            "sku": sku,
                            "product_id": pid,
                            "quantity": qty,
                            "canceled_quantity": 0,
                            "shipped_quantity": 0,
                            "unit_price": price,
                            "manufacturer": brand,
                            "description": f"{brand} part",
                            "location_code": "",
                        }
                    )
                shipping_cost, tax = Decimal("9.99"), Decimal("4.21")
                total = subtotal + shipping_cost + tax
                order_rows.append(
                    {
                        "id": order_id,
                        "tenant_id": tenant_id,
                        "number": f"W{i + 1:08d}",
                        "channel": "webstore",
                        "status": "open",
                        "placed_at": placed,
                        "currency": "USD",
                        "customer_id": "",
                        "billing": address,
                        "shipping": address,
                        "payments": [
                            {
                                "method": "visa" if i % 4 else "paypal",
                                "amount": str(total),
                                "captured": True,
                            }
                        ],
                        "shipping_cost": shipping_cost,
                        "shipping_carrier": "UPS",
                        "shipping_method": "GROUND",
                        "tax": tax,
                        "total": total,
                        "comment": "",
                        "body_hash": "",
                        "cancel_reason": "",
                        "canceled_at": None,
                        "created_at": placed,
                        "updated_at": now if pending else placed,
                    }
                )
                export_rows.append(
                    {
                        "tenant_id": tenant_id,
                        "order_id": order_id,
                        "install_id": install_id,
                        "plugin_id": "lightspeed_dms",
                        "state": "pending" if pending else "acknowledged",
                        "queue_at": placed if pending else None,
                        "external_ref": "",
                        "message": "",
                        "attempts": 0 if pending else 1,
                        "offered_at": None if pending else placed + timedelta(minutes=2),
                        "acknowledged_at": None if pending else placed + timedelta(minutes=3),
                        "cancel_state": "",
                        "canceled_at": None,
                        "updated_at": placed + timedelta(minutes=3),
                    }
                )
            conn.execute(orders_t.insert(), order_rows)
            conn.execute(lines_t.insert(), line_rows)
            conn.execute(exports_t.insert(), export_rows)
    with hub.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return tenant_id, outstanding


def _next_id(hub: Hub, model: Any) -> int:
    with hub.db.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()) + 1


def outstanding_body(hub: Hub, tenant_id: int) -> bytes:
    """An OutstandingActivity document as the endpoint builds it (offers the first 30 orders,
    as the first poll would)."""
    from hub.core import installs

    with hub.db.read() as session:
        install = installs.require_install(session, tenant_id, "lightspeed_dms")
    ctx = hub.context(install)
    offered = ctx.offer_orders()
    return build_outstanding_activity(
        [to_dms_order(o, ctx.config) for o in offered],  # type: ignore[arg-type]
        [to_dms_cancellation(o) for o in ctx.pending_cancellations()],
        ctx.tenant.tz,
    )


# -- the server process --------------------------------------------------------------------------


def serve_hub(port: int, url: str, static_body: bytes) -> None:
    """The hub's app plus the static floor route, served on ``port`` (runs in the child)."""
    from hub.api.app import create_app

    hub = make_hub(url)
    app = create_app(hub)

    @get(STATIC, include_in_schema=False)
    async def static_outstanding() -> Response[bytes]:
        return Response(static_body, media_type=XML)

    app.register(static_outstanding)
    serve_app(app, port)


# -- the measurements ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--outstanding", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args(argv)
    if not 0 < args.outstanding <= args.orders:
        parser.error("need 0 < --outstanding <= --orders")

    with tempfile.TemporaryDirectory(prefix="bench-dms-") as tmp:
        url = f"sqlite:///{tmp}/hub.db"
        hub = make_hub(url)
        hub.db.create_all()
        started = time.perf_counter()
        tenant_id, outstanding = seed(hub, args.orders, args.outstanding, args.lines)
        seeded = time.perf_counter() - started
        print(
            f"# seeded {args.orders} orders × {args.lines} lines, {len(outstanding)} outstanding, "
            f"in {seeded:.1f}s",
            flush=True,
        )
        static_body = outstanding_body(hub, tenant_id)
        hub.db.dispose()

        auth = (USERNAME, PASSWORD)
        server = ServerProcess(serve_hub, url, static_body, probe="/healthz")
        with server:
            feed_url = server.url + BASE
            # Warm up: the first authenticated request pays for scrypt (then cached for 60 s).
            with httpx.Client(auth=auth, timeout=60.0) as client:
                first = client.get(feed_url + "/OutstandingActivity")
                first.raise_for_status()
                for _ in range(20):
                    client.get(server.url + STATIC).raise_for_status()
                    client.get(feed_url + "/OutstandingActivity").raise_for_status()
            print(
                f"# OutstandingActivity body {len(first.content)} bytes, static body "
                f"{len(static_body)} bytes",
                flush=True,
            )

            def get_static(client: httpx.Client, worker: int, i: int) -> bool:
                response = client.get(server.url + STATIC)
                if response.status_code != 200 or len(response.content) != len(static_body):
                    raise RuntimeError(f"static: HTTP {response.status_code}")
                return True

            def get_outstanding(client: httpx.Client, worker: int, i: int) -> bool:
                response = client.get(feed_url + "/OutstandingActivity")
                if response.status_code != 200 or b"<webOrder>" not in response.content:
                    raise RuntimeError(f"outstanding: HTTP {response.status_code}")
                return True

            static = run_load(get_static, clients=args.clients, seconds=args.seconds, auth=auth)
            feed = run_load(get_outstanding, clients=args.clients, seconds=args.seconds, auth=auth)
            print(
                f"# static: {static.count} req in {static.elapsed:.2f}s, p50 {static.p(50):.1f} ms,"
                f" p99 {static.p(99):.1f} ms; OutstandingActivity: {feed.count} req in "
                f"{feed.elapsed:.2f}s, p50 {feed.p(50):.1f} ms, p99 {feed.p(99):.1f} ms",
                flush=True,
            )

            # Acknowledgements: distinct outstanding orders, dealt round-robin to the clients;
            # at most half of them, so the poller has orders left to drain.
            to_ack = outstanding[: max(args.clients, len(outstanding) // 2)]
            shares = [to_ack[w :: args.clients] for w in range(args.clients)]
            bodies = [[build_acknowledge_request(n, "WEB_ORDER") for n in s] for s in shares]
            headers = {"Content-Type": XML}

            def post_ack(client: httpx.Client, worker: int, i: int) -> bool:
                if i >= len(bodies[worker]):
                    return False
                response = client.post(
                    feed_url + "/AcknowledgeRequest", content=bodies[worker][i], headers=headers
                )
                if response.status_code != 200 or b"SUCCESS" not in response.content:
                    raise RuntimeError(f"ack: HTTP {response.status_code} {response.text[:200]}")
                return True

            acks = run_load(post_ack, clients=args.clients, seconds=args.seconds, auth=auth)
            print(
                f"# acks: {acks.count} in {acks.elapsed:.2f}s, p50 {acks.p(50):.1f} ms, "
                f"p99 {acks.p(99):.1f} ms",
                flush=True,
            )

            # Drain the rest with the sandbox DMS poller.
            with DmsPoller(feed_url, USERNAME, PASSWORD, seed=1, timeout=60.0) as poller:
                started = time.perf_counter()
                reports = poller.run(0.0, until_empty=True, sleep=lambda s: None)
                drain_wall = time.perf_counter() - started
            drained = sum(len(r.acknowledged) for r in reports)
            drain_errors = sum(len(r.errors) for r in reports)
            print(
                f"# drain: {drained} orders in {len(reports)} polls, {drain_wall:.2f}s, "
                f"{drain_errors} errors",
                flush=True,
            )

        hub = make_hub(url)
        with hub.db.engine.connect() as conn:
            left = conn.execute(
                select(func.count())
                .select_from(OrderExport)
                .where(OrderExport.state.in_(("pending", "offered")))  # type: ignore[attr-defined]
            ).scalar_one()
        hub.db.dispose()

    errors = static.errors + feed.errors + acks.errors
    for line in errors[:5]:
        print(f"# error: {line}", file=sys.stderr)
    drain_rate = drained / drain_wall if drain_wall > 0 else 0.0
    print(f"# still outstanding after the drain: {left}; request errors: {len(errors)}")
    print(result("dms_static_rps", static.rate, "req/s", static.rate))
    print(result("dms_outstanding_rps", feed.rate, "req/s", static.rate))
    print(result("dms_outstanding_p99", feed.p(99), "ms", 50.0))
    print(result("dms_ack_rate", acks.rate, "ack/s", 500.0))
    print(result("dms_drain_rate", drain_rate, "orders/s", acks.rate))
    return 0 if not errors and not drain_errors and left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
