"""Fixtures of the core tests: a database on SQLite and PostgreSQL, a Hub with the sample
plugin, a tenant with a location and an enabled install."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from hub.core import catalog
from hub.core.catalog import ProductIn
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.models import PluginInstall
from hub.core.orders import OrderIn
from hub.core.tenants import TenantInfo, create_tenant
from hub.plugin.manager import PluginManager
from hub.settings import load_settings
from tests.core.sample_plugin import SamplePlugin

SECRET_KEY = "k" * 40


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """The URL of an empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A Database with every table, on SQLite and on PostgreSQL."""
    database = Database(db_url)
    database.create_all()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Any) -> Iterator[Database]:
    """A Database on SQLite only, for tests where the backend does not matter."""
    database = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    database.create_all()
    try:
        yield database
    finally:
        database.dispose()


def make_hub(db: Database, *plugins: object, **settings: Any) -> Hub:
    """A Hub on ``db`` with only the given plugins registered (no built-ins, no entry points);
    loopback vendors and private webhook targets allowed unless ``settings`` says otherwise."""
    values: dict[str, Any] = {
        "secret_key": SECRET_KEY,
        "database_url": db.url,
        "allow_loopback_vendors": True,
        "allow_private_webhooks": True,
        **settings,
    }
    hub = Hub(
        load_settings(**values),
        db=db,
        plugins=PluginManager(autoload=False, builtins=()),
    )
    for plugin in plugins:
        hub.plugins.register(plugin)
    return hub


@pytest.fixture
def plugin() -> SamplePlugin:
    return SamplePlugin()


@pytest.fixture
def hub(db: Database, plugin: SamplePlugin) -> Hub:
    return make_hub(db, plugin)


@dataclass
class Setup:
    """A tenant (America/Chicago) with location ``main`` and the sample plugin enabled."""

    hub: Hub
    tenant: TenantInfo
    install_id: int
    location_id: int

    @property
    def tenant_id(self) -> int:
        return self.tenant.id


def make_tenant(
    hub: Hub,
    slug: str = "acme",
    *,
    plugin_ids: tuple[str, ...] = ("sample",),
    config: dict[str, Any] | None = None,
) -> Setup:
    with hub.db.session() as session:
        row = create_tenant(session, slug, slug.title(), timezone="America/Chicago")
        location, _ = catalog.put_location(session, row.id, "main", "Main store")  # type: ignore[arg-type]
        tenant = TenantInfo.of(row)
        location_id = location.id
    install_id = 0
    for plugin_id in plugin_ids:
        install: PluginInstall = hub.configure_install(
            tenant.id, plugin_id, enabled=True, config=dict(config or {}), actor="test"
        )
        install_id = install_id or int(install.id or 0)
    assert location_id is not None
    return Setup(hub, tenant, install_id, location_id)


@pytest.fixture
def setup(hub: Hub) -> Setup:
    return make_tenant(hub)


def add_products(db: Database, tenant_id: int, products: list[dict[str, Any]]) -> dict[str, int]:
    """Upsert products; returns their ids by SKU."""
    with db.session() as session:
        catalog.upsert_products(session, tenant_id, [ProductIn(**p) for p in products])
    with db.read() as session:
        from sqlmodel import select

        from hub.core.models import Product

        return {
            p.sku: int(p.id or 0)
            for p in session.exec(select(Product).where(Product.tenant_id == tenant_id))
        }


def order_body(
    number: str,
    *,
    lines: list[tuple[str, int, str]] | None = None,
    shipping: str = "5.00",
    tax: str = "1.00",
    total: str | None = None,
    placed_at: datetime | None = None,
    **extra: Any,
) -> OrderIn:
    """An order whose total adds up unless ``total`` says otherwise."""
    lines = lines or [("SKU-1", 2, "10.00")]
    computed = sum(Decimal(p) * q for _, q, p in lines) + Decimal(shipping) + Decimal(tax)
    return OrderIn.model_validate(
        {
            "number": number,
            "placed_at": (placed_at or datetime(2026, 5, 1, 12, tzinfo=UTC)).isoformat(),
            "lines": [{"sku": s, "quantity": q, "unit_price": p} for s, q, p in lines],
            "shipping_cost": shipping,
            "tax": tax,
            "total": total if total is not None else str(computed),
            **extra,
        }
    )


def plugin_context(setup: Setup, plugin_id: str = "sample") -> Any:
    """The PluginContext of the tenant's install of ``plugin_id`` (what a plugin is handed)."""
    from hub.core.installs import require_install

    with setup.hub.db.read() as session:
        install = require_install(session, setup.tenant_id, plugin_id)
    return setup.hub.context(install)


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)
