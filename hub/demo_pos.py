"""The demo's Lightspeed POS part: R-Series shops as a sales channel, through the REST API.

Connects through the sandbox's OAuth (the hub's ``connect`` → the sandbox's consent → the
hub's ``/oauth/callback``), refreshes the shops, maps two shops to warehouses, downloads
sales (one with a return, one voided after import, one with an item the hub does not know),
creates two products on Lightspeed, and uploads stock and prices; each step prints a line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx

from hub.serving import serve_in_thread

__all__ = ["POS_SEED", "run_pos_flow"]

PLUGIN = "lightspeed_pos"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"

POS_SEED: dict[str, Any] = {
    "account": {"accountID": 4242, "name": "Demo Powersports Retail"},
    "Shop": [
        {"shopID": 1, "name": "Austin Showroom", "timeZone": "America/Chicago"},
        {"shopID": 2, "name": "Round Rock Outlet", "timeZone": "America/Chicago"},
    ],
    "Register": [
        {"registerID": 1, "name": "Showroom Till", "shopID": 1},
        {"registerID": 2, "name": "Outlet Till", "shopID": 2},
    ],
    "EmployeeRole": [{"employeeRoleID": 1, "name": "Admin"}],
    "Employee": [
        {"employeeID": 1, "firstName": "Dana", "lastName": "Manager", "employeeRoleID": 1}
    ],
    "PriceLevel": [{"priceLevelID": 1, "name": "Default", "type": "Default"}],
    "PaymentType": [
        {"paymentTypeID": 1, "name": "Cash", "type": "cash"},
        {"paymentTypeID": 2, "name": "Credit Card", "type": "credit card"},
    ],
    "Item": [
        {
            "itemID": 1,
            "customSku": "POS-HELMET",
            "description": "Adventure Helmet",
            "Prices": [{"amount": "189.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 0}],
        },
        {
            "itemID": 2,
            "customSku": "LS-GLOVE-M",
            "upc": "036000291452",
            "description": "Riding Gloves M",
            "Prices": [{"amount": "39.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 0}],
        },
        {
            "itemID": 3,
            "customSku": "STICKER-PACK",
            "description": "Sticker pack (not in the hub)",
            "Prices": [{"amount": "4.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}],
        },
    ],
}

PRODUCTS = [
    {"sku": "POS-HELMET", "title": "Adventure Helmet", "price": "199.00", "cost": "120.00"},
    {"sku": "POS-GLOVE-M", "title": "Riding Gloves M", "upc": "036000291452", "price": "39.00"},
    {
        "sku": "POS-CHAINLUBE",
        "title": "Chain Lube 400ml",
        "upc": "012345678905",
        "price": "14.50",
        "cost": "6.20",
    },
    {
        "sku": "POS-TIREGAUGE",
        "title": "Tire Pressure Gauge",
        "upc": "12",
        "mpn": "TG-1",
        "price": "22.00",
        "cost": "9.00",
    },
]
WAREHOUSES = {
    "AUS-FLOOR": "Austin floor",
    "AUS-BACK": "Austin back room",
    "RR-FLOOR": "Round Rock floor",
    "RETURNS": "Returns bay",
}


@contextmanager
def pos_sandbox() -> Iterator[tuple[Any, str]]:
    """The R-Series sandbox for the demo (a quick drip so the demo does not wait)."""
    from plugins.lightspeed_rseries.sandbox import create_app

    sandbox = create_app(seed=POS_SEED, bucket_size=90, drip_rate=30)
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


def run_pos_flow(
    http: httpx.Client,
    slug: str,
    say: Callable[[str], None],
    wait_run: Callable[[Any, int], dict[str, Any]],
) -> None:
    """The POS flow against a fresh sandbox (see the module docstring). ``http`` is the
    demo's client of the hub's API (base URL and admin key set)."""

    def call(method: str, path: str, **kw: Any) -> Any:
        resp = http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise SystemExit(f"{method} {path} → {resp.status_code}: {resp.text}")
        return resp.json() if "json" in resp.headers.get("content-type", "") else resp.text

    api_url = str(http.base_url).rstrip("/")
    with pos_sandbox() as (sandbox, url):
        state = sandbox.state
        base = f"/api/v1/tenants/{slug}/plugins/{PLUGIN}"
        say("")
        say(f"-- Lightspeed POS (R-Series sandbox {url}, account {state.account_id})")
        for code, name in WAREHOUSES.items():
            call("PUT", f"/api/v1/tenants/{slug}/locations/{code}", json={"name": name})
        call("PUT", f"/api/v1/tenants/{slug}/products", json=PRODUCTS)
        config: dict[str, Any] = {
            "enabled": True,
            "account_id": str(state.account_id),
            "shop_name": "Demo Powersports Retail",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": url,
            "cloud_url": url,
            "returns_warehouse": "RETURNS",
            "order_download": True,
            "inventory_upload": True,
            "price_upload": True,
            "cost_upload": True,
            "auto_create_products": True,
        }
        call("PUT", base, json={"enabled": True, "config": config})
        authorize = call("POST", f"{base}/connect")["authorize_url"]
        consent = httpx.get(authorize, follow_redirects=False)
        callback = urlsplit(consent.headers["location"])
        landed = httpx.get(f"{api_url}{callback.path}?{callback.query}", follow_redirects=False)
        view = call("GET", base)
        connection = view.get("connection") or {}
        say(
            f"connect (Fetch Token): authorize → consent → /oauth/callback {landed.status_code}; "
            f"account {connection.get('account_id')} {connection.get('account_name')!r}, "
            f"status {view['status']}, tokens {view['config']['auth_token']!r}"
        )
        shops = call("POST", f"{base}/actions/refresh-shops", json={"params": {}})["data"]
        say(
            "refresh-shops: "
            + ", ".join(
                f"{s['shop_id']} {s['name']} ({len(s['registers'])} register)"
                for s in shops["shops"]
            )
        )
        mapped = []
        for shop in shops["shops"]:
            shop["warehouses"] = ["AUS-FLOOR", "AUS-BACK"] if shop["shop_id"] == 1 else ["RR-FLOOR"]
            shop["register_id"] = shop["registers"][0]["register_id"]
            shop["employee_id"] = 1
            mapped.append(shop)
        call(
            "PUT",
            base,
            json={
                "enabled": True,
                "config": {
                    **config,
                    "shops": mapped,
                    "employees": shops["employees"],
                    "shops_mapping_enabled": True,
                },
            },
        )
        refused = http.put(
            base,
            json={
                "enabled": True,
                "config": {
                    **config,
                    "employees": shops["employees"],
                    "shops_mapping_enabled": True,
                    "shops": [
                        {**mapped[0], "warehouses": ["AUS-FLOOR"]},
                        {**mapped[1], "warehouses": ["AUS-FLOOR"]},
                    ],
                },
            },
        )
        say(
            "mapped shop 1 ← AUS-FLOOR, AUS-BACK; shop 2 ← RR-FLOOR "
            f"(mapping one warehouse to both shops → {refused.status_code})"
        )
        call(
            "PUT",
            f"/api/v1/tenants/{slug}/inventory",
            json=[
                {"sku": "POS-HELMET", "location": "AUS-FLOOR", "quantity": 1},
                {"sku": "POS-HELMET", "location": "AUS-BACK", "quantity": 4},
                {"sku": "POS-HELMET", "location": "RR-FLOOR", "quantity": 2},
                {"sku": "POS-GLOVE-M", "location": "AUS-FLOOR", "quantity": 10},
                {"sku": "POS-GLOVE-M", "location": "RR-FLOOR", "quantity": 6},
                {"sku": "POS-CHAINLUBE", "location": "AUS-BACK", "quantity": 12},
                {"sku": "POS-TIREGAUGE", "location": "RR-FLOOR", "quantity": 3},
            ],
        )

        # Sales at the tills: a plain one, a return, one to be voided, an unknown item.
        plain = state.ring_up(1, [(1, 2, "189.00"), (2, 1, "39.00")], payment_type_id=2)
        returned = state.ring_up(2, [(2, -1, "39.00")], payment_type_id=1)
        voided = state.ring_up(2, [(1, 1, "189.00")])
        unknown = state.ring_up(1, [(3, 2, "4.00")], payment_type_id=None)
        run = _job(call, base, "order_download", wait_run)
        say(_counts("order_download", run))
        report = call("GET", f"/api/v1/tenants/{slug}/runs/{run['run_id']}/report")
        for row in csv.DictReader(io.StringIO(report)):
            say(
                f"   sale {row['sale_id']:>2} → {row['order'] or '-':<6} shop {row['shop_id']} "
                f"{row['outcome']:<14} deducted {row['warehouses_deducted'] or '-':<22} {row['message'][:70]}"
            )
        state.void_sale(voided["saleID"])
        run = _job(call, base, "order_download", wait_run)
        order = call("GET", f"/api/v1/tenants/{slug}/orders/LS-{voided['saleID']}")
        say(
            f"sale {voided['saleID']} voided at the till → LS-{voided['saleID']} {order['status']}, "
            f"stock put back ({_counts('order_download', run)})"
        )
        for number in (plain["saleID"], returned["saleID"], unknown["saleID"]):
            order = call("GET", f"/api/v1/tenants/{slug}/orders/LS-{number}")
            lines = ", ".join(
                f"{line['sku']}×{line['quantity']}"
                + (f"@{line['location_code']}" if line.get("location_code") else "")
                for line in order["lines"]
            )
            notes = "; ".join(n["message"] for n in order["notes"]) or "-"
            say(
                f"   LS-{number}: {order['channel']} total {order['total']} lines {lines} notes: {notes}"
            )

        call(
            "PUT",
            f"{base}/listings",
            json=[{"sku": p["sku"], "enabled": True} for p in PRODUCTS],
        )
        run = _job(call, base, "catalog_upload", wait_run)
        say(_counts("catalog_upload", run))
        report = call("GET", f"/api/v1/tenants/{slug}/runs/{run['run_id']}/report")
        for row in csv.DictReader(io.StringIO(report)):
            say(
                f"   {row['sku']:<14} item {row['item_id'] or '-':<3} {row['what']:<7} {row['outcome']:<8} {row['message']}"
            )
        writes_before = len(state.writes)
        run = _job(call, base, "inventory_upload", wait_run)
        say(_counts("inventory_upload", run) + f"; {len(state.writes) - writes_before} PUT Item")
        for item_id in sorted(state.items):
            item = state.items[item_id]
            shops_qoh = {s: state.stock(item_id, s) for s in (1, 2)}
            price = item.get("Prices", [{}])[0].get("amount") if item.get("Prices") else None
            say(
                f"   Lightspeed item {item_id} {item.get('customSku', ''):<14} qoh {shops_qoh} price {price}"
            )
        again = _job(call, base, "inventory_upload", wait_run)
        say(
            f"inventory_upload again with nothing changed: {again['state']} ({again.get('message', '')})"
        )
        deletes = sum(1 for w in state.writes if w.method == "DELETE")
        say(
            f"Lightspeed writes: {len(state.writes)} (DELETE Item: {deletes}); 429s: {state.count_status(429)}"
        )


def _job(
    call: Callable[..., Any], base: str, job: str, wait_run: Callable[[Any, int], dict[str, Any]]
) -> dict[str, Any]:
    queued = call("POST", f"{base}/jobs/{job}", json={"options": {}})
    return wait_run(call, queued["run_id"])


def _counts(job: str, run: dict[str, Any]) -> str:
    counts = run.get("counts") or {}
    shown = ", ".join(f"{k}={counts[k]}" for k in sorted(counts) if counts[k])
    return f"{job}: {run['state']} — {shown or 'nothing to do'}"
