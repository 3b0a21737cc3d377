"""``PUT …/inventory``: the integrator's own quantities (source ``api``)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.conftest import World

BASE = "/api/v1/tenants/acme"


def _catalog(client: TestClient[Litestar], world: World) -> None:
    for code in ("WH1", "WH2"):
        client.put(f"{BASE}/locations/{code}", headers=world.acme, json={"name": code})
    products = [{"sku": "A-1"}, {"sku": "A-2"}]
    assert client.put(f"{BASE}/products", headers=world.acme, json=products).status_code == 200


def _rows(client: TestClient[Litestar], world: World) -> list[tuple[str, str, int, str]]:
    items = client.get(f"{BASE}/inventory", headers=world.acme).json()["items"]
    return sorted((i["sku"], i["location"], i["quantity"], i["source"]) for i in items)


def test_put_inventory_sets_quantities_and_counts_what_changed(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world)
    body = [
        {"sku": "A-1", "location": "WH1", "quantity": 5},
        {"sku": "A-2", "location": "WH1", "quantity": 2},
        {"sku": "A-1", "location": "WH2", "quantity": 0},
    ]
    first = client.put(f"{BASE}/inventory", headers=world.acme, json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"updated": 3, "unchanged": 0}
    body[1]["quantity"] = 3
    assert client.put(f"{BASE}/inventory", headers=world.acme, json=body).json() == {
        "updated": 1,
        "unchanged": 2,
    }
    assert _rows(client, world) == [
        ("A-1", "WH1", 5, "api"),
        ("A-1", "WH2", 0, "api"),
        ("A-2", "WH1", 3, "api"),
    ]


def test_put_inventory_with_an_unknown_sku_or_location_names_it_and_applies_nothing(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world)
    body = [
        {"sku": "A-1", "location": "WH1", "quantity": 5},
        {"sku": "NOPE", "location": "WH1", "quantity": 1},
        {"sku": "A-2", "location": "MOON", "quantity": 1},
    ]
    response = client.put(f"{BASE}/inventory", headers=world.acme, json=body)
    assert response.status_code == 422
    assert response.json()["fields"] == {
        "items[1].sku": "no product with sku 'NOPE'",
        "items[2].location": "no location 'MOON'",
    }
    assert _rows(client, world) == []
    negative = [{"sku": "A-1", "location": "WH1", "quantity": -1}]
    assert client.put(f"{BASE}/inventory", headers=world.acme, json=negative).status_code == 422


def test_put_inventory_raises_inventory_changed_for_what_changed(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world)
    hook = client.post(
        f"{BASE}/webhooks",
        headers=world.acme,
        json={
            "url": "https://shop.example.com/hooks",
            "events": ["inventory.changed"],
            "secret": "s" * 32,
        },
    )
    assert hook.status_code == 201, hook.text
    deliveries = f"{BASE}/webhooks/{hook.json()['id']}/deliveries"
    body = [{"sku": "A-1", "location": "WH1", "quantity": 5}]
    client.put(f"{BASE}/inventory", headers=world.acme, json=body).raise_for_status()
    client.put(f"{BASE}/inventory", headers=world.acme, json=body).raise_for_status()
    events = client.get(deliveries, headers=world.acme).json()["items"]
    assert [e["event"] for e in events] == ["inventory.changed"]  # the unchanged PUT: none
