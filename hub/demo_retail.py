"""The demo's Lightspeed Retail part: R-Series as the stock and price master, through the
REST API.

A Manager is refused, an Admin connects; jobs are refused until the stores are mapped and the
settings saved; the full import brings the shops' stock in with one pending mapping of each
reason; a sale price shows only between the webstore's dates; a stock change on an ItemShop
alone reaches the hub on the next incremental run; an unpaid order waits as ``Unbalanced``,
then its payment exports it — once — as a completed sale. Each step prints a line.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from hub.serving import serve_in_thread

__all__ = ["RETAIL_SEED", "run_retail_flow"]

PLUGIN = "lightspeed_retail"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
ADMIN, MANAGER = 1, 2


def _item(item_id: int, sku: str, description: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "itemID": item_id,
        "customSku": sku,
        "description": description,
        "manufacturerID": 1,
        "Prices": [{"amount": "20.00", "useTypeID": 1, "useType": "Default"}],
        "ItemShops": [{"shopID": 1, "qoh": 3}, {"shopID": 2, "qoh": 1}],
    }
    item.update(fields)
    return item


RETAIL_SEED: dict[str, Any] = {
    "account": {"accountID": 5151, "name": "Demo Powersports Retail Store"},
    "Shop": [
        {"shopID": 1, "name": "Downtown Store", "timeZone": "America/Chicago"},
        {"shopID": 2, "name": "Lakeside Store", "timeZone": "America/Chicago"},
    ],
    "Register": [
        {"registerID": 1, "name": "Counter", "shopID": 1},
        {"registerID": 2, "name": "Webstore", "shopID": 1},
    ],
    "EmployeeRole": [
        {"employeeRoleID": 1, "name": "Admin"},
        {"employeeRoleID": 2, "name": "Manager"},
    ],
    "Employee": [
        {"employeeID": ADMIN, "firstName": "Alex", "lastName": "Admin", "employeeRoleID": 1},
        {"employeeID": MANAGER, "firstName": "Morgan", "lastName": "Manager", "employeeRoleID": 2},
    ],
    "PriceLevel": [
        {"priceLevelID": 1, "name": "Default", "type": "Default"},
        {"priceLevelID": 2, "name": "MSRP", "type": "MSRP"},
        {"priceLevelID": 5, "name": "Web Sale", "type": "Custom"},
    ],
    "Manufacturer": [{"manufacturerID": 1, "name": "Trailcraft"}],
    "PaymentType": [
        {"paymentTypeID": 1, "name": "Cash", "type": "cash"},
        {"paymentTypeID": 2, "name": "Credit Card", "type": "credit card"},
    ],
    "TaxCategory": [{"taxCategoryID": 1, "name": "TX", "tax1Rate": "0.0825"}],
    "Item": [
        _item(
            1,
            "TC-JACKET-L",
            "Touring Jacket L",
            upc="840000000017",
            manufacturerSku="TJ-L",
            Prices=[
                {"amount": "249.00", "useTypeID": 1, "useType": "Default"},
                {"amount": "199.00", "useTypeID": 5, "useType": "Web Sale"},
            ],
            ItemShops=[{"shopID": 1, "qoh": 4}, {"shopID": 2, "qoh": 2}],
        ),
        _item(2, "TC-BOOTS-10", "Adventure Boots 10", ean="4000000000023", manufacturerSku="AB-10"),
        _item(3, "TC-VISOR", "Helmet Visor", manufacturerSku="HV-1", upc="840000000031"),
        _item(4, "TC-NOCODE", "Key chain (no UPC or EAN)", manufacturerSku="KC-1"),
        _item(5, "TC-NOMPN", "Patch (no manufacturer SKU)", upc="840000000055"),
        _item(
            6,
            "TC-NOPRICE",
            "Gift box (no Default price)",
            upc="840000000062",
            manufacturerSku="GB-1",
            Prices=[{"amount": "9.00", "useTypeID": 2, "useType": "MSRP"}],
        ),
        _item(
            7,
            "TC-UNKNOWN",
            "Rain cover (not in the hub)",
            upc="840000000079",
            manufacturerSku="RC-1",
        ),
        _item(
            8,
            "TC-TWIN",
            "Glove liner (two hub products)",
            upc="840000000086",
            manufacturerSku="GL-1",
        ),
        _item(9, "WEB-SHIP", "Web shipping", tax=False, Prices=[], ItemShops=[]),
    ],
}

PRODUCTS = [
    {
        "sku": "RT-JACKET-L",
        "title": "Touring Jacket L",
        "brand": "Trailcraft",
        "upc": "840000000017",
        "mpn": "TJ-L",
        "price": "259.00",
    },
    {
        "sku": "RT-BOOTS-10",
        "title": "Adventure Boots 10",
        "brand": "Trailcraft",
        "ean": "4000000000023",
        "mpn": "AB-10",
        "price": "180.00",
    },
    {
        "sku": "RT-VISOR",
        "title": "Helmet Visor",
        "brand": "Trailcraft",
        "mpn": "HV-1",
        "price": "35.00",
    },
    {"sku": "RT-LINER-A", "title": "Glove liner", "upc": "840000000086"},
    {"sku": "RT-LINER-B", "title": "Glove liner (duplicate)", "upc": "840000000086"},
]
LOCATIONS = {"RT-DOWNTOWN": "Downtown store", "RT-LAKESIDE": "Lakeside store"}


@contextmanager
def retail_sandbox() -> Iterator[tuple[Any, str]]:
    """The R-Series sandbox of the Retail account (a quick drip: the demo does not wait)."""
    from plugins.lightspeed_rseries.sandbox import create_app

    sandbox = create_app(seed=RETAIL_SEED, bucket_size=90, drip_rate=30)
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


def run_retail_flow(
    http: httpx.Client,
    slug: str,
    say: Callable[[str], None],
    wait_run: Callable[[Any, int], dict[str, Any]],
) -> None:
    """The Retail flow against a fresh sandbox (see the module docstring). ``http`` is the
    demo's client of the hub's API (base URL and admin key set)."""

    def call(method: str, path: str, **kw: Any) -> Any:
        resp = http.request(method, path, **kw)
        if resp.status_code >= 400:
            raise SystemExit(f"{method} {path} → {resp.status_code}: {resp.text}")
        return resp.json() if "json" in resp.headers.get("content-type", "") else resp.text

    api_url = str(http.base_url).rstrip("/")
    base = f"/api/v1/tenants/{slug}/plugins/{PLUGIN}"

    def job(name: str) -> dict[str, Any]:
        queued = call("POST", f"{base}/jobs/{name}")
        return wait_run(call, queued["run_id"])

    def connect_as(employee_id: int) -> str:
        state.consent_employee_id = employee_id
        authorize = call("POST", f"{base}/connect")["authorize_url"]
        consent = httpx.get(authorize, follow_redirects=False)
        callback = urlsplit(consent.headers["location"])
        page = httpx.get(f"{api_url}{callback.path}?{callback.query}", follow_redirects=False)
        return html.unescape(page.text)

    with retail_sandbox() as (sandbox, url):
        state = sandbox.state
        say("")
        say(f"-- Lightspeed Retail (R-Series sandbox {url}, account {state.account_id})")
        for code, name in LOCATIONS.items():
            call("PUT", f"/api/v1/tenants/{slug}/locations/{code}", json={"name": name})
        call("PUT", f"/api/v1/tenants/{slug}/products", json=PRODUCTS)
        config: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "api_url": url,
            "cloud_url": url,
        }
        view = call("PUT", base, json={"enabled": True, "config": config})
        say(f"install saved: status {view['status']}")

        page = connect_as(MANAGER)
        sentence = "A Lightspeed user needs to have the Admin role to complete setup"
        view = call("GET", base)
        say(
            f"connect as Morgan (Manager): refused — {sentence!r} shown: {sentence in page}; "
            f"connected {view['connection']['connected']}, tokens {view['config']['auth_token']!r}"
        )
        connect_as(ADMIN)
        view = call("GET", base)
        say(
            f"connect as Alex (Admin): account {view['connection']['account_id']} "
            f"{view['connection']['account_name']!r}; status {view['status']}"
        )
        refused = http.post(f"{base}/jobs/inventory_import_full")
        say(f"a job before setup: {refused.status_code} {refused.json()['detail']}")
        shops = call("GET", f"{base}/actions/shops")["data"]
        say("shops: " + ", ".join(f"{s['shop_id']} {s['name']}" for s in shops))
        settings = {
            **config,
            "stores": [
                {"shop_id": 1, "location": "RT-DOWNTOWN"},
                {"shop_id": 2, "location": "RT-LAKESIDE"},
            ],
            "use_pos_pricing": True,
            "regular_price_level": 1,
            "sale_price_level": 5,
            "order_export_enabled": True,
            "export_employee_id": ADMIN,
            "export_register_id": 2,
            "payment_type_map": {"visa": 2},
            "shipping_item_id": 9,
            "tax_category_id": 1,
            "status_after_export": "completed",
        }
        view = call("PUT", base, json={"enabled": True, "config": settings})
        say(
            f"stores mapped (1 → RT-DOWNTOWN, 2 → RT-LAKESIDE), settings saved: status {view['status']}"
        )

        run = job("inventory_import_full")
        counts = run["counts"]
        say(
            f"full import: {run['state']} — items read {counts.get('items_read')}, imported "
            f"{counts.get('imported')}, pending {counts.get('pending')}, prices "
            f"{counts.get('prices_updated', 0)}, {counts.get('requests')} requests"
        )
        pending = call("GET", f"{base}/actions/pending-mappings")["data"]["items"]
        for row in pending:
            say(f"   pending {row['item']:<11} {row['reason']:<26} {row['explanation']}")
        warnings = call("GET", base)["warnings"]
        say(f"install warning: {next(w for w in warnings if w.startswith('Pending'))}")
        for sku in ("RT-JACKET-L", "RT-BOOTS-10", "RT-VISOR"):
            product = call("GET", f"/api/v1/tenants/{slug}/products/{sku}")
            stock = ", ".join(f"{r['location']}={r['quantity']}" for r in product["inventory"])
            say(
                f"   {sku:<12} price {product['price']:<7} sale {product['sale_price'] or '-':<7} stock {stock}"
            )

        # The sale price shows only between the webstore's dates.
        jacket = call("GET", f"/api/v1/tenants/{slug}/products/RT-JACKET-L")
        now = datetime.now(UTC)
        fields = {
            k: jacket[k] for k in ("sku", "title", "brand", "upc", "mpn", "price", "sale_price")
        }
        for label, starts, ends in (
            ("no start date", None, None),
            ("started yesterday, ends next week", now - timedelta(days=1), now + timedelta(days=7)),
            ("starts next week", now + timedelta(days=7), None),
        ):
            dates = {
                "sale_starts_at": starts.isoformat().replace("+00:00", "Z") if starts else None,
                "sale_ends_at": ends.isoformat().replace("+00:00", "Z") if ends else None,
            }
            call("PUT", f"/api/v1/tenants/{slug}/products", json=[{**fields, **dates}])
            active = call("GET", f"/api/v1/tenants/{slug}/products/RT-JACKET-L")["sale_active"]
            say(f"   sale price 199.00 with {label}: active {active}")

        state.set_stock(1, 2, qoh=9)  # a delivery at Lakeside: only the ItemShop moves
        time.sleep(1.1)
        run = job("inventory_import")
        jacket = call("GET", f"/api/v1/tenants/{slug}/products/RT-JACKET-L")
        stock = ", ".join(f"{r['location']}={r['quantity']}" for r in jacket["inventory"])
        say(f"ItemShop change (Lakeside 2 → 9), incremental import: {run['state']}; jacket {stock}")

        # An unpaid web order waits; its payment exports it, once.
        order = {
            "number": "R5001",
            "placed_at": now.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "billing": {"first_name": "Robin", "last_name": "Rider", "email": "robin@example.com"},
            "payments": [{"method": "visa", "amount": "100.00", "captured": True}],
            "lines": [{"sku": "RT-BOOTS-10", "quantity": 1, "unit_price": "180.00"}],
            "shipping_cost": "12.00",
            "tax": "14.85",
            "total": "206.85",
        }
        call("POST", f"/api/v1/tenants/{slug}/orders", json=order)
        job("order_export")
        export = next(
            e
            for e in call("GET", f"/api/v1/tenants/{slug}/orders/R5001")["exports"]
            if e["plugin_id"] == PLUGIN
        )
        say(
            f"order R5001 paid 100.00 of 206.85: export {export['state']}, message {export['message']!r}"
        )
        paid = call(
            "POST",
            f"/api/v1/tenants/{slug}/orders/R5001/payments",
            json={
                "method": "visa",
                "amount": "106.85",
                "captured": True,
                "reference": "cap-R5001-2",
            },
        )
        say(
            f"payment of 106.85 recorded: balance_due {paid['balance_due']}; the export is queued at once"
        )
        runs = call(
            "GET",
            f"/api/v1/tenants/{slug}/runs",
            params={"plugin_id": PLUGIN, "job": "order_export"},
        )["items"]
        run = wait_run(call, runs[0]["run_id"])
        again = job("order_export")
        detail = call("GET", f"/api/v1/tenants/{slug}/orders/R5001")
        export = next(e for e in detail["exports"] if e["plugin_id"] == PLUGIN)
        sales = [s for s in state.sales.values() if s.get("referenceNumber") == "R5001"]
        sale = sales[0]
        say(
            f"order_export: {run['state']} → sale {export['external_ref']} completed "
            f"{sale['completed']}, total {sale['total']} (Lightspeed's tax {sale['calcTax1']}), "
            f"order status {detail['status']}; run again: {again['counts']} — sales for R5001 "
            f"on Lightspeed: {len(sales)}"
        )
