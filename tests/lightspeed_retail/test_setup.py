"""Setup: connect with the Admin-role check, the setup gate, the shops action, an account
change (seed: "A Lightspeed user needs to have the Admin role to complete setup")."""

from __future__ import annotations

import pytest

from hub.core.errors import Refused
from hub.core.models import AuditEvent, PluginInstall
from plugins.lightspeed_retail.setup import ADMIN_REQUIRED
from tests.lightspeed_retail.conftest import ADMIN, MANAGER, OWNER, PLUGIN, RetailWorld


def _stored_secrets(world: RetailWorld) -> dict[str, object]:
    with world.hub.db.read() as session:
        install = session.get(PluginInstall, world.view_install_id())
        assert install is not None
        return dict(install.secrets or {})


RetailWorld.view_install_id = lambda self: self.hub.context_for("acme", PLUGIN).install_id  # type: ignore[attr-defined, union-attr]


@pytest.mark.parametrize("employee", [MANAGER, OWNER])
def test_a_manager_or_owner_connection_is_refused_with_the_sentence_and_stores_nothing(
    world: RetailWorld, employee: int
) -> None:
    world.configure()
    before = _stored_secrets(world)

    outcome = world.connect(employee)

    assert not outcome.ok
    assert outcome.detail == ADMIN_REQUIRED
    assert ADMIN_REQUIRED == (
        "A Lightspeed user needs to have the Admin role to complete setup "
        "(Owner or Manager is not enough)"
    )
    assert _stored_secrets(world) == before  # no token of any kind
    view = world.view()
    assert view["connection"]["connected"] is False
    assert view["status"] == "setup_incomplete"


def test_an_admin_connection_is_accepted_and_setup_then_needs_stores_and_settings(
    world: RetailWorld,
) -> None:
    world.configure()
    outcome = world.connect(ADMIN)
    assert outcome.ok, outcome.detail

    view = world.view()
    assert view["connection"]["connected"] is True
    assert view["status"] == "setup_incomplete"
    warning = next(w for w in view["warnings"] if w.startswith("Setup is incomplete"))
    assert "map at least one Lightspeed shop" in warning
    assert "save the settings" in warning
    assert "connect Lightspeed Retail" not in warning

    world.configure(stores=[{"shop_id": 1, "location": "main"}])
    assert world.view()["status"] == "ok"


def test_jobs_before_setup_are_refused_with_409_naming_the_step(world: RetailWorld) -> None:
    world.configure()
    with pytest.raises(Refused) as refused:
        world.hub.queue_job(world.tenant_id, PLUGIN, "inventory_import")
    assert "setup is incomplete: connect Lightspeed Retail" in refused.value.detail

    world.connect(ADMIN)
    with pytest.raises(Refused) as refused:
        world.hub.queue_job(world.tenant_id, PLUGIN, "inventory_import_full")
    assert "map at least one Lightspeed shop" in refused.value.detail


def test_a_new_connection_asks_for_the_settings_to_be_saved_again(world: RetailWorld) -> None:
    world.setup()
    assert world.view()["status"] == "ok"

    assert world.connect(ADMIN).ok

    assert world.view()["status"] == "setup_incomplete"
    with pytest.raises(Refused, match="save the settings"):
        world.hub.queue_job(world.tenant_id, PLUGIN, "inventory_import")
    world.configure()
    assert world.view()["status"] == "ok"


def test_the_shops_action_lists_the_account_shops_with_their_mapping(world: RetailWorld) -> None:
    world.configure()
    world.connect(ADMIN)
    world.configure(stores=[{"shop_id": 2, "location": "outlet"}])

    shops = world.action("shops").data

    assert [(s["shop_id"], s["name"], s["location"]) for s in shops] == [
        (1, "Main Street", None),
        (2, "Harbour Outlet", "outlet"),
    ]


def test_the_shops_action_needs_a_connection(world: RetailWorld) -> None:
    world.configure()
    with pytest.raises(Refused, match="needs a connection"):
        world.action("shops")


def test_a_store_mapped_to_an_unknown_location_is_refused(world: RetailWorld) -> None:
    from hub.core.errors import Invalid

    world.configure()
    with pytest.raises(Invalid) as invalid:
        world.configure(stores=[{"shop_id": 1, "location": "nowhere"}])
    assert "config.stores[0].location" in (invalid.value.fields or {})


def test_connecting_another_account_resets_the_bindings_and_warns(world: RetailWorld) -> None:
    world.setup()
    world.run("inventory_import_full")
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    helmet, chain = ctx.find_products(skus=["HELMET", "CHAIN"])
    assert set(ctx.vendor_ids("item", [helmet.product_id, chain.product_id])) == {
        helmet.product_id,
        chain.product_id,
    }

    # Another account: the sandbox plays account 202, whose item 1 is not the helmet.
    world.hub.disconnect(world.tenant_id, PLUGIN, "test")
    world.state.account_id = 202
    world.state.account_name = "Other Cycles"
    world.state.update_item(1, upc="099999999999", manufacturerSku="OTHER-1")
    assert world.connect(ADMIN).ok
    world.configure()
    assert any("changed from 101 to 202" in w for w in world.view()["warnings"])

    world.run("inventory_import")  # the first run for 202: a full pass after the reset

    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    assert ctx.vendor_ids("item", [helmet.product_id, chain.product_id]) == {chain.product_id: "2"}
    assert any("item bindings were reset" in w for w in world.view()["warnings"])
    with world.hub.db.read() as session:
        install = session.get(PluginInstall, ctx.install_id)
        assert install is not None and install.connected_account_id == "202"
        assert session.query(AuditEvent).filter_by(action="install.connected").count() == 2


def test_new_credentials_make_the_previous_connection_inoperable(world: RetailWorld) -> None:
    world.setup()
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    first = ctx.read_secrets(["refresh_token", "auth_token"])

    assert world.connect(ADMIN).ok

    second = ctx.read_secrets(["refresh_token", "auth_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["auth_token"] != first["auth_token"]  # the old pair is gone from the hub
