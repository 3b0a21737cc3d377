"""``catalog_upload``: prices and costs, auto-enable, auto-create exactly once."""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal

import pytest

from hub.core import catalog
from plugins.lightspeed_pos import connection as pos_connection
from plugins.lightspeed_rseries.sandbox import Fault
from tests.lightspeed_pos.conftest import PosWorld


def _report(run: dict[str, object]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(str(run["report"] or ""))))


def _items_with_sku(world: PosWorld, sku: str) -> list[dict[str, object]]:
    with world.state.lock:
        return [i for i in world.state.items.values() if i.get("customSku") == sku]


def _put_products(world: PosWorld, *products: catalog.ProductIn) -> None:
    with world.hub.db.session() as session:
        catalog.upsert_products(session, world.tenant_id, list(products))


def test_prices_and_costs_go_up_behind_their_toggles_changed_values_only(world: PosWorld) -> None:
    world.setup(price_upload=True, cost_upload=False)
    world.enable("HELMET")
    world.bind("HELMET", 1)
    run = world.run("catalog_upload")
    assert run["counts"]["prices_updated"] == 1
    assert [w.payload for w in world.writes()] == [
        {"Prices": {"ItemPrice": [{"amount": 59.99, "useTypeID": 1, "useType": "Default"}]}}
    ]
    assert world.state.items[1]["defaultCost"] == Decimal("30.00")  # cost upload is off
    before = len(world.writes())
    world.run("catalog_upload")
    assert len(world.writes()) == before  # nothing changed
    world.configure(cost_upload=True)
    _put_products(
        world,
        catalog.ProductIn(
            sku="HELMET", title="Trail Helmet", price=Decimal("59.99"), cost=Decimal("31.00")
        ),
    )
    world.run("catalog_upload")
    assert [w.payload for w in world.writes()[before:]] == [{"defaultCost": 31}]


def test_new_products_get_an_enabled_listing_automatically(world: PosWorld) -> None:
    world.setup(auto_enable_new_products=True)
    world.run("catalog_upload")  # the option is seen on from now
    _put_products(world, catalog.ProductIn(sku="NEW-1", title="New thing"))
    world.run("catalog_upload")
    ctx = world.hub.context_for("acme", "lightspeed_pos")
    assert ctx is not None
    listed = {v.sku: v.enabled for batch in ctx.listings() for v in batch}
    assert listed == {"NEW-1": True}  # older products are not enabled by it


def test_auto_create_looks_up_then_binds_and_creates_the_rest(world: PosWorld) -> None:
    world.setup(auto_create_products=True)
    world.set_stock([("TUBE", "W1", 4), ("TUBE", "W3", 1)])
    world.enable("CHAIN", "TUBE", "BELL")
    run = world.run("catalog_upload")
    assert run["state"] == "succeeded", run
    assert (run["counts"]["items_bound"], run["counts"]["items_created"]) == (1, 2)
    assert [w.record_id for w in world.writes("POST")] and len(_items_with_sku(world, "CHAIN")) == 1
    (tube,) = _items_with_sku(world, "TUBE")
    assert (tube["upc"], tube["manufacturerSku"], tube["defaultCost"]) == (
        "036000291452",
        "T29",
        Decimal("3.10"),
    )
    assert tube["Prices"][0]["amount"] == Decimal("7.50")
    assert (world.state.stock(tube["itemID"], 1), world.state.stock(tube["itemID"], 2)) == (4, 1)
    (bell,) = _items_with_sku(world, "BELL")
    assert "upc" not in bell and bell["ean"] == "4006381333931"
    problems = [r for r in _report(run) if r["what"] == "barcode"]
    assert problems and "not 11–14 digits" in problems[0]["message"]
    # Bound now: a second run creates nothing, and the created items' stock (sent with the
    # create) is not sent again; the item found by lookup gets its first stock push.
    before = len(world.state.writes)
    world.run("catalog_upload")
    world.run("inventory_upload")
    assert [(w.method, w.record_id) for w in world.state.writes[before:]] == [("PUT", 3)]
    assert not any(w.method == "DELETE" for w in world.state.writes)


def test_a_create_that_times_out_after_the_sandbox_created_the_item_binds_it_on_retry(
    world: PosWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.setup(auto_create_products=True, inventory_upload=False)
    world.enable("TUBE")
    monkeypatch.setattr(pos_connection, "REQUEST_TIMEOUT", 0.5)
    world.state.add_fault(Fault(kind="late", method="POST", path="*/Item.json", delay=1.5))
    first = world.run("catalog_upload")
    assert first["state"] == "partial", first
    deadline = time.monotonic() + 5
    while not _items_with_sku(world, "TUBE") and time.monotonic() < deadline:
        time.sleep(0.05)  # the sandbox finishes the create after our timeout
    assert len(_items_with_sku(world, "TUBE")) == 1
    retry = world.run("catalog_upload")
    assert retry["state"] == "succeeded", retry
    assert retry["counts"]["items_bound"] == 1 and "items_created" not in retry["counts"]
    (tube,) = _items_with_sku(world, "TUBE")  # one item on the sandbox
    ctx = world.hub.context_for("acme", "lightspeed_pos")
    assert ctx is not None
    (product,) = ctx.find_products(skus=["TUBE"])
    assert ctx.vendor_id("product", product.product_id) == str(tube["itemID"])
