"""Webhook subscriptions (secret never returned), audit, health and metrics."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.conftest import World, order_body

HOOKS = "/api/v1/tenants/acme/webhooks"
SECRET = "a-very-secret-signing-key"


def test_webhook_subscription_lifecycle_never_returns_the_secret(
    world: World, client: TestClient[Litestar]
) -> None:
    created = client.post(
        HOOKS,
        headers=world.acme,
        json={
            "url": "https://shop.example.com/hooks",
            "events": ["order.updated", "run.finished"],
            "secret": SECRET,
        },
    )
    assert created.status_code == 201
    sub = created.json()
    assert "secret" not in sub and SECRET not in created.text
    listed = client.get(HOOKS, headers=world.acme)
    assert [s["id"] for s in listed.json()["items"]] == [sub["id"]]
    assert SECRET not in listed.text
    client.post(
        "/api/v1/tenants/acme/orders", headers=world.acme, json=order_body()
    ).raise_for_status()
    deliveries = client.get(f"{HOOKS}/{sub['id']}/deliveries", headers=world.acme).json()["items"]
    assert [(d["event"], d["state"]) for d in deliveries] == [("order.updated", "pending")]
    assert client.delete(f"{HOOKS}/{sub['id']}", headers=world.acme).status_code == 204
    assert client.get(HOOKS, headers=world.acme).json()["items"] == []
    assert client.get(f"{HOOKS}/{sub['id']}/deliveries", headers=world.acme).status_code == 404
    assert client.delete(f"{HOOKS}/{sub['id']}", headers=world.acme).status_code == 404
    actions = [
        e["action"]
        for e in client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    ]
    assert actions[:2] == ["webhook.deleted", "webhook.created"]


def test_bad_subscription_answers_422_naming_fields(
    world: World, client: TestClient[Litestar]
) -> None:
    good = {"url": "https://hooks.example.com/in", "events": ["order.updated"], "secret": "s" * 16}
    bad = {"url": "ftp://x", "events": ["nope"], "secret": "short"}
    for name, value in bad.items():
        response = client.post(HOOKS, headers=world.acme, json={**good, name: value})
        assert response.status_code == 422
        assert name in str(response.json()["fields"]), name
    # all at once: refused, naming (at least) the first
    response = client.post(HOOKS, headers=world.acme, json=bad)
    assert response.status_code == 422
    assert set(response.json()["fields"]) & {"url", "events", "secret"}


def test_audit_pages_newest_first(world: World, client: TestClient[Litestar]) -> None:
    for n in range(3):
        client.patch("/api/v1/tenants/acme", headers=world.acme, json={"name": f"Acme {n}"})
    page = client.get("/api/v1/tenants/acme/audit?limit=2", headers=world.acme).json()
    assert len(page["items"]) == 2
    assert page["items"][0]["id"] > page["items"][1]["id"]
    assert page["items"][0]["actor"].startswith("key:")
    rest = client.get(
        f"/api/v1/tenants/acme/audit?limit=2&cursor={page['next_cursor']}", headers=world.acme
    ).json()
    assert len(rest["items"]) == 1
    # the other tenant's log is its own
    assert client.get("/api/v1/tenants/globex/audit", headers=world.globex).json()["items"] == []


def test_healthz_needs_no_key_and_checks_the_database(client: TestClient[Litestar]) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_metrics_count_requests_by_route_template_and_runs_by_state(
    world: World, client: TestClient[Litestar]
) -> None:
    client.get("/api/v1/tenants/acme", headers=world.acme)
    client.get("/api/v1/tenants/acme")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert (
        'hub_http_requests_total{method="GET",route="/api/v1/tenants/{slug}",status="200"} 1.0'
        in text
    )
    assert (
        'hub_http_requests_total{method="GET",route="/api/v1/tenants/{slug}",status="401"} 1.0'
        in text
    )
    assert 'route="unmatched",status="404"' in text
    assert 'hub_runs{state="queued"} 0.0' in text
    assert "hub_queue_depth 0.0" in text
    assert 'hub_webhook_deliveries{state="pending"}' in text


def test_openapi_document_and_docs_are_served(client: TestClient[Litestar]) -> None:
    doc = client.get("/schema/openapi.json").json()
    assert "/api/v1/tenants/{slug}/orders/{number}" in doc["paths"]
    assert doc["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert client.get("/schema/swagger").status_code == 200
