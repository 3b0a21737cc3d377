"""Plugin actions: listed with the plugin, run at ``…/plugins/{plugin_id}/actions/{action}``
with the declared method, JSON or CSV answers, redirects, and the install's state checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core import catalog
from hub.core.models import PluginInstall
from tests.api.conftest import World, make_hub
from tests.core.sample_plugin import SamplePlugin

ACTIONS = "/api/v1/tenants/acme/plugins/sample/actions"


@pytest.fixture
def world(tmp_path: Path) -> World:
    """The API world with the sample plugin (three actions) installed and enabled for acme."""
    hub = make_hub(tmp_path)
    hub.plugins.register(SamplePlugin())
    world = World(hub)
    with hub.db.session() as session:
        catalog.put_location(session, world.acme_id, "main", "Main store")
        catalog.put_location(session, world.acme_id, "back", "Back room")
        catalog.put_location(session, world.globex_id, "globex-1", "Globex store")
    for tenant_id in (world.acme_id, world.globex_id):
        hub.configure_install(
            tenant_id, "sample", enabled=True, config={"username": "ann"}, actor="test"
        )
    return world


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=world.app) as test_client:
        yield test_client


def test_actions_are_listed_with_the_plugin(world: World, client: TestClient[Litestar]) -> None:
    plugins = client.get("/api/v1/plugins", headers=world.acme).json()["items"]
    sample = next(p for p in plugins if p["id"] == "sample")
    assert sample["connects"] is False
    assert [(a["name"], a["method"], a["returns"]) for a in sample["actions"]] == [
        ("greet", "POST", "json"),
        ("locations", "GET", "csv"),
        ("open-vendor", "GET", "redirect"),
    ]
    greet = sample["actions"][0]
    assert greet["params"] == {"name": "whom to greet"} and greet["needs_connection"] is False
    testpos = next(p for p in plugins if p["id"] == "testpos")
    assert testpos["actions"] == []


def test_unknown_action_is_404(world: World, client: TestClient[Litestar]) -> None:
    for url in (
        f"{ACTIONS}/nope",
        "/api/v1/tenants/acme/plugins/nothing/actions/greet",
        "/api/v1/tenants/acme/plugins/testpos/actions/greet",  # a plugin without it
    ):
        response = client.post(url, headers=world.acme, json={"params": {}})
        assert response.status_code == 404, url
        assert response.json()["error"] == "not_found"


def test_post_action_with_params(world: World, client: TestClient[Litestar]) -> None:
    response = client.post(f"{ACTIONS}/greet", headers=world.acme, json={"params": {"name": "Ann"}})
    assert response.status_code == 200
    assert response.json() == {"data": {"greeting": "Hello Ann", "tenant": "acme"}}
    audit = client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    assert (audit[0]["action"], audit[0]["target"]) == ("action.run", "sample/greet")

    # Bad input: nothing runs, the reason is named.
    unknown_field = client.post(
        f"{ACTIONS}/greet", headers=world.acme, json={"params": {"name": "Ann"}, "extra": 1}
    )
    assert unknown_field.status_code == 422
    undeclared = client.post(
        f"{ACTIONS}/greet", headers=world.acme, json={"params": {"name": "Ann", "colour": "red"}}
    )
    assert undeclared.status_code == 422
    assert undeclared.json()["fields"] == {"params.colour": "not a parameter of this action"}
    missing = client.post(f"{ACTIONS}/greet", headers=world.acme, json={"params": {}})
    assert missing.status_code == 422 and missing.json()["fields"] == {"params.name": "required"}

    # The other method: 405 naming the one to use.
    wrong_method = client.get(f"{ACTIONS}/greet?name=Ann", headers=world.acme)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["error"] == "method_not_allowed"


def test_csv_action_with_format_csv(world: World, client: TestClient[Litestar]) -> None:
    as_csv = client.get(f"{ACTIONS}/locations?format=csv", headers=world.acme)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines() == ["code", "back", "main"]
    as_rows = client.get(f"{ACTIONS}/locations?prefix=m", headers=world.acme)
    assert as_rows.json() == {"data": [{"code": "main"}]}
    not_csv = client.post(
        f"{ACTIONS}/greet?format=csv", headers=world.acme, json={"params": {"name": "Ann"}}
    )
    assert not_csv.status_code == 422 and "format" in not_csv.json()["fields"]
    bad_format = client.get(f"{ACTIONS}/locations?format=xml", headers=world.acme)
    assert bad_format.status_code == 422


def test_redirect_action_answers_303_with_location(
    world: World, client: TestClient[Litestar]
) -> None:
    response = client.get(f"{ACTIONS}/open-vendor", headers=world.acme, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://vendor.example/login?user=ann"
    assert response.json() == {"redirect": "https://vendor.example/login?user=ann"}


def test_action_of_a_disabled_install_is_409(world: World, client: TestClient[Litestar]) -> None:
    client.put(
        "/api/v1/tenants/acme/plugins/sample",
        headers=world.acme,
        json={"enabled": False, "config": {"username": "ann"}},
    ).raise_for_status()
    response = client.post(f"{ACTIONS}/greet", headers=world.acme, json={"params": {"name": "A"}})
    assert response.status_code == 409
    assert "disabled" in response.json()["detail"]
    not_installed = client.get(
        "/api/v1/tenants/acme/plugins/testpos/actions/anything", headers=world.acme
    )
    assert not_installed.status_code == 404


def test_an_action_needing_a_connection_is_409_while_not_connected(
    world: World, client: TestClient[Litestar]
) -> None:
    with world.hub.db.session() as session:
        install = session.exec(
            select(PluginInstall).where(
                PluginInstall.tenant_id == world.acme_id, PluginInstall.plugin_id == "sample"
            )
        ).one()
        install.status = "not_connected"
        session.add(install)
    response = client.get(f"{ACTIONS}/open-vendor", headers=world.acme, follow_redirects=False)
    assert response.status_code == 409
    assert "connect" in response.json()["detail"]
    # An action that needs no connection still runs.
    assert client.get(f"{ACTIONS}/locations", headers=world.acme).status_code == 200


def test_tenant_key_cannot_run_another_tenants_action(
    world: World, client: TestClient[Litestar]
) -> None:
    response = client.get(f"{ACTIONS}/locations?format=csv", headers=world.globex)
    assert response.status_code == 404
    response = client.post(f"{ACTIONS}/greet", headers=world.globex, json={"params": {"name": "x"}})
    assert response.status_code == 404
    own = client.get(
        "/api/v1/tenants/globex/plugins/sample/actions/locations?format=csv", headers=world.globex
    )
    assert own.text.splitlines() == ["code", "globex-1"]
    assert client.get(f"{ACTIONS}/locations", headers=world.admin).status_code == 200
