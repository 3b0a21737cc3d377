"""Tenants: create (admin), list, get, patch, delete, with audit entries."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.conftest import World, order_body


def test_admin_creates_a_tenant_and_the_slug_cannot_be_taken_twice(
    world: World, client: TestClient[Litestar]
) -> None:
    body = {
        "slug": "initech",
        "name": "Initech",
        "timezone": "Europe/Paris",
        "company_address": {"city": "Paris"},
    }
    created = client.post("/api/v1/tenants", headers=world.admin, json=body)
    assert created.status_code == 201
    assert created.json()["timezone"] == "Europe/Paris"
    again = client.post("/api/v1/tenants", headers=world.admin, json=body)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"


def test_unknown_time_zone_answers_422(world: World, client: TestClient[Litestar]) -> None:
    response = client.post(
        "/api/v1/tenants",
        headers=world.admin,
        json={"slug": "tz-test", "name": "T", "timezone": "Mars/Olympus"},
    )
    assert response.status_code == 422
    assert "timezone" in response.json()["fields"]


def test_patch_changes_name_and_time_zone(world: World, client: TestClient[Litestar]) -> None:
    response = client.patch(
        "/api/v1/tenants/acme",
        headers=world.acme,
        json={"name": "Acme Powersports", "timezone": "America/Denver"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Powersports"
    got = client.get("/api/v1/tenants/acme", headers=world.acme).json()
    assert got["timezone"] == "America/Denver"
    actions = [
        e["action"]
        for e in client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    ]
    assert "tenant.updated" in actions


def test_delete_refuses_a_tenant_with_orders(world: World, client: TestClient[Litestar]) -> None:
    client.post(
        "/api/v1/tenants/acme/orders", headers=world.acme, json=order_body()
    ).raise_for_status()
    response = client.delete("/api/v1/tenants/acme", headers=world.admin)
    assert response.status_code == 409


def test_delete_removes_an_empty_tenant_and_its_catalog(
    world: World, client: TestClient[Litestar]
) -> None:
    g = world.globex
    client.put("/api/v1/tenants/globex/locations/MAIN", headers=g, json={"name": "Main"})
    client.put("/api/v1/tenants/globex/products", headers=g, json=[{"sku": "A-1"}])
    client.post(
        "/api/v1/tenants/globex/webhooks",
        headers=g,
        json={"url": "https://example.com/h", "events": ["order.updated"], "secret": "s" * 16},
    )
    assert client.delete("/api/v1/tenants/globex", headers=world.admin).status_code == 204
    assert client.get("/api/v1/tenants/globex", headers=world.admin).status_code == 404
    # its key is gone with it
    assert client.get("/api/v1/tenants", headers=g).status_code == 401


def test_tenant_list_pages_with_cursors(world: World, client: TestClient[Litestar]) -> None:
    for n in range(3):
        client.post("/api/v1/tenants", headers=world.admin, json={"slug": f"t-{n}", "name": "T"})
    first = client.get("/api/v1/tenants?limit=2", headers=world.admin).json()
    assert [t["slug"] for t in first["items"]] == ["acme", "globex"]
    second = client.get(
        f"/api/v1/tenants?limit=2&cursor={first['next_cursor']}", headers=world.admin
    ).json()
    assert [t["slug"] for t in second["items"]] == ["t-0", "t-1"]
    third = client.get(
        f"/api/v1/tenants?limit=2&cursor={second['next_cursor']}", headers=world.admin
    ).json()
    assert [t["slug"] for t in third["items"]] == ["t-2"]
    assert third["next_cursor"] is None


def test_malformed_cursor_answers_400(world: World, client: TestClient[Litestar]) -> None:
    for cursor in ("not-base64!", "eyJ4IjoxfQ", "W10"):
        response = client.get(f"/api/v1/tenants?cursor={cursor}", headers=world.admin)
        assert response.status_code == 400, cursor
        assert response.json()["error"] == "bad_cursor"
