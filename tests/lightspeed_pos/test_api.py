"""The plugin through the REST API: tenant scoping of shops and actions, the manifest."""

from __future__ import annotations

from litestar.testing import TestClient

from hub.api import create_app
from hub.core import keys
from hub.plugin.testing import add_tenant
from tests.lightspeed_pos.conftest import PLUGIN, PosWorld


def test_a_tenant_key_cannot_read_another_tenants_shops(world: PosWorld) -> None:
    world.setup()
    other = add_tenant(world.hub, "globex", locations=("main",))
    with world.hub.db.session() as session:
        acme_key, _ = keys.create_key(session, world.tenant_id, "acme")
        globex_key, _ = keys.create_key(session, other, "globex")
    app = create_app(world.hub)
    acme = {"Authorization": f"Bearer {acme_key}"}
    globex = {"Authorization": f"Bearer {globex_key}"}
    base = f"/api/v1/tenants/acme/plugins/{PLUGIN}"
    with TestClient(app) as client:
        own = client.get(base, headers=acme)
        assert own.status_code == 200
        assert [s["shop_id"] for s in own.json()["config"]["shops"]] == [1, 2]
        assert client.get(base, headers=globex).status_code == 404
        refused = client.post(f"{base}/actions/refresh-shops", json={"params": {}}, headers=globex)
        assert refused.status_code == 404
        ran = client.post(f"{base}/actions/refresh-shops", json={"params": {}}, headers=acme)
        assert ran.status_code == 200, ran.text
        assert [s["shop_id"] for s in ran.json()["data"]["shops"]] == [1, 2]
        plugins = client.get("/api/v1/plugins", headers=acme).json()
        pos = next(
            p for p in (plugins["items"] if "items" in plugins else plugins) if p["id"] == PLUGIN
        )
        assert pos["connects"] is True
        assert [a["name"] for a in pos["actions"]] == ["refresh-shops"]


def test_a_job_of_a_disconnected_install_is_refused_with_409(world: PosWorld) -> None:
    world.setup()
    world.hub.disconnect(world.tenant_id, PLUGIN, "test")
    with world.hub.db.session() as session:
        key, _ = keys.create_key(session, world.tenant_id, "acme")
    with TestClient(create_app(world.hub)) as client:
        answer = client.post(
            f"/api/v1/tenants/acme/plugins/{PLUGIN}/jobs/order_download",
            json={},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert answer.status_code == 409, answer.text
    assert "connect" in answer.json()["detail"]
