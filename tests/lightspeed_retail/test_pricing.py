"""POS pricing (seed: "A sale start date must be set in your SmartEtailing site manager to
trigger the sale price to display"; levels are Lightspeed's Pricing Levels, kept by id)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from litestar.testing import TestClient

from hub.api import create_app
from hub.core import catalog, keys
from hub.plugin import utcnow
from tests.lightspeed_retail.conftest import RetailWorld


@pytest.fixture
def api(world: RetailWorld) -> Iterator[tuple[TestClient, dict[str, str]]]:  # type: ignore[type-arg]
    with world.hub.db.session() as session:
        key, _ = keys.create_key(session, None, "admin")
    with TestClient(app=create_app(world.hub)) as client:
        yield client, {"Authorization": f"Bearer {key}"}


def _product(api: tuple[TestClient, dict[str, str]], sku: str) -> dict[str, object]:  # type: ignore[type-arg]
    client, headers = api
    response = client.get(f"/api/v1/tenants/acme/products/{sku}", headers=headers)
    response.raise_for_status()
    return dict(response.json())


def _dates(world: RetailWorld, starts: object, ends: object = None) -> None:
    """The webstore sets the sale dates (its own product fields)."""
    ctx = world.hub.context_for("acme", "lightspeed_retail")
    assert ctx is not None
    [helmet] = ctx.find_products(skus=["HELMET"])
    world.products(
        catalog.ProductIn(
            sku="HELMET",
            title=helmet.title,
            brand=helmet.brand,
            upc=helmet.upc,
            mpn=helmet.mpn,
            price=helmet.price,
            sale_price=helmet.sale_price,
            sale_starts_at=starts,
            sale_ends_at=ends,
        )
    )


def test_a_sale_price_without_a_start_date_is_stored_but_not_active(
    world: RetailWorld,
    api: tuple[TestClient, dict[str, str]],  # type: ignore[type-arg]
) -> None:
    world.setup(use_pos_pricing=True, regular_price_level=1, sale_price_level=4)
    world.run("inventory_import_full")

    helmet = _product(api, "HELMET")
    assert (helmet["price"], helmet["sale_price"]) == ("59.99", "49.99")
    assert helmet["sale_active"] is False


def test_a_sale_price_is_active_only_between_its_dates(
    world: RetailWorld,
    api: tuple[TestClient, dict[str, str]],  # type: ignore[type-arg]
) -> None:
    world.setup(use_pos_pricing=True, regular_price_level=1, sale_price_level=4)
    world.run("inventory_import_full")
    now = utcnow()

    _dates(world, now - timedelta(days=1), now + timedelta(days=1))
    assert _product(api, "HELMET")["sale_active"] is True

    _dates(world, now + timedelta(days=1))  # starts tomorrow
    assert _product(api, "HELMET")["sale_active"] is False

    _dates(world, now - timedelta(days=3), now - timedelta(days=1))  # ended yesterday
    assert _product(api, "HELMET")["sale_active"] is False


def test_levels_are_kept_by_id_when_renamed(world: RetailWorld) -> None:
    world.setup(use_pos_pricing=True, regular_price_level=1, sale_price_level=4)
    world.state.records["PriceLevel"][4]["name"] = "Spring Sale"
    for price in world.state.items[1]["Prices"]:
        if price["useTypeID"] == 4:
            price["useType"] = "Spring Sale"

    world.run("inventory_import_full")

    ctx = world.hub.context_for("acme", "lightspeed_retail")
    assert ctx is not None
    [helmet] = ctx.find_products(skus=["HELMET"])
    assert str(helmet.sale_price) == "49.99"
    levels = world.action("price-levels").data
    assert {(lv["price_level_id"], lv["name"], lv["used_as"]) for lv in levels} >= {
        (1, "Default", "regular"),
        (4, "Spring Sale", "sale"),
    }


def test_without_pos_pricing_the_hub_keeps_its_prices(world: RetailWorld) -> None:
    world.setup()
    world.run("inventory_import_full")
    ctx = world.hub.context_for("acme", "lightspeed_retail")
    assert ctx is not None
    [helmet] = ctx.find_products(skus=["HELMET"])
    assert str(helmet.price) == "55.00"


def test_pos_pricing_needs_a_regular_level(world: RetailWorld) -> None:
    from hub.core.errors import Invalid

    world.configure()
    with pytest.raises(Invalid) as invalid:
        world.configure(use_pos_pricing=True)
    assert "config.regular_price_level" in (invalid.value.fields or {})


def test_an_unbalanced_order_says_so_in_the_order_list(
    world: RetailWorld,
    api: tuple[TestClient, dict[str, str]],  # type: ignore[type-arg]
) -> None:
    world.setup(**world.export_settings())
    world.order("W3001", paid="10.00")
    world.run("order_export")
    client, headers = api
    listed = client.get("/api/v1/tenants/acme/orders", headers=headers).json()["items"]
    [order] = [o for o in listed if o["number"] == "W3001"]
    assert order["exports"] == [
        {"plugin_id": "lightspeed_retail", "state": "offered", "message": "Unbalanced"}
    ]
