"""Locations, products (bulk upsert, paging, detail with inventory) and inventory rows."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core.models import PluginInstall
from hub.core.records import InventoryRecord, MatchRule
from tests.api.conftest import PLUGIN_ID, World

BASE = "/api/v1/tenants/acme"


def test_location_is_created_then_renamed(world: World, client: TestClient[Litestar]) -> None:
    assert (
        client.put(f"{BASE}/locations/MAIN", headers=world.acme, json={"name": "Main"}).status_code
        == 201
    )
    renamed = client.put(f"{BASE}/locations/MAIN", headers=world.acme, json={"name": "Main store"})
    assert renamed.status_code == 200
    items = client.get(f"{BASE}/locations", headers=world.acme).json()["items"]
    assert [(i["code"], i["name"]) for i in items] == [("MAIN", "Main store")]
    bad = client.put(f"{BASE}/locations/has%20space", headers=world.acme, json={"name": "x"})
    assert bad.status_code == 422
    assert "code" in bad.json()["fields"]


def test_products_bulk_upsert_counts_created_and_updated(
    world: World, client: TestClient[Litestar]
) -> None:
    products = [
        {"sku": "A-1", "title": "Pads", "price": "24.95", "brand": "Tucker Rocky"},
        {"sku": "A-2", "catalog": "oem", "upc": "012345678905"},
    ]
    assert client.put(f"{BASE}/products", headers=world.acme, json=products).json() == {
        "created": 2,
        "updated": 0,
    }
    products[0]["price"] = "19.99"
    assert client.put(f"{BASE}/products", headers=world.acme, json=products).json() == {
        "created": 0,
        "updated": 1,
    }
    one = client.get(f"{BASE}/products/A-1", headers=world.acme).json()
    assert one["price"] == "19.99"
    assert one["inventory"] == []
    assert client.get(f"{BASE}/products/nope", headers=world.acme).status_code == 404


def test_more_than_1000_products_answers_422(world: World, client: TestClient[Litestar]) -> None:
    products = [{"sku": f"S{n}"} for n in range(1001)]
    response = client.put(f"{BASE}/products", headers=world.acme, json=products)
    assert response.status_code == 422
    assert "body" in response.json()["fields"]


def test_bad_product_answers_422_naming_the_item_field(
    world: World, client: TestClient[Litestar]
) -> None:
    response = client.put(
        f"{BASE}/products",
        headers=world.acme,
        json=[{"sku": "ok"}, {"sku": "B", "catalog": "used"}],
    )
    assert response.status_code == 422
    assert any("catalog" in key for key in response.json()["fields"])


def test_products_page_and_filter_by_sku(world: World, client: TestClient[Litestar]) -> None:
    client.put(f"{BASE}/products", headers=world.acme, json=[{"sku": f"P{n}"} for n in range(5)])
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"{BASE}/products?limit=2&cursor={cursor}", headers=world.acme).json()
        seen += [p["sku"] for p in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == ["P0", "P1", "P2", "P3", "P4"]
    only = client.get(f"{BASE}/products?sku=P3", headers=world.acme).json()["items"]
    assert [p["sku"] for p in only] == ["P3"]


def test_inventory_rows_show_quantity_by_location_and_source(
    world: World, client: TestClient[Litestar]
) -> None:
    client.put(f"{BASE}/locations/MAIN", headers=world.acme, json={"name": "Main"})
    client.put(f"{BASE}/locations/WH2", headers=world.acme, json={"name": "Warehouse"})
    client.put(f"{BASE}/products", headers=world.acme, json=[{"sku": "A-1"}, {"sku": "A-2"}])
    client.put(
        f"{BASE}/plugins/{PLUGIN_ID}", headers=world.acme, json={"enabled": True, "config": {}}
    )
    with world.hub.db.read() as session:
        install = session.exec(select(PluginInstall)).one()
    ctx = world.hub.context(install)
    ctx.apply_inventory(
        [InventoryRecord("A-1", 5), InventoryRecord("A-2", 2)],
        rule=MatchRule.SKU,
        location_code="MAIN",
    )
    ctx.apply_inventory(
        [InventoryRecord("A-1", 7, lead_time_days=3)], rule=MatchRule.SKU, location_code="WH2"
    )
    rows = client.get(f"{BASE}/inventory", headers=world.acme).json()["items"]
    assert {(r["sku"], r["location"], r["quantity"]) for r in rows} == {
        ("A-1", "MAIN", 5),
        ("A-2", "MAIN", 2),
        ("A-1", "WH2", 7),
    }
    assert {r["source"] for r in rows} == {PLUGIN_ID}
    assert set(rows[0]) == {
        "sku",
        "location",
        "quantity",
        "sale_price",
        "lead_time_days",
        "source",
        "updated_at",
    }
    by_sku = client.get(f"{BASE}/inventory?sku=A-1&location=WH2", headers=world.acme).json()[
        "items"
    ]
    assert [(r["quantity"], r["lead_time_days"]) for r in by_sku] == [(7, 3)]
    detail = client.get(f"{BASE}/products/A-1", headers=world.acme).json()
    assert [(r["location"], r["quantity"]) for r in detail["inventory"]] == [
        ("MAIN", 5),
        ("WH2", 7),
    ]
    page = client.get(f"{BASE}/inventory?limit=2", headers=world.acme).json()
    rest = client.get(
        f"{BASE}/inventory?limit=2&cursor={page['next_cursor']}", headers=world.acme
    ).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1
