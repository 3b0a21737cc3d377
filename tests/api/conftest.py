"""Fixtures of the API tests: a hub on a SQLite file, a small inline plugin, keys, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from pydantic import BaseModel

from hub.api import create_app
from hub.core import keys, tenants
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.records import (
    Capability,
    ConfigProblem,
    ConnectionResult,
    JobSpec,
    PluginManifest,
    secret_field,
)
from hub.plugin.manager import PluginManager
from hub.plugin.spec import hookimpl
from hub.settings import load_settings

PLUGIN_ID = "testpos"


class TestPosConfig(BaseModel):
    """Config of the inline test plugin: one plain field, one secret, one number."""

    account: str = ""
    api_password: str | None = secret_field(default=None)
    store_count: int = 1


class TestPosPlugin:
    """A plugin that exports orders and imports inventory, without any vendor."""

    @hookimpl
    def hub_plugin_manifest(self) -> PluginManifest:
        return PluginManifest(
            id=PLUGIN_ID,
            title="Test POS",
            version="1.0",
            config_model=TestPosConfig,
            jobs=(
                JobSpec(
                    name="inventory", title="Inventory import", kind=Capability.INVENTORY_IMPORT
                ),
            ),
            capabilities=(Capability.INVENTORY_IMPORT, Capability.ORDER_EXPORT),
        )

    @hookimpl
    def hub_validate_config(self, ctx: Any) -> list[ConfigProblem]:
        if ctx.config.store_count > 10:
            return [ConfigProblem("store_count", "at most 10 stores")]
        return []

    @hookimpl
    def hub_install_warnings(self, ctx: Any) -> list[str]:
        return [] if ctx.config.account else ["no account set"]

    @hookimpl
    def hub_test_connection(self, ctx: Any) -> ConnectionResult:
        ok = ctx.config.api_password == "s3cret"
        return ConnectionResult(ok, "connected" if ok else "wrong password")

    @hookimpl
    def hub_job_refusal(self, ctx: Any, job: str, options: dict[str, Any]) -> str | None:
        return None if ctx.config.account else "set the account first"

    @hookimpl
    def hub_order_exportable(self, ctx: Any, order: Any) -> bool:
        return True

    @hookimpl
    def hub_inventory_import(self, ctx: Any) -> bool:
        return True


def make_hub(tmp_path: Path, **overrides: Any) -> Hub:
    """A hub on a fresh SQLite file with the test plugin registered. Loopback vendors and
    private webhook targets are allowed (the tests' vendors and receivers are on loopback);
    pass ``allow_loopback_vendors=False`` / ``allow_private_webhooks=False`` to test the
    production rule. ``database_url`` puts it on another database (PostgreSQL)."""
    url = str(overrides.pop("database_url", f"sqlite:///{tmp_path}/hub.db"))
    values: dict[str, Any] = {"allow_loopback_vendors": True, "allow_private_webhooks": True}
    values.update(overrides)
    settings = load_settings(secret_key="k" * 40, database_url=url, **values)
    db = Database(url)
    db.create_all()
    hub = Hub(settings, db=db, plugins=PluginManager(autoload=False, builtins=()))
    hub.plugins.register(TestPosPlugin())
    return hub


class World:
    """The hub, its app and the keys of the tests."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.app: Litestar = create_app(hub)
        with hub.db.session() as session:
            self.admin_key, _ = keys.create_key(session, None, "admin")
            acme = tenants.create_tenant(session, "acme", "Acme Motors", "America/Chicago")
            globex = tenants.create_tenant(session, "globex", "Globex Cycles")
            assert acme.id is not None and globex.id is not None
            self.acme_id, self.globex_id = acme.id, globex.id
            self.acme_key, _ = keys.create_key(session, acme.id, "acme webstore")
            self.globex_key, _ = keys.create_key(session, globex.id, "globex webstore")

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_key)

    @property
    def acme(self) -> dict[str, str]:
        return self.auth(self.acme_key)

    @property
    def globex(self) -> dict[str, str]:
        return self.auth(self.globex_key)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(make_hub(tmp_path))


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=world.app) as test_client:
        yield test_client


def order_body(number: str = "W1001", **changes: Any) -> dict[str, Any]:
    """The contract's example order (totals add up: 2 × 24.95 + 9.99 + 4.21 = 64.10)."""
    body: dict[str, Any] = {
        "number": number,
        "placed_at": "2026-11-20T10:00:00Z",
        "currency": "USD",
        "billing": {
            "first_name": "Ann",
            "last_name": "Lee",
            "company": "",
            "address1": "1 Main St",
            "address2": "",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "country": "US",
            "phone": "",
            "email": "ann@example.com",
        },
        "shipping": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "country": "US",
            "phone": "",
        },
        "payments": [{"method": "visa", "amount": "64.10", "captured": True}],
        "lines": [
            {
                "sku": "TR-12345",
                "quantity": 2,
                "unit_price": "24.95",
                "manufacturer": "Tucker Rocky",
                "description": "Brake pads",
            }
        ],
        "shipping_cost": "9.99",
        "shipping_carrier": "UPS",
        "shipping_method": "GROUND",
        "tax": "4.21",
        "total": "64.10",
        "comment": "",
    }
    body.update(changes)
    return body
