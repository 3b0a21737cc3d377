"""Plugins, installs (secrets masked and kept), test-connection, jobs and runs."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from hub.core import runs
from hub.core.installs import MASK
from tests.api.conftest import PLUGIN_ID, World

INSTALL = f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}"


def _install(client: TestClient[Litestar], world: World, **config: object) -> dict:
    response = client.put(INSTALL, headers=world.acme, json={"enabled": True, "config": config})
    assert response.status_code == 200, response.text
    return response.json()


def test_plugin_list_describes_each_plugin(world: World, client: TestClient[Litestar]) -> None:
    items = client.get("/api/v1/plugins", headers=world.acme).json()["items"]
    assert [p["id"] for p in items] == [PLUGIN_ID]
    plugin = items[0]
    assert plugin == {**plugin, "title": "Test POS", "version": "1.0"}
    assert "order_export" in plugin["capabilities"]
    assert plugin["jobs"][0]["name"] == "inventory"
    assert plugin["config_schema"]["properties"]["api_password"]["writeOnly"] is True
    assert items == world.hub.plugins.describe()


def test_secret_is_masked_and_kept_when_left_out(
    world: World, client: TestClient[Litestar]
) -> None:
    shown = _install(client, world, account="A1", api_password="s3cret")
    assert shown["config"]["api_password"] == MASK
    assert "s3cret" not in client.get(INSTALL, headers=world.acme).text
    kept = _install(client, world, account="A2")
    assert kept["config"] == {**kept["config"], "account": "A2", "api_password": MASK}
    connection = client.post(f"{INSTALL}/test-connection", headers=world.acme)
    assert connection.status_code == 200
    assert connection.json() == {"ok": True, "detail": "connected"}
    assert "s3cret" not in client.get("/api/v1/tenants/acme/audit", headers=world.acme).text


def test_bad_config_answers_422_naming_config_fields(
    world: World, client: TestClient[Litestar]
) -> None:
    response = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"store_count": "many"}}
    )
    assert response.status_code == 422
    assert "config.store_count" in response.json()["fields"]
    response = client.put(
        INSTALL, headers=world.acme, json={"enabled": True, "config": {"store_count": 50}}
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"config.store_count": "at most 10 stores"}


def test_install_shows_the_plugins_warnings(world: World, client: TestClient[Litestar]) -> None:
    assert _install(client, world)["warnings"] == ["no account set"]
    listed = client.get("/api/v1/tenants/acme/plugins", headers=world.acme).json()["items"]
    assert [i["plugin_id"] for i in listed] == [PLUGIN_ID]


def test_unknown_plugin_answers_404(world: World, client: TestClient[Litestar]) -> None:
    assert client.get("/api/v1/tenants/acme/plugins/nope", headers=world.acme).status_code == 404
    assert (
        client.put("/api/v1/tenants/acme/plugins/nope", headers=world.acme, json={}).status_code
        == 404
    )


def test_refused_job_answers_409_with_the_reason(
    world: World, client: TestClient[Litestar]
) -> None:
    _install(client, world)
    response = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme)
    assert response.status_code == 409
    assert response.json()["detail"] == "set the account first"
    client.put(INSTALL, headers=world.acme, json={"enabled": False, "config": {"account": "A"}})
    response = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme)
    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]


def test_queued_job_answers_202_and_shows_in_runs(
    world: World, client: TestClient[Litestar]
) -> None:
    _install(client, world, account="A1")
    first = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme)
    assert first.status_code == 202
    second = client.post(
        f"{INSTALL}/jobs/inventory", headers=world.acme, json={"options": {"force": True}}
    )
    run_id = second.json()["run_id"]
    listed = client.get("/api/v1/tenants/acme/runs", headers=world.acme).json()["items"]
    assert [r["run_id"] for r in listed] == [run_id, first.json()["run_id"]]
    one = client.get(f"/api/v1/tenants/acme/runs/{run_id}", headers=world.acme).json()
    assert one["state"] == "queued"
    assert one["options"] == {"force": True}
    assert one["trigger"] == "manual"
    audit = client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    assert audit[0]["action"] == "run.queued"
    assert client.post(f"{INSTALL}/jobs/nope", headers=world.acme).status_code == 404


def test_runs_filter_by_state_and_page(world: World, client: TestClient[Litestar]) -> None:
    _install(client, world, account="A1")
    ids = [
        client.post(f"{INSTALL}/jobs/inventory", headers=world.acme).json()["run_id"]
        for _ in range(3)
    ]
    runs.finish(world.hub.db, ids[0], "succeeded", report="sku,quantity\nA,1\n")
    done = client.get("/api/v1/tenants/acme/runs?state=succeeded", headers=world.acme).json()[
        "items"
    ]
    assert [r["run_id"] for r in done] == [ids[0]]
    assert (
        client.get("/api/v1/tenants/acme/runs?job=other", headers=world.acme).json()["items"] == []
    )
    page = client.get("/api/v1/tenants/acme/runs?limit=2", headers=world.acme).json()
    assert [r["run_id"] for r in page["items"]] == [ids[2], ids[1]]
    rest = client.get(
        f"/api/v1/tenants/acme/runs?limit=2&cursor={page['next_cursor']}", headers=world.acme
    ).json()
    assert [r["run_id"] for r in rest["items"]] == [ids[0]]


def test_run_report_is_csv_and_404_when_none(world: World, client: TestClient[Litestar]) -> None:
    _install(client, world, account="A1")
    with_report = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme).json()["run_id"]
    without = client.post(f"{INSTALL}/jobs/inventory", headers=world.acme).json()["run_id"]
    runs.finish(world.hub.db, with_report, "succeeded", report="sku,quantity\nA,1\n")
    response = client.get(f"/api/v1/tenants/acme/runs/{with_report}/report", headers=world.acme)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "sku,quantity\nA,1\n"
    assert (
        client.get(f"/api/v1/tenants/acme/runs/{without}/report", headers=world.acme).status_code
        == 404
    )
    assert client.get("/api/v1/tenants/acme/runs/999/report", headers=world.acme).status_code == 404
