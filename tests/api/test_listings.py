"""Listings of an install: bulk put by SKU, paged reads with filters, refusals, isolation."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.conftest import PLUGIN_ID, World

BASE = "/api/v1/tenants/acme"
LISTINGS = f"{BASE}/plugins/{PLUGIN_ID}/listings"


def _catalog(client: TestClient[Litestar], world: World, *skus: str) -> None:
    response = client.put(
        f"{BASE}/plugins/{PLUGIN_ID}", headers=world.acme, json={"enabled": True, "config": {}}
    )
    assert response.status_code == 200, response.text
    products = [{"sku": sku} for sku in skus]
    assert client.put(f"{BASE}/products", headers=world.acme, json=products).status_code == 200


def test_listings_are_put_in_bulk_by_sku_and_read_back(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world, "A-1", "A-2", "A-3")
    body = [{"sku": "A-1", "enabled": True}, {"sku": "A-2", "enabled": False}]
    first = client.put(LISTINGS, headers=world.acme, json=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0}

    body = [{"sku": "A-1", "enabled": True}, {"sku": "A-2", "enabled": True}]
    again = client.put(LISTINGS, headers=world.acme, json=body)
    assert again.json() == {"created": 0, "updated": 1}

    items = client.get(LISTINGS, headers=world.acme).json()["items"]
    assert [(i["sku"], i["enabled"], i["vendor_id"], i["last_pushed"]) for i in items] == [
        ("A-1", True, None, {}),
        ("A-2", True, None, {}),
    ]
    assert all(i["updated_at"] for i in items)


def test_an_unknown_sku_is_refused_naming_it_and_nothing_is_applied(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world, "A-1")
    body = [{"sku": "A-1", "enabled": True}, {"sku": "NOPE", "enabled": True}]
    response = client.put(LISTINGS, headers=world.acme, json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert response.json()["fields"] == {"items[1].sku": "no product with sku 'NOPE'"}
    assert client.get(LISTINGS, headers=world.acme).json()["items"] == []


def test_listings_filter_by_enabled_and_sku_and_page(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world, "A-1", "A-2", "A-3")
    body = [
        {"sku": "A-1", "enabled": True},
        {"sku": "A-2", "enabled": False},
        {"sku": "A-3", "enabled": True},
    ]
    client.put(LISTINGS, headers=world.acme, json=body)

    def skus(query: str) -> list[str]:
        response = client.get(f"{LISTINGS}{query}", headers=world.acme)
        assert response.status_code == 200, response.text
        return [i["sku"] for i in response.json()["items"]]

    assert skus("?enabled=true") == ["A-1", "A-3"]
    assert skus("?enabled=false") == ["A-2"]
    assert skus("?sku=A-3") == ["A-3"]
    page = client.get(f"{LISTINGS}?limit=2", headers=world.acme).json()
    assert [i["sku"] for i in page["items"]] == ["A-1", "A-2"]
    rest = client.get(f"{LISTINGS}?limit=2&cursor={page['next_cursor']}", headers=world.acme)
    assert [i["sku"] for i in rest.json()["items"]] == ["A-3"]
    assert rest.json()["next_cursor"] is None


def test_listings_of_another_tenant_answer_404(world: World, client: TestClient[Litestar]) -> None:
    _catalog(client, world, "A-1")
    body = [{"sku": "A-1", "enabled": True}]
    assert client.put(LISTINGS, headers=world.acme, json=body).status_code == 200
    assert client.get(LISTINGS, headers=world.globex).status_code == 404
    assert client.put(LISTINGS, headers=world.globex, json=body).status_code == 404
    # globex has no install of the plugin: its own listings route answers 404 too.
    globex = f"/api/v1/tenants/globex/plugins/{PLUGIN_ID}/listings"
    assert client.get(globex, headers=world.globex).status_code == 404
    assert [i["sku"] for i in client.get(LISTINGS, headers=world.admin).json()["items"]] == ["A-1"]


def test_too_many_or_malformed_listings_are_refused(
    world: World, client: TestClient[Litestar]
) -> None:
    _catalog(client, world, "A-1")
    many = [{"sku": "A-1", "enabled": True}] * 1001
    too_many = client.put(LISTINGS, headers=world.acme, json=many)
    assert too_many.status_code == 422
    assert "body" in too_many.json()["fields"]
    extra = client.put(
        LISTINGS, headers=world.acme, json=[{"sku": "A-1", "enabled": True, "price": 1}]
    )
    assert extra.status_code == 422
    assert client.get(LISTINGS, headers=world.acme).json()["items"] == []
