"""Fixtures of the ``lightspeed_pos`` tests: a hub with the plugin, a tenant with warehouses
and products, and the R-Series sandbox served on loopback (the real OAuth flow, the bucket,
fault injection)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hub.core import catalog
from hub.core.hub import Hub
from hub.core.inventory import set_quantities
from hub.plugin import serve_in_thread
from hub.plugin.testing import add_tenant, make_test_hub, run_job, stock_of
from plugins.lightspeed_pos import connection as pos_connection
from plugins.lightspeed_pos import plugin as pos_plugin
from plugins.lightspeed_rseries.sandbox import Sandbox, create_app

PLUGIN = "lightspeed_pos"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
WAREHOUSES = ("W1", "W2", "W3", "RET", "W9")

SEED: dict[str, Any] = {
    "account": {"accountID": 101, "name": "Sandbox Cycles"},
    "Shop": [
        {"shopID": 1, "name": "Main Street", "timeZone": "America/New_York", "archived": False},
        {"shopID": 2, "name": "Harbour Outlet", "timeZone": "America/New_York", "archived": False},
    ],
    "Register": [
        {"registerID": 1, "name": "Main Till", "shopID": 1, "archived": False},
        {"registerID": 2, "name": "Outlet Till", "shopID": 2, "archived": False},
        {"registerID": 3, "name": "Main Till 2", "shopID": 1, "archived": False},
    ],
    "EmployeeRole": [{"employeeRoleID": 1, "name": "Admin"}],
    "Employee": [
        {"employeeID": 1, "firstName": "Ada", "lastName": "Owner", "employeeRoleID": 1},
        {"employeeID": 2, "firstName": "Sam", "lastName": "Clerk", "employeeRoleID": 1},
    ],
    "PriceLevel": [{"priceLevelID": 1, "name": "Default", "type": "Default"}],
    "PaymentType": [
        {"paymentTypeID": 1, "name": "Cash", "type": "cash"},
        {"paymentTypeID": 2, "name": "Credit Card", "type": "credit card"},
    ],
    "Customer": [
        {
            "customerID": 1,
            "firstName": "Grace",
            "lastName": "Buyer",
            "Contact": {
                "Emails": [{"address": "grace@example.com", "useType": "Primary"}],
                "Addresses": [{"address1": "1 Harbour Rd", "city": "Portsmouth", "zip": "03801"}],
            },
        }
    ],
    "Item": [
        {
            "itemID": 1,
            "customSku": "HELMET",
            "description": "Trail Helmet",
            "defaultCost": "30.00",
            "Prices": [{"amount": "50.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 0}],
        },
        {
            "itemID": 2,
            "customSku": "LS-LIGHT",
            "upc": "012345678912",
            "description": "Light Set",
            "Prices": [{"amount": "24.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}],
        },
        {
            "itemID": 3,
            "customSku": "CHAIN",
            "description": "11-speed Chain",
            "Prices": [{"amount": "34.95", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}, {"shopID": 2, "qoh": 0}],
        },
        {
            "itemID": 9,
            "customSku": "NOT-IN-HUB",
            "description": "Mystery Gadget",
            "Prices": [{"amount": "5.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 0}],
        },
    ],
}

PRODUCTS = [
    catalog.ProductIn(
        sku="HELMET", title="Trail Helmet", price=Decimal("59.99"), cost=Decimal("32.50")
    ),
    catalog.ProductIn(sku="LIGHT", title="Light Set", upc="012345678912", price=Decimal("24.00")),
    catalog.ProductIn(sku="CHAIN", title="11-speed Chain", price=Decimal("34.95")),
    catalog.ProductIn(
        sku="TUBE",
        title="Inner Tube 29in",
        upc="036000291452",
        mpn="T29",
        price=Decimal("7.50"),
        cost=Decimal("3.10"),
    ),
    catalog.ProductIn(
        sku="BELL", title="Brass Bell", upc="123", ean="4006381333931", price=Decimal("9.00")
    ),
]


class PosWorld:
    """The hub, the sandbox and one tenant's ``lightspeed_pos`` install."""

    def __init__(self, hub: Hub, sandbox: Sandbox, url: str, slug: str = "acme") -> None:
        self.hub = hub
        self.sandbox = sandbox
        self.url = url
        self.tenant_id = add_tenant(hub, slug, locations=WAREHOUSES)
        with hub.db.session() as session:
            catalog.upsert_products(session, self.tenant_id, PRODUCTS)

    @property
    def state(self) -> Any:
        return self.sandbox.state

    # -- setup ----------------------------------------------------------------------------

    def configure(self, **config: Any) -> None:
        base = {
            "enabled": True,
            "api_url": self.url,
            "cloud_url": self.url,
            "order_download": True,
            "inventory_upload": True,
            "returns_warehouse": "RET",
        }
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

    def connect(self, **extra: str) -> Any:
        """Walk the OAuth flow: the hub's authorize URL, the sandbox's consent, the callback."""
        url = self.hub.connect(self.tenant_id, PLUGIN, "test")
        for key, value in extra.items():
            url += f"&{key}={value}"
        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        query = parse_qs(urlparse(response.headers["location"]).query)
        return self.hub.finish_connect(query["state"][0], query["code"][0])

    def action(self, name: str, **params: Any) -> Any:
        return self.hub.run_action(self.tenant_id, PLUGIN, name, params, actor="test").data

    def setup(self, *, mapping: bool = True, **config: Any) -> None:
        """Configured, connected, shops read and (by default) mapped: shop 1 ← W1, W2;
        shop 2 ← W3."""
        self.configure(**config)
        outcome = self.connect()
        assert outcome.ok, outcome.detail
        self.action("refresh-shops")
        if mapping:
            self.map_shops({1: ["W1", "W2"], 2: ["W3"]})

    def map_shops(self, mapping: dict[int, list[str]], **extra: Any) -> None:
        shops = self.install_config()["shops"]
        for shop in shops:
            shop["warehouses"] = mapping.get(shop["shop_id"], [])
        self.configure(shops=shops, shops_mapping_enabled=True, **extra)

    # -- stock, products, runs ------------------------------------------------------------

    def set_stock(self, items: list[tuple[str, str, int]]) -> None:
        with self.hub.db.session() as session:
            set_quantities(session, self.tenant_id, items)

    def stock(self, sku: str, location: str) -> int:
        return stock_of(self.hub, self.tenant_id, sku, location) or 0

    def run(self, job: str, **options: Any) -> dict[str, Any]:
        return run_job(self.hub, self.tenant_id, PLUGIN, job, **options)

    def enable(self, *skus: str) -> None:
        ctx = self.hub.context_for(self.slug, PLUGIN)
        assert ctx is not None
        ctx.set_listing_enabled(list(skus), True)

    @property
    def slug(self) -> str:
        return self.hub.tenant_info(self.tenant_id).slug

    def bind(self, sku: str, item_id: int) -> None:
        ctx = self.hub.context_for(self.slug, PLUGIN)
        assert ctx is not None
        (product,) = ctx.find_products(skus=[sku])
        ctx.bind("product", product.product_id, str(item_id))

    def order(self, number: str) -> dict[str, Any]:
        return self.hub.order_detail(self.tenant_id, number)

    def writes(self, method: str = "PUT", entity: str = "Item") -> list[Any]:
        return [w for w in self.state.writes if w.method == method and w.entity == entity]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff in milliseconds so fault tests stay short."""
    monkeypatch.setattr(pos_connection, "BACKOFF_BASE", 0.01)


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Any]:
    """``make_world(**sandbox_options)`` → a :class:`PosWorld` (sandbox drip 100/s); with
    ``database_url=`` the hub's database is that one (SQLite in ``tmp_path`` otherwise)."""
    with ExitStack() as stack:
        hubs: list[Hub] = []

        def build(
            seed: dict[str, Any] | None = None,
            *,
            database_url: str | None = None,
            **sandbox_options: Any,
        ) -> PosWorld:
            sandbox_options.setdefault("drip_rate", 100)
            sandbox = create_app(seed=seed or SEED, **sandbox_options)
            server = stack.enter_context(serve_in_thread(sandbox.app))
            database = {"database_url": database_url} if database_url else {}
            hub = make_test_hub(
                tmp_path / f"hub{len(hubs)}",
                pos_plugin,
                rseries_client_id=CLIENT_ID,
                rseries_client_secret=CLIENT_SECRET,
                **database,
            )
            hubs.append(hub)
            return PosWorld(hub, sandbox, server.url)

        try:
            yield build
        finally:
            for hub in hubs:
                hub.db.dispose()


@pytest.fixture
def world(make_world: Any) -> PosWorld:
    return make_world()  # type: ignore[no-any-return]
