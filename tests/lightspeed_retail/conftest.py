"""Fixtures of the ``lightspeed_retail`` tests: a hub with the plugin, a tenant with two
locations and products carrying GTINs, and the R-Series sandbox on loopback (the real OAuth
flow, employee roles, tax categories, fault injection)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlmodel import select

from hub.core import catalog
from hub.core.hub import Hub
from hub.core.models import JobRun
from hub.core.orders import OrderIn
from hub.plugin import serve_in_thread
from hub.plugin.testing import add_tenant, make_test_hub, run_job, stock_of
from plugins.lightspeed_retail import plugin as retail_plugin
from plugins.lightspeed_rseries.sandbox import Sandbox, create_app

PLUGIN = "lightspeed_retail"
ADMIN, MANAGER, OWNER, CLERK = 1, 3, 4, 2

SEED: dict[str, Any] = {
    "account": {"accountID": 101, "name": "Sandbox Cycles"},
    "Shop": [
        {"shopID": 1, "name": "Main Street", "timeZone": "America/New_York", "archived": False},
        {"shopID": 2, "name": "Harbour Outlet", "timeZone": "America/New_York", "archived": False},
    ],
    "Register": [
        {"registerID": 1, "name": "Main Till", "shopID": 1, "archived": False},
        {"registerID": 3, "name": "Webstore", "shopID": 1, "archived": False},
    ],
    "EmployeeRole": [
        {"employeeRoleID": 1, "name": "Admin"},
        {"employeeRoleID": 2, "name": "Sales"},
        {"employeeRoleID": 3, "name": "Manager"},
        {"employeeRoleID": 4, "name": "Owner"},
    ],
    "Employee": [
        {"employeeID": ADMIN, "firstName": "Ada", "lastName": "Admin", "employeeRoleID": 1},
        {"employeeID": CLERK, "firstName": "Sam", "lastName": "Clerk", "employeeRoleID": 2},
        {"employeeID": MANAGER, "firstName": "Max", "lastName": "Manager", "employeeRoleID": 3},
        {"employeeID": OWNER, "firstName": "Olga", "lastName": "Owner", "employeeRoleID": 4},
    ],
    "PriceLevel": [
        {"priceLevelID": 1, "name": "Default", "type": "Default"},
        {"priceLevelID": 2, "name": "MSRP", "type": "MSRP"},
        {"priceLevelID": 4, "name": "Web Sale", "type": "Custom"},
    ],
    "Manufacturer": [
        {"manufacturerID": 1, "name": "Northwind Bikes"},
        {"manufacturerID": 2, "name": "Acme Components"},
    ],
    "PaymentType": [
        {"paymentTypeID": 1, "name": "Cash", "type": "cash"},
        {"paymentTypeID": 2, "name": "Credit Card", "type": "credit card"},
        {"paymentTypeID": 3, "name": "Webstore", "type": "user defined"},
    ],
    "TaxCategory": [{"taxCategoryID": 1, "name": "NH", "tax1Rate": "0.065"}],
    "Customer": [
        {
            "customerID": 1,
            "firstName": "Grace",
            "lastName": "Buyer",
            "Contact": {"Emails": [{"address": "grace@example.com", "useType": "Primary"}]},
        }
    ],
    "Item": [
        {
            "itemID": 1,
            "customSku": "NW-HELMET-M",
            "manufacturerSku": "H-100-M",
            "upc": "012345678905",
            "description": "Trail Helmet M",
            "manufacturerID": 1,
            "Prices": [
                {"amount": "59.99", "useTypeID": 1, "useType": "Default"},
                {"amount": "64.99", "useTypeID": 2, "useType": "MSRP"},
                {"amount": "49.99", "useTypeID": 4, "useType": "Web Sale"},
            ],
            "ItemShops": [{"shopID": 1, "qoh": 7}, {"shopID": 2, "qoh": 3}],
        },
        {
            "itemID": 2,
            "customSku": "AC-CHAIN-11",
            "manufacturerSku": "C11",
            "ean": "4006381333931",
            "description": "11-speed Chain",
            "manufacturerID": 2,
            "Prices": [{"amount": "34.95", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 4}],
        },
        {
            "itemID": 3,
            "customSku": "AC-BRAKE",
            "manufacturerSku": "BP-9",
            "upc": "036000291452",
            "description": "Brake Pads",
            "manufacturerID": 2,
            "Prices": [{"amount": "19.50", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 5}],
        },
        {
            "itemID": 4,
            "customSku": "SHIPPING",
            "description": "Web shipping",
            "tax": False,
            "Prices": [{"amount": "0", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [],
        },
        {
            "itemID": 5,
            "customSku": "WEB-MISC",
            "description": "Webstore item (placeholder)",
            "Prices": [{"amount": "0", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [],
        },
    ],
}

PRODUCTS = [
    catalog.ProductIn(
        sku="HELMET",
        title="Trail Helmet M",
        brand="Northwind Bikes",
        upc="012345678905",
        mpn="H-100-M",
        price=Decimal("55.00"),
    ),
    catalog.ProductIn(
        sku="CHAIN",
        title="11-speed Chain",
        brand="Acme Components",
        ean="4006381333931",
        mpn="C11",
        price=Decimal("30.00"),
    ),
    catalog.ProductIn(
        sku="BRAKE",
        title="Brake Pads",
        brand="Acme Components",
        upc="036000291452",
        mpn="BP-9",
        price=Decimal("18.00"),
    ),
]


def seed(*items: dict[str, Any]) -> dict[str, Any]:
    """The test seed plus ``items`` (ItemShops as in a seed)."""
    data = copy.deepcopy(SEED)
    data["Item"].extend(copy.deepcopy(list(items)))
    return data


class RetailWorld:
    """The hub, the sandbox and one tenant's ``lightspeed_retail`` install."""

    def __init__(self, hub: Hub, sandbox: Sandbox, url: str) -> None:
        self.hub = hub
        self.sandbox = sandbox
        self.url = url
        self.tenant_id = add_tenant(hub, "acme", locations=("main", "outlet"))
        self.products(*PRODUCTS)

    @property
    def state(self) -> Any:
        return self.sandbox.state

    def products(self, *products: catalog.ProductIn) -> None:
        with self.hub.db.session() as session:
            catalog.upsert_products(session, self.tenant_id, list(products))

    # -- setup ----------------------------------------------------------------------------

    def configure(self, **config: Any) -> None:
        base = {"api_url": self.url, "cloud_url": self.url}
        base.update(self.install_config())
        base.update(config)
        self.hub.configure_install(
            self.tenant_id, PLUGIN, enabled=True, config=base, actor="test", admin=True
        )

    def install_config(self) -> dict[str, Any]:
        try:
            view = self.hub.install_view(self.tenant_id, PLUGIN)
        except Exception:
            return {}
        return {k: v for k, v in view["config"].items() if v != "********" and v is not None}

    def view(self) -> dict[str, Any]:
        return self.hub.install_view(self.tenant_id, PLUGIN)

    def connect(self, employee_id: int = ADMIN) -> Any:
        """The OAuth flow: the hub's authorize URL, ``employee_id`` consents, the callback."""
        self.state.consent_employee_id = employee_id
        url = self.hub.connect(self.tenant_id, PLUGIN, "test")
        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        query = parse_qs(urlparse(response.headers["location"]).query)
        return self.hub.finish_connect(query["state"][0], query["code"][0])

    def setup(self, **config: Any) -> None:
        """Configured, connected as the Admin, shop 1 → main, shop 2 → outlet, saved."""
        self.configure()
        outcome = self.connect()
        assert outcome.ok, outcome.detail
        settings = {
            "stores": [{"shop_id": 1, "location": "main"}, {"shop_id": 2, "location": "outlet"}]
        }
        settings.update(config)
        self.configure(**settings)

    def export_settings(self, **config: Any) -> dict[str, Any]:
        values = {
            "order_export_enabled": True,
            "export_employee_id": ADMIN,
            "export_register_id": 3,
            "payment_type_map": {"visa": 2, "paypal": 3},
            "shipping_item_id": 4,
            "placeholder_item_id": 5,
            "tax_category_id": 1,
        }
        values.update(config)
        return values

    # -- runs, stock, orders ----------------------------------------------------------------

    def run(self, job: str, **options: Any) -> dict[str, Any]:
        return run_job(self.hub, self.tenant_id, PLUGIN, job, **options)

    def run_queued(self, job: str) -> list[str | None]:
        """Run every queued run of ``job`` (e.g. those an event queued)."""
        with self.hub.db.read() as session:
            ids = list(
                session.exec(
                    select(JobRun.id).where(
                        JobRun.tenant_id == self.tenant_id,
                        JobRun.job == job,
                        JobRun.state == "queued",
                    )
                )
            )
        return [self.hub.execute_run(int(i)) for i in ids if i is not None]

    def stock(self, sku: str, location: str = "main") -> int | None:
        return stock_of(self.hub, self.tenant_id, sku, location)

    def action(self, name: str, **params: Any) -> Any:
        return self.hub.run_action(self.tenant_id, PLUGIN, name, params, actor="test")

    def order(self, number: str, **changes: Any) -> dict[str, Any]:
        body = order_body(number, **changes)
        self.hub.intake_order(self.tenant_id, OrderIn.model_validate(body))
        return self.hub.order_detail(self.tenant_id, number)

    def detail(self, number: str) -> dict[str, Any]:
        return self.hub.order_detail(self.tenant_id, number)

    def export_of(self, number: str) -> dict[str, Any]:
        exports = [e for e in self.detail(number)["exports"] if e["plugin_id"] == PLUGIN]
        assert len(exports) == 1, exports
        return exports[0]

    def sales_for(self, number: str) -> list[dict[str, Any]]:
        return [s for s in self.state.sales.values() if s.get("referenceNumber") == number]


def order_body(
    number: str,
    *,
    lines: list[dict[str, Any]] | None = None,
    paid: str | None = None,
    shipping: str = "9.99",
    tax: str = "7.79",
    email: str = "grace@example.com",
    location: str = "",
) -> dict[str, Any]:
    """A webstore order: 2 × HELMET at 59.99 + shipping 9.99 + the webstore's ``tax`` (7.79;
    Lightspeed's 6.5 % of the taxable 119.98 is 7.80: a cent of rounding, within the
    tolerance); ``paid`` is the captured amount (all of it by default)."""
    lines = lines or [{"sku": "HELMET", "quantity": 2, "unit_price": "59.99"}]
    for line in lines:
        line.setdefault("location", location)
    subtotal = sum(Decimal(line["unit_price"]) * line["quantity"] for line in lines)
    total = (subtotal + Decimal(shipping) + Decimal(tax)).quantize(Decimal("0.01"))
    payments = [{"method": "visa", "amount": paid if paid is not None else str(total)}]
    if paid == "0.00":
        payments = []
    return {
        "number": number,
        "placed_at": "2026-11-20T10:00:00Z",
        "billing": {"first_name": "Grace", "last_name": "Buyer", "email": email, "country": "US"},
        "payments": payments,
        "lines": lines,
        "shipping_cost": shipping,
        "tax": tax,
        "total": str(total),
    }


@pytest.fixture
def start_world(tmp_path: Path) -> Iterator[Callable[..., RetailWorld]]:
    """``start_world(seed=…, bucket_size=…, drip_rate=…)``: a sandbox and a hub with the
    plugin; everything stops after the test."""
    with ExitStack() as stack:
        made: list[Hub] = []

        def start(seed_data: dict[str, Any] | None = None, **sandbox_options: Any) -> RetailWorld:
            sandbox_options.setdefault("drip_rate", 100)
            sandbox = create_app(seed_data or seed(), **sandbox_options)
            server = stack.enter_context(serve_in_thread(sandbox.app))
            hub = make_test_hub(
                tmp_path / f"hub{len(made)}",
                retail_plugin,
                rseries_client_id="sandbox-client",
                rseries_client_secret="sandbox-secret",
            )
            made.append(hub)
            return RetailWorld(hub, sandbox, server.url)

        try:
            yield start
        finally:
            for hub in made:
                hub.db.dispose()


@pytest.fixture
def world(start_world: Callable[..., RetailWorld]) -> RetailWorld:
    return start_world()
