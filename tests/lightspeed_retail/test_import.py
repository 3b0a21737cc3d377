"""The stock import (seed: import settings, "If you want items to sync you need …", UPC →
GTIN1, EAN → GTIN2, Man. SKU → MPN); the spec's incremental reads and pending mappings."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

from hub.core import catalog
from tests.lightspeed_retail.conftest import PLUGIN, RetailWorld, seed


def _item(
    item_id: int, *, qoh: dict[int, int] | None = None, **fields: object
) -> dict[str, object]:
    item: dict[str, object] = {
        "itemID": item_id,
        "customSku": f"IT-{item_id}",
        "description": f"Item {item_id}",
        "manufacturerID": 2,
        "Prices": [{"amount": "10.00", "useTypeID": 1, "useType": "Default"}],
        "ItemShops": [{"shopID": shop, "qoh": n} for shop, n in (qoh or {1: 2}).items()],
    }
    item.update(fields)
    return item


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_quantities_of_each_mapped_shop_go_to_its_location(world: RetailWorld) -> None:
    world.setup()

    run = world.run("inventory_import_full")

    assert run["state"] == "succeeded", run
    assert (world.stock("HELMET", "main"), world.stock("HELMET", "outlet")) == (7, 3)
    assert (world.stock("CHAIN", "main"), world.stock("CHAIN", "outlet")) == (0, 4)
    assert (world.stock("BRAKE", "main"), world.stock("BRAKE", "outlet")) == (5, 0)
    assert run["counts"]["imported"] == 3
    report = _rows(run["report"])
    assert {(r["item_id"], r["location"], r["new_qty"]) for r in report if r["item_id"] == "1"} == {
        ("1", "main", "7"),
        ("1", "outlet", "3"),
    }


def test_two_shops_mapped_to_one_location_apply_in_order_and_the_later_wins(
    world: RetailWorld,
) -> None:
    world.setup(stores=[{"shop_id": 1, "location": "main"}, {"shop_id": 2, "location": "main"}])

    run = world.run("inventory_import_full")

    assert run["state"] == "succeeded", run
    assert (world.stock("HELMET", "main"), world.stock("CHAIN", "main")) == (3, 4)
    assert world.stock("HELMET", "outlet") is None
    report = _rows(run["report"])
    assert [(r["shop_id"], r["old_qty"], r["new_qty"]) for r in report if r["item_id"] == "1"] == [
        ("1", "", "7"),
        ("2", "7", "3"),
    ]


def test_a_stock_change_on_an_item_shop_alone_reaches_the_hub_on_the_next_incremental_run(
    world: RetailWorld,
) -> None:
    world.setup()
    world.run("inventory_import_full")
    item_stamp = world.state.items[1]["timeStamp"]

    world.state.set_stock(1, 2, qoh=11)  # a delivery at the outlet: only the ItemShop moves
    assert world.state.items[1]["timeStamp"] == item_stamp
    run = world.run("inventory_import")

    assert run["state"] == "succeeded", run
    assert world.stock("HELMET", "outlet") == 11
    assert world.stock("HELMET", "main") == 7
    assert "first_pass_full" not in run["counts"]


def test_the_first_incremental_run_reads_everything(world: RetailWorld) -> None:
    world.setup()
    run = world.run("inventory_import")
    assert run["counts"]["first_pass_full"] == 1
    assert world.stock("HELMET", "main") == 7


def test_an_item_dropping_below_every_filter_goes_to_zero(world: RetailWorld) -> None:
    world.setup(import_if_on_order=True)
    world.run("inventory_import_full")
    assert world.stock("BRAKE", "main") == 5

    world.state.set_stock(3, 1, qoh=0, backorder=2)  # still on order: still imported
    run = world.run("inventory_import")
    assert world.stock("BRAKE", "main") == 0
    assert {r["reason"] for r in _rows(run["report"]) if r["item_id"] == "3"} == {""}

    world.state.set_stock(3, 1, backorder=0)  # no condition holds at any mapped shop
    world.state.set_stock(1, 1, qoh=0)
    world.state.set_stock(1, 2, qoh=0, reorderPoint=1)  # reorder levels are off
    world.state.set_stock(2, 2, qoh=1)
    run = world.run("inventory_import")

    assert (world.stock("HELMET", "main"), world.stock("HELMET", "outlet")) == (0, 0)
    assert world.stock("CHAIN", "outlet") == 1
    leaving = {r["item_id"] for r in _rows(run["report"]) if r["reason"] == "filtered_out"}
    assert leaving == {"1"}  # the brake pads were at 0 already: nothing changed to report
    assert world.stock("BRAKE", "main") == 0


def test_an_archived_item_goes_to_zero(world: RetailWorld) -> None:
    world.setup()
    world.run("inventory_import_full")

    world.state.update_item(1, archived=True)
    world.run("inventory_import")

    assert (world.stock("HELMET", "main"), world.stock("HELMET", "outlet")) == (0, 0)
    world.run("inventory_import_full")  # archived items are not read at all: cleared
    assert (world.stock("HELMET", "main"), world.stock("HELMET", "outlet")) == (0, 0)


def test_the_three_import_settings(start_world: Callable[..., RetailWorld]) -> None:
    world = start_world(
        seed(
            _item(30, upc="300000000003", manufacturerSku="M30", qoh={1: 0}),
            _item(31, upc="310000000003", manufacturerSku="M31", qoh={1: 0}),
        )
    )
    world.products(
        catalog.ProductIn(sku="ON-ORDER", upc="300000000003", mpn="M30"),
        catalog.ProductIn(sku="REORDER", upc="310000000003", mpn="M31"),
    )
    world.state.set_stock(30, 1, backorder=3)
    world.state.set_stock(31, 1, reorderLevel=6)
    world.setup()

    run = world.run("inventory_import_full")
    assert run["counts"]["imported"] == 3  # on hand only: helmet, chain, brake

    world.configure(import_if_on_order=True, import_if_reorder_levels=True)
    run = world.run("inventory_import_full")
    assert run["counts"]["imported"] == 5
    assert world.stock("ON-ORDER", "main") == 0  # imported, with what is on hand
    assert world.stock("REORDER", "main") == 0


def test_each_pending_reason_is_listed_and_warned(start_world: Callable[..., RetailWorld]) -> None:
    world = start_world(
        seed(
            _item(10, manufacturerSku="M10"),
            _item(11, upc="111111111117"),
            _item(
                12,
                upc="121212121212",
                manufacturerSku="M12",
                Prices=[{"amount": "12.00", "useTypeID": 2, "useType": "MSRP"}],
            ),
            _item(13, upc="131313131313", manufacturerSku="M13"),
            _item(14, upc="141414141414", manufacturerSku="M14"),
        )
    )
    world.products(
        catalog.ProductIn(sku="TWIN-A", upc="141414141414"),
        catalog.ProductIn(sku="TWIN-B", upc="141414141414"),
    )
    world.setup()

    run = world.run("inventory_import_full")

    reasons = {
        row["item_id"]: row["reason"]
        for row in world.action("pending-mappings", limit="100").data["items"]
    }
    assert reasons == {
        "10": "no_upc_or_ean",
        "11": "no_manufacturer_sku",
        "12": "no_price_at_level",
        "13": "no_matching_product",
        "14": "several_matching_products",
    }
    assert run["counts"]["pending"] == 5
    assert "Pending mappings: 5 items do not sync" in world.view()["warnings"]
    as_csv = _rows(world.action("pending-mappings").csv_text() or "")
    assert {r["item_id"] for r in as_csv} == set(reasons)
    assert next(r for r in as_csv if r["item_id"] == "14")["upc"] == "141414141414"
    page = world.action("pending-mappings", limit="2").data
    assert len(page["items"]) == 2 and page["total"] == 5 and page["next_cursor"]
    rest = world.action("pending-mappings", limit="10", cursor=page["next_cursor"]).data
    assert len(rest["items"]) == 3 and rest["next_cursor"] is None


def test_a_fixed_item_leaves_the_pending_list_on_the_next_incremental_run(
    start_world: Callable[..., RetailWorld],
) -> None:
    world = start_world(seed(_item(10, manufacturerSku="M10")))
    world.products(catalog.ProductIn(sku="TEN", upc="100000000009", mpn="M10"))
    world.setup()
    world.run("inventory_import_full")
    assert world.action("pending-mappings").data["total"] == 1

    world.state.update_item(10, upc="100000000009")
    world.run("inventory_import")

    assert world.action("pending-mappings").data["total"] == 0
    assert world.stock("TEN", "main") == 2
    assert not any(w.startswith("Pending mappings") for w in world.view()["warnings"])


def test_the_base_price_level_is_a_requirement(world: RetailWorld) -> None:
    world.setup(base_price_level="MSRP")
    world.run("inventory_import_full")
    pending = {r["item_id"]: r["reason"] for r in world.action("pending-mappings").data["items"]}
    assert pending == {
        "2": "no_price_at_level",
        "3": "no_price_at_level",
    }  # only the helmet has MSRP


def test_upc_beats_ean_beats_mpn(start_world: Callable[..., RetailWorld]) -> None:
    world = start_world(
        seed(_item(20, upc="200000000002", ean="2000000000022", manufacturerSku="M-20", qoh={1: 6}))
    )
    by_upc = catalog.ProductIn(sku="BY-UPC", upc="200000000002")
    by_ean = catalog.ProductIn(sku="BY-EAN", ean="2000000000022")
    by_mpn = catalog.ProductIn(sku="BY-MPN", mpn="M-20", brand="Acme Components")
    wrong_brand = catalog.ProductIn(sku="OTHER-BRAND", mpn="M-20", brand="Northwind Bikes")
    world.products(by_upc, by_ean, by_mpn, wrong_brand)
    world.setup()

    world.run("inventory_import_full")
    assert [world.stock(s) for s in ("BY-UPC", "BY-EAN", "BY-MPN")] == [6, None, None]

    world.products(by_upc.model_copy(update={"upc": None}))
    world.run("inventory_import_full")
    assert [world.stock(s) for s in ("BY-UPC", "BY-EAN", "BY-MPN")] == [0, 6, None]

    world.products(by_ean.model_copy(update={"ean": None}))
    world.run("inventory_import_full")
    assert [world.stock(s) for s in ("BY-UPC", "BY-EAN", "BY-MPN", "OTHER-BRAND")] == [
        0,
        0,
        6,
        None,
    ]


def test_two_products_with_one_upc_are_several_matching_products(
    start_world: Callable[..., RetailWorld],
) -> None:
    world = start_world(seed(_item(14, upc="141414141414", manufacturerSku="M14", qoh={1: 9})))
    world.products(
        catalog.ProductIn(sku="TWIN-A", upc="141414141414"),
        catalog.ProductIn(sku="TWIN-B", upc="141414141414"),
    )
    world.setup()

    run = world.run("inventory_import_full")

    assert world.stock("TWIN-A") is None and world.stock("TWIN-B") is None
    pending = world.action("pending-mappings").data["items"]
    assert [(p["item_id"], p["reason"]) for p in pending] == [("14", "several_matching_products")]
    assert run["counts"]["ambiguous"] == 2  # once per mapped shop


def test_the_run_report_is_a_csv_with_one_row_per_item_and_shop(world: RetailWorld) -> None:
    world.setup()
    run = world.run("inventory_import_full")
    rows = _rows(run["report"])
    assert rows[0].keys() >= {"item_id", "upc", "ean", "manufacturer_sku", "location", "outcome"}
    assert {r["outcome"] for r in rows} <= {
        "updated",
        "unchanged",
        "cleared",
        "unmatched",
        "ambiguous",
        "pending",
    }
    assert run["counts"]["items_read"] == 5
    assert run["counts"]["requests"] >= 2


def test_pos_pricing_sets_price_and_sale_price_by_level_id(world: RetailWorld) -> None:
    world.setup(use_pos_pricing=True, regular_price_level=1, sale_price_level=4)
    run = world.run("inventory_import_full")
    assert run["counts"]["prices_updated"] == 3
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    helmet, chain = ctx.find_products(skus=["HELMET", "CHAIN"])
    assert (helmet.price, helmet.sale_price) == (Decimal("59.99"), Decimal("49.99"))
    assert (chain.price, chain.sale_price) == (Decimal("34.95"), None)
