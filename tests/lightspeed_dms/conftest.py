"""Fixtures for the lightspeed_dms plugin: a hub with the plugin, a tenant, its endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.datastructures import State

from hub.core import catalog, tenants
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.orders import OrderIn
from hub.plugin.manager import PluginManager
from hub.settings import load_settings

PASSWORD = "s3cret-pass"


def make_hub(tmp_path: Path, **overrides: Any) -> Hub:
    """A hub with the built-in plugins; the vendor sandboxes and receivers are on loopback."""
    url = f"sqlite:///{tmp_path}/hub.db"
    db = Database(url)
    db.create_all()
    values: dict[str, Any] = {"allow_loopback_vendors": True, "allow_private_webhooks": True}
    values.update(overrides)
    settings = load_settings(secret_key="k" * 40, database_url=url, **values)
    return Hub(settings, db=db, plugins=PluginManager(autoload=False))


def add_tenant(
    hub: Hub, slug: str, username: str = "dms", password: str = PASSWORD, **config: Any
) -> int:
    with hub.db.session() as session:
        tenant = tenants.create_tenant(session, slug, slug.title(), "America/Chicago")
        tenant_id = tenant.id
        assert tenant_id is not None
        catalog.put_location(session, tenant_id, "store", "Store")
        catalog.upsert_products(
            session,
            tenant_id,
            [
                catalog.ProductIn(
                    sku="TR-12345",
                    catalog="aftermarket",
                    brand="Tucker Rocky",
                    part_number="12-345",
                    title="Brake pads",
                ),
                catalog.ProductIn(sku="KA-99", catalog="oem", brand="Kawasaki", part_number="99-1"),
            ],
        )
    hub.configure_install(
        tenant_id,
        "lightspeed_dms",
        enabled=True,
        actor="test",
        admin=True,
        config={
            "web_orders_enabled": True,
            "web_orders_username": username,
            "web_orders_password": password,
            "supplier_codes": [
                {"catalog": "aftermarket", "supplier_code": "TR", "brand": "Tucker Rocky"},
            ],
            **config,
        },
    )
    return tenant_id


def order_body(
    number: str,
    *,
    placed_at: str = "2026-11-20T10:00:00Z",
    qty: int = 2,
    email: str = "jane@example.com",
    first_name: str = "Jane",
) -> OrderIn:
    price = Decimal("24.95")
    lines = price * qty
    total = lines + Decimal("9.99") + Decimal("4.21")
    return OrderIn.model_validate(
        {
            "number": number,
            "placed_at": placed_at,
            "currency": "USD",
            "billing": {
                "first_name": first_name,
                "last_name": "Doe",
                "address1": "1 Main St",
                "city": "Austin",
                "state": "TX",
                "postal_code": "78701",
                "country": "US",
                "email": email,
            },
            "shipping": {
                "first_name": first_name,
                "last_name": "Doe",
                "address1": "1 Main St",
                "city": "Austin",
                "state": "TX",
                "postal_code": "78701",
                "country": "US",
            },
            "payments": [{"method": "visa", "amount": str(total), "captured": True}],
            "lines": [
                {
                    "sku": "TR-12345",
                    "quantity": qty,
                    "unit_price": str(price),
                    "manufacturer": "Tucker Rocky",
                    "description": "Brake pads",
                }
            ],
            "shipping_cost": "9.99",
            "shipping_carrier": "UPS",
            "shipping_method": "GROUND",
            "tax": "4.21",
            "total": str(total),
        }
    )


def dms_app(hub: Hub) -> Litestar:
    """The plugin's routes on their own (the full API mounts the same handlers)."""
    return Litestar(route_handlers=hub.plugins.http_routes(), state=State({"hub": hub}))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    hub = make_hub(tmp_path)
    yield hub
    hub.db.dispose()


@pytest.fixture
def tenant_id(hub: Hub) -> int:
    return add_tenant(hub, "acme")
