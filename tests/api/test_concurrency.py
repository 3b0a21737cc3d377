"""Optimistic concurrency: reads answer an ETag, a stale If-Match is refused with 412 and
changes nothing, no If-Match keeps the last write winning, and of two edits sent at once with
the same If-Match exactly one applies (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from hub.core.models import AuditEvent
from hub.serving import serve_in_thread
from tests.api.conftest import PLUGIN_ID, World, make_hub

TENANT = "/api/v1/tenants/acme"
INSTALL = f"{TENANT}/plugins/{PLUGIN_ID}"
WEBHOOKS = f"{TENANT}/webhooks"


def _audit_count(world: World) -> int:
    with world.hub.db.read() as session:
        return len(list(session.exec(AuditEvent.__table__.select())))  # type: ignore[attr-defined]


def _webhook(client: TestClient[Litestar], world: World) -> str:
    response = client.post(
        WEBHOOKS,
        headers=world.acme,
        json={
            "url": "https://hooks.example.com/in",
            "events": ["order.updated"],
            "secret": "s" * 16,
        },
    )
    assert response.status_code == 201, response.text
    return f"{WEBHOOKS}/{response.json()['id']}"


def test_reads_and_edits_answer_the_same_etag(world: World, client: TestClient[Litestar]) -> None:
    read = client.get(TENANT, headers=world.acme)
    etag = read.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    edited = client.patch(TENANT, headers={**world.acme, "If-Match": etag}, json={"name": "Acme 2"})
    assert edited.status_code == 200
    assert edited.headers["ETag"] != etag
    assert client.get(TENANT, headers=world.acme).headers["ETag"] == edited.headers["ETag"]

    put = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"account": "A"}}
    )
    assert client.get(INSTALL, headers=world.acme).headers["ETag"] == put.headers["ETag"]

    url = _webhook(client, world)
    assert client.get(url, headers=world.acme).headers["ETag"]


def test_stale_if_match_is_refused_with_412_and_changes_nothing(
    world: World, client: TestClient[Litestar]
) -> None:
    cases: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
        ("PATCH", TENANT, {"name": "First"}, {"name": "Second"}, "tenant.updated"),
        (
            "PUT",
            INSTALL,
            {"enabled": True, "config": {"account": "first"}},
            {"enabled": True, "config": {"account": "second"}},
            "install.configured",
        ),
    ]
    client.put(INSTALL, headers=world.admin, json={"enabled": False, "config": {}})
    webhook = _webhook(client, world)
    cases.append(
        ("PATCH", webhook, {"events": ["run.finished"]}, {"active": False}, "webhook.updated")
    )
    for method, url, first, second, action in cases:
        stale = client.get(url, headers=world.acme).headers["ETag"]
        applied = client.request(method, url, headers=world.admin, json=first)
        assert applied.status_code == 200, applied.text
        before = client.get(url, headers=world.acme)
        events = _audit_count(world)

        refused = client.request(
            method, url, headers={**world.acme, "If-Match": stale}, json=second
        )

        assert refused.status_code == 412, (url, refused.text)
        body = refused.json()
        assert body["error"] == "precondition_failed"
        # the change in between is named: what, when and by whom
        assert f"latest recorded change: {action} at 20" in body["detail"]
        assert "by key:" in body["detail"] and "(admin)" in body["detail"]
        assert refused.headers["ETag"] == before.headers["ETag"]
        after = client.get(url, headers=world.acme)
        assert after.json() == before.json()
        assert after.headers["ETag"] == before.headers["ETag"]
        assert _audit_count(world) == events

        # with the current ETag the same edit applies
        fresh = client.request(
            method, url, headers={**world.acme, "If-Match": after.headers["ETag"]}, json=second
        )
        assert fresh.status_code == 200, fresh.text


def test_put_without_if_match_keeps_last_write_wins(
    world: World, client: TestClient[Litestar]
) -> None:
    first = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"account": "a"}}
    )
    second = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"account": "b"}}
    )
    assert (first.status_code, second.status_code) == (200, 200)
    assert client.get(INSTALL, headers=world.acme).json()["config"]["account"] == "b"
    assert client.patch(TENANT, headers=world.acme, json={"name": "One"}).status_code == 200
    assert client.patch(TENANT, headers=world.acme, json={"name": "Two"}).status_code == 200
    assert client.get(TENANT, headers=world.acme).json()["name"] == "Two"


def test_if_match_star_needs_an_existing_resource(
    world: World, client: TestClient[Litestar]
) -> None:
    body = {"enabled": False, "config": {}}
    missing = client.put(INSTALL, headers={**world.acme, "If-Match": "*"}, json=body)
    assert missing.status_code == 412
    assert "does not exist" in missing.json()["detail"]
    assert client.get(INSTALL, headers=world.acme).status_code == 404
    assert client.put(INSTALL, headers=world.acme, json=body).status_code == 200
    assert (
        client.put(INSTALL, headers={**world.acme, "If-Match": "*"}, json=body).status_code == 200
    )
    # a weak tag never matches (strong comparison), a list matches if any tag does
    etag = client.get(TENANT, headers=world.acme).headers["ETag"]
    weak = client.patch(TENANT, headers={**world.acme, "If-Match": f"W/{etag}"}, json={})
    assert weak.status_code == 412
    listed = client.patch(TENANT, headers={**world.acme, "If-Match": f'"x", {etag}'}, json={})
    assert listed.status_code == 200


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_edits_with_the_same_if_match_cannot_both_win(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    world = World(make_hub(tmp_path, **overrides))
    with serve_in_thread(world.app) as server, httpx.Client(base_url=server.url) as http:
        http.put(INSTALL, headers=world.acme, json={"enabled": True, "config": {}})
        for round_no in range(5):
            targets = [
                ("PATCH", TENANT, lambda n: {"name": f"Tenant {round_no}.{n}"}),
                (
                    "PUT",
                    INSTALL,
                    lambda n: {"enabled": True, "config": {"account": f"{round_no}.{n}"}},
                ),
            ]
            for method, url, body in targets:
                etag = http.get(url, headers=world.acme).headers["ETag"]
                barrier = threading.Barrier(2)
                statuses: list[int] = []

                def edit(n: int, method: str = method, url: str = url, body: Any = body) -> None:
                    barrier.wait()
                    response = httpx.request(
                        method,
                        server.url + url,
                        headers={**world.acme, "If-Match": etag},
                        json=body(n),
                    )
                    statuses.append(response.status_code)

                threads = [threading.Thread(target=edit, args=(n,)) for n in (1, 2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=30)
                assert sorted(statuses) == [200, 412], (backend, url, statuses)
    world.hub.db.dispose()


def test_options_allow_header_lists_the_path_methods(
    world: World, client: TestClient[Litestar]
) -> None:
    doc = client.get("/schema/openapi.json").json()
    methods = {"get", "put", "post", "delete", "patch"}
    paths = {
        "/api/v1/tenants": "/api/v1/tenants",
        "/api/v1/tenants/{slug}": TENANT,
        "/api/v1/tenants/{slug}/orders": f"{TENANT}/orders",
        "/api/v1/tenants/{slug}/products": f"{TENANT}/products",
        "/api/v1/tenants/{slug}/plugins/{plugin_id}": INSTALL,
        "/api/v1/tenants/{slug}/webhooks": WEBHOOKS,
    }
    for template, url in paths.items():
        documented = {m.upper() for m in doc["paths"][template] if m in methods}
        response = client.options(url, headers=world.admin)
        assert response.status_code == 204, url
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert allowed == documented | {"OPTIONS"}, url
        # a method the path does not have answers 405 with the same Allow
        refused = client.request("TRACE", url, headers=world.admin)
        assert refused.status_code == 405
        assert {m.strip() for m in refused.headers["Allow"].split(",")} == allowed
