"""The error shape, body size limit, rate limit and malformed input (never a 500)."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from tests.api.conftest import World, make_hub, order_body


def test_six_mib_body_answers_413_in_the_error_shape(
    world: World, client: TestClient[Litestar]
) -> None:
    body = b'{"number": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    response = client.post(
        "/api/v1/tenants/acme/orders",
        headers={**world.acme, "Content-Type": "application/json"},
        content=body,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    world = World(make_hub(tmp_path, api_rate_limit_per_minute=3))
    with TestClient(app=world.app) as client:
        statuses = [
            client.get("/api/v1/tenants/acme", headers=world.acme).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/api/v1/tenants/acme", headers=world.acme)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"] == "rate_limited"
        # the limit is per key: another key still gets through
        assert client.get("/api/v1/tenants/globex", headers=world.globex).status_code == 200


def test_malformed_json_answers_400(world: World, client: TestClient[Litestar]) -> None:
    response = client.post(
        "/api/v1/tenants/acme/orders",
        content=b'{"number": ',
        headers={**world.acme, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_bad_slug_answers_422_naming_the_field(world: World, client: TestClient[Litestar]) -> None:
    response = client.post(
        "/api/v1/tenants", headers=world.admin, json={"slug": "Not OK!", "name": "X"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert "slug" in body["fields"]


def test_body_fields_are_named_as_dotted_paths(world: World, client: TestClient[Litestar]) -> None:
    lines = [{"sku": "A", "quantity": 0, "unit_price": "1.00"}]
    response = client.post(
        "/api/v1/tenants/acme/orders",
        headers=world.acme,
        json=order_body(lines=lines, total="14.20"),
    )
    assert response.status_code == 422
    assert "lines.0.quantity" in response.json()["fields"]


def test_wrong_body_type_answers_422(world: World, client: TestClient[Litestar]) -> None:
    response = client.post("/api/v1/tenants/acme/orders", headers=world.acme, json=[1, 2])
    assert response.status_code == 422
    response = client.put("/api/v1/tenants/acme/products", headers=world.acme, json={"sku": "x"})
    assert response.status_code == 422


def test_unknown_route_answers_404_in_the_error_shape(client: TestClient[Litestar]) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_out_of_range_ids_answer_422_not_500(world: World, client: TestClient[Litestar]) -> None:
    response = client.get(f"/api/v1/tenants/acme/runs/{2**80}", headers=world.acme)
    assert response.status_code in (404, 422)
    response = client.get("/api/v1/tenants/acme/runs?limit=100000", headers=world.acme)
    assert response.status_code == 422
    assert "limit" in response.json()["fields"]
