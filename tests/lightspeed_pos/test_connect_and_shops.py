"""Connecting ("Fetch Token"), the account check, token bookkeeping, and the shops."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.errors import Invalid, Refused
from plugins.lightspeed_pos.config import PosConfig
from plugins.lightspeed_pos.plugin import MANIFEST
from tests.lightspeed_pos.conftest import PLUGIN, PosWorld


def test_the_config_has_every_setting_of_the_seed_table() -> None:
    fields = set(PosConfig.model_fields)
    assert {
        "enabled",
        "shops_mapping_enabled",
        "account_id",
        "shop_name",
        "employee_id",
        "register_id",
        "redirect_uri",
        "auth_token",
        "refresh_token",
        "token_received_on",
        "returns_warehouse",
        "order_download",
        "inventory_upload",
        "price_upload",
        "cost_upload",
        "auto_enable_new_products",
        "auto_create_products",
        "use_company_address",
        "shops",
    } <= fields
    schema = PosConfig.model_json_schema()["properties"]
    for token in ("auth_token", "refresh_token", "token_received_on"):
        assert schema[token]["writeOnly"] and schema[token]["readOnly"]
    for url in ("api_url", "cloud_url"):
        assert schema[url]["x-admin-only"] is True
    assert schema["redirect_uri"]["readOnly"] is True
    assert set(MANIFEST.managed_fields()) >= {"auth_token", "refresh_token", "token_received_on"}


def test_connecting_stores_the_tokens_encrypted_and_when_they_came(world: PosWorld) -> None:
    world.configure(account_id="101")
    outcome = world.connect()
    assert outcome.ok, outcome.detail
    assert outcome.account is not None and outcome.account.account_id == "101"
    view = world.hub.install_view(world.tenant_id, PLUGIN)
    assert view["status"] == "ok"
    assert view["config"]["auth_token"] == "********"
    assert view["config"]["token_received_on"] == "********"
    with world.hub.db.read() as session:
        from hub.core.models import PluginInstall

        install = session.get(PluginInstall, view.get("install_id") or 1)
        assert install is not None
        stored = str(install.secrets)
    assert "refresh_token" in stored and world.state.refresh_count == 0
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    secrets = ctx.read_secrets(["refresh_token", "token_received_on"])
    assert secrets["refresh_token"] not in stored  # encrypted at rest
    assert secrets["token_received_on"].startswith("20")


def test_a_login_to_another_account_is_refused_and_stores_nothing(world: PosWorld) -> None:
    world.configure(account_id="999")
    outcome = world.connect()
    assert not outcome.ok
    assert "999" in outcome.detail and "101" in outcome.detail
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    assert ctx.read_secrets(["refresh_token", "token_received_on"]) == {}
    assert world.hub.install_view(world.tenant_id, PLUGIN)["status"] == "not_connected"


def test_tokens_cannot_be_set_by_hand(world: PosWorld) -> None:
    world.configure()
    with pytest.raises(Invalid) as caught:
        world.configure(refresh_token="forged")
    assert "config.refresh_token" in caught.value.fields


def test_jobs_are_refused_until_connected(world: PosWorld) -> None:
    world.configure()
    with pytest.raises(Refused) as caught:
        world.run("order_download")
    assert "not connected" in caught.value.detail


def test_refresh_shops_reads_shops_registers_and_employees(world: PosWorld) -> None:
    world.setup(mapping=False)
    shops = world.install_config()["shops"]
    assert [(s["shop_id"], s["name"]) for s in shops] == [(1, "Main Street"), (2, "Harbour Outlet")]
    assert [r["register_id"] for r in shops[0]["registers"]] == [1, 3]
    assert [e["employee_id"] for e in world.install_config()["employees"]] == [1, 2]


def test_refresh_shops_keeps_mappings_and_archives_a_shop_that_disappeared(
    world: PosWorld,
) -> None:
    world.setup()
    with world.state.lock:
        world.state.records["Shop"][2]["archived"] = True
        world.state.records["Shop"][3] = {
            "shopID": 3,
            "name": "Airport Kiosk",
            "timeZone": "UTC",
            "archived": False,
            "timeStamp": world.state.clock.now().isoformat(),
        }
    result = world.action("refresh-shops")
    assert (result["added"], result["archived"]) == (1, 1)
    shops = {s["shop_id"]: s for s in world.install_config()["shops"]}
    assert shops[1]["warehouses"] == ["W1", "W2"]  # kept
    assert shops[2]["archived"] is True and shops[2]["warehouses"] == ["W3"]
    assert shops[3]["warehouses"] == [] and not shops[3]["archived"]


def _shops(world: PosWorld) -> list[dict[str, Any]]:
    return world.install_config()["shops"]  # type: ignore[no-any-return]


def test_a_warehouse_mapped_to_two_shops_is_refused_with_422(world: PosWorld) -> None:
    world.setup(mapping=False)
    shops = _shops(world)
    shops[0]["warehouses"] = ["W1", "W2"]
    shops[1]["warehouses"] = ["W2"]
    with pytest.raises(Invalid) as caught:
        world.configure(shops=shops, shops_mapping_enabled=True)
    assert caught.value.status == 422
    assert "config.shops[1].warehouses[0]" in caught.value.fields
    assert all(not s["warehouses"] for s in _shops(world))  # nothing stored


def test_a_mapped_warehouse_must_exist(world: PosWorld) -> None:
    world.setup(mapping=False)
    shops = _shops(world)
    shops[0]["warehouses"] = ["NOPE"]
    with pytest.raises(Invalid) as caught:
        world.configure(shops=shops, shops_mapping_enabled=True)
    assert "does not exist" in caught.value.fields["config.shops[0].warehouses[0]"]


def test_a_shops_register_must_belong_to_it(world: PosWorld) -> None:
    world.setup(mapping=False)
    shops = _shops(world)
    shops[0]["warehouses"] = ["W1"]
    shops[0]["register_id"] = 2  # the Outlet's till
    with pytest.raises(Invalid) as caught:
        world.configure(shops=shops, shops_mapping_enabled=True)
    assert "not a register of shop 1" in caught.value.fields["config.shops[0].register_id"]
    shops[0]["register_id"] = 3
    shops[0]["employee_id"] = 2
    world.configure(shops=shops, shops_mapping_enabled=True)
    assert _shops(world)[0]["register_id"] == 3


def test_the_redirect_uri_is_read_only(world: PosWorld) -> None:
    with pytest.raises(Invalid) as caught:
        world.configure(redirect_uri="https://evil.example/cb")
    assert "/oauth/callback" in caught.value.fields["config.redirect_uri"]
    world.configure()
    warnings = world.hub.install_view(world.tenant_id, PLUGIN)["warnings"]
    assert any("/oauth/callback" in w for w in warnings)
