"""Keys and tenancy: every /api/v1 route needs a key; another tenant's routes answer 404."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core import keys
from hub.core.models import ApiKey, Order
from hub.core.types import utcnow
from tests.api.conftest import PLUGIN_ID, World, order_body

# The OAuth callback is public by design: the single-use state is its credential
# (tests/api/test_connect.py).
UNAUTHENTICATED = ("/healthz", "/metrics", "/oauth/callback")


def _operations(client: TestClient[Litestar]) -> list[tuple[str, str]]:
    doc = client.get("/schema/openapi.json").json()
    return [
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _globex_resources(world: World, client: TestClient[Litestar]) -> dict[str, str]:
    """Real resources of globex, so a 404 proves the scope check, not a missing row."""
    g = world.globex
    client.put(
        f"/api/v1/tenants/globex/plugins/{PLUGIN_ID}",
        headers=g,
        json={"enabled": True, "config": {"account": "G"}},
    ).raise_for_status()
    run_id = client.post(
        f"/api/v1/tenants/globex/plugins/{PLUGIN_ID}/jobs/inventory", headers=g
    ).json()["run_id"]
    client.post(
        "/api/v1/tenants/globex/orders", headers=g, json=order_body("G1")
    ).raise_for_status()
    client.put("/api/v1/tenants/globex/locations/MAIN", headers=g, json={"name": "Main"})
    client.put("/api/v1/tenants/globex/products", headers=g, json=[{"sku": "TR-12345"}])
    sub = client.post(
        "/api/v1/tenants/globex/webhooks",
        headers=g,
        json={
            "url": "https://example.com/hook",
            "events": ["order.updated"],
            "secret": "x" * 20,
        },
    ).json()
    return {
        "slug": "globex",
        "plugin_id": PLUGIN_ID,
        "job": "inventory",
        "run_id": str(run_id),
        "number": "G1",
        "code": "MAIN",
        "sku": "TR-12345",
        "subscription_id": str(sub["id"]),
    }


def _fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


def _call(client: TestClient[Litestar], method: str, url: str, headers: dict[str, str]) -> Any:
    body: Any = [] if url.endswith("/products") else {}
    if method in ("get", "delete"):
        return client.request(method.upper(), url, headers=headers)
    return client.request(method.upper(), url, headers=headers, json=body)


def test_foreign_tenant_key_gets_404_on_every_tenant_route(
    world: World, client: TestClient[Litestar]
) -> None:
    values = _globex_resources(world, client)
    walked = 0
    for path, method in _operations(client):
        if not path.startswith("/api/v1/"):
            assert path in UNAUTHENTICATED, f"{path} is outside /api/v1: does it check keys?"
            continue
        response = _call(client, method, _fill(path, values), world.acme)
        if path.startswith("/api/v1/tenants/{slug}"):
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"] == "not_found"
            walked += 1
        elif (method, path) == ("post", "/api/v1/tenants"):
            assert response.status_code == 403, response.text
        else:  # GET /api/v1/tenants (its own only), GET /api/v1/plugins
            assert response.status_code == 200, (method, path, response.text)
    assert walked >= 25
    # …and globex's own key reaches the same resources.
    assert client.get("/api/v1/tenants/globex/orders/G1", headers=world.globex).status_code == 200


def test_every_api_route_answers_401_without_a_key(
    world: World, client: TestClient[Litestar]
) -> None:
    values = _globex_resources(world, client)
    for path, method in _operations(client):
        if not path.startswith("/api/v1/"):
            continue
        url = _fill(path, values)
        for headers in (
            {},
            {"Authorization": "Bearer hub_nope_nope"},
            {"Authorization": "Basic eDp5"},
        ):
            response = _call(client, method, url, headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.json()["error"] == "unauthorized"


def test_tenant_key_lists_only_its_own_tenant(world: World, client: TestClient[Litestar]) -> None:
    own = client.get("/api/v1/tenants", headers=world.acme).json()
    assert [t["slug"] for t in own["items"]] == ["acme"]
    every = client.get("/api/v1/tenants", headers=world.admin).json()
    assert [t["slug"] for t in every["items"]] == ["acme", "globex"]


def test_admin_key_reaches_every_tenant(world: World, client: TestClient[Litestar]) -> None:
    for slug in ("acme", "globex"):
        assert client.get(f"/api/v1/tenants/{slug}", headers=world.admin).status_code == 200
    assert client.get("/api/v1/tenants/nobody", headers=world.admin).status_code == 404


def test_tenant_key_gets_403_creating_a_tenant(world: World, client: TestClient[Litestar]) -> None:
    response = client.post(
        "/api/v1/tenants", headers=world.acme, json={"slug": "new-one", "name": "N"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_revoked_key_gets_401(world: World, client: TestClient[Litestar]) -> None:
    prefix = world.acme_key.split("_")[1]
    with world.hub.db.session() as session:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        row.revoked_at = utcnow()
        session.add(row)
    assert client.get("/api/v1/tenants/acme", headers=world.acme).status_code == 401


def test_tenant_key_cannot_create_orders_in_another_tenant(
    world: World, client: TestClient[Litestar]
) -> None:
    with world.hub.db.session() as session:
        key, _ = keys.create_key(session, world.globex_id, "second")
    headers = world.auth(key)
    assert (
        client.post("/api/v1/tenants/acme/orders", headers=headers, json=order_body()).status_code
        == 404
    )
    with world.hub.db.read() as session:
        assert session.exec(select(Order)).first() is None


def test_revoked_key_is_refused_once_the_cache_window_passes(
    world: World, client: TestClient[Litestar]
) -> None:
    world.app.state.auth_cache.ttl = 0.0  # verified keys are kept CACHE_SECONDS; here none
    assert client.get("/api/v1/tenants/acme", headers=world.acme).status_code == 200
    prefix = world.acme_key.split("_")[1]
    with world.hub.db.session() as session:
        row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one()
        row.revoked_at = utcnow()
        session.add(row)
    assert client.get("/api/v1/tenants/acme", headers=world.acme).status_code == 401
