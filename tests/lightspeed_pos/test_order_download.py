"""``order_download``: Lightspeed sales become hub orders exactly once, with their stock."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest

from hub.core.models import Order, Tenant
from tests.lightspeed_pos.conftest import PosWorld


def _report(run: dict[str, object]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(str(run["report"] or ""))))


def _orders(world: PosWorld) -> int:
    with world.hub.db.read() as session:
        from sqlmodel import select

        return len(session.exec(select(Order).where(Order.tenant_id == world.tenant_id)).all())


def test_a_sale_becomes_a_local_store_order_with_its_lines_matched(world: PosWorld) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 5), ("LIGHT", "W1", 5), ("CHAIN", "W1", 5)])
    world.bind("CHAIN", 3)
    sale = world.state.ring_up(
        1, [(1, 1, "59.99"), (2, 2, "24.00"), (3, 1, "34.95")], customer_id=1
    )
    run = world.run("order_download")
    assert run["state"] == "succeeded", run
    order = world.order(f"LS-{sale['saleID']}")
    assert order["channel"] == "local_store"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [
        ("HELMET", 1),  # by customSku
        ("LIGHT", 2),  # by UPC
        ("CHAIN", 1),  # by binding
    ]
    assert order["total"] == "142.94" and order["billing"]["email"] == "grace@example.com"
    assert run["counts"]["orders_created"] == 1 and run["counts"]["lines_matched"] == 3


def test_rerunning_over_the_same_window_creates_nothing_new(world: PosWorld) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 5)])
    world.state.ring_up(1, [(1, 2, "59.99")])
    world.state.ring_up(2, [(1, 1, "59.99")])
    first = world.run("order_download")
    assert first["counts"]["orders_created"] == 2
    again = world.run("order_download", since="2000-01-01T00:00:00+00:00")
    assert again["counts"].get("orders_created", 0) == 0
    assert again["counts"]["already_imported"] == 2
    assert _orders(world) == 2
    assert world.stock("HELMET", "W1") == 3  # deducted once


def test_a_sale_completed_during_the_previous_runs_read_is_picked_up_by_the_overlap(
    world: PosWorld,
) -> None:
    world.setup()
    world.state.ring_up(1, [(1, 1, "59.99")])
    world.run("order_download")
    # A sale that committed late: its updatetime is behind what the last run had seen.
    late = world.state.ring_up(
        1, [(3, 1, "34.95")], updatetime=world.state.clock.now() - timedelta(minutes=5)
    )
    world.state.ring_up(1, [(1, 1, "59.99")])
    run = world.run("order_download")
    assert run["counts"]["orders_created"] == 2
    assert world.order(f"LS-{late['saleID']}")["lines"][0]["sku"] == "CHAIN"


def test_a_return_lands_in_the_returns_warehouse(world: PosWorld) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 2), ("HELMET", "RET", 0), ("CHAIN", "W1", 4)])
    sale = world.state.ring_up(1, [(1, -1, "59.99"), (3, 1, "34.95")])
    world.run("order_download")
    assert world.stock("HELMET", "RET") == 1
    assert world.stock("HELMET", "W1") == 2  # the shop's warehouse keeps its count
    assert world.stock("CHAIN", "W1") == 3
    order = world.order(f"LS-{sale['saleID']}")
    returned = order["lines"][0]
    assert returned["description"].startswith("Return: ") and returned["quantity"] == 1
    assert order["total"] == "-25.04"


def test_a_sale_voided_after_import_cancels_the_order_and_restores_stock(world: PosWorld) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 1), ("HELMET", "W2", 3)])
    sale = world.state.ring_up(1, [(1, 3, "59.99")])
    world.run("order_download")
    assert (world.stock("HELMET", "W1"), world.stock("HELMET", "W2")) == (0, 1)
    world.state.void_sale(sale["saleID"])
    run = world.run("order_download")
    assert run["counts"]["voided_canceled"] == 1
    assert world.order(f"LS-{sale['saleID']}")["status"] == "canceled"
    assert (world.stock("HELMET", "W1"), world.stock("HELMET", "W2")) == (1, 3)
    world.run("order_download", since="2000-01-01T00:00:00+00:00")
    assert (world.stock("HELMET", "W1"), world.stock("HELMET", "W2")) == (1, 3)  # once


def test_a_sale_voided_before_import_is_not_imported(world: PosWorld) -> None:
    world.setup()
    sale = world.state.ring_up(1, [(1, 1, "59.99")])
    world.state.void_sale(sale["saleID"])
    run = world.run("order_download")
    assert run["counts"]["voided_skipped"] == 1 and _orders(world) == 0


def test_an_unknown_sku_becomes_an_unknown_line_and_a_report_row(world: PosWorld) -> None:
    world.setup()
    sale = world.state.ring_up(1, [(9, 1, "5.00"), (1, 1, "59.99")])
    run = world.run("order_download")
    order = world.order(f"LS-{sale['saleID']}")
    unknown = order["lines"][0]
    assert (unknown["sku"], unknown["description"]) == ("UNKNOWN", "Mystery Gadget")
    assert run["counts"]["lines_unknown"] == 1
    rows = [r for r in _report(run) if r["outcome"] == "unknown_sku"]
    assert len(rows) == 1 and "Mystery Gadget" in rows[0]["message"]
    summary = [r for r in _report(run) if r["outcome"] == "imported"]
    assert summary[0]["lines_unknown"] == "1" and summary[0]["lines_matched"] == "1"


def test_deductions_go_to_the_shops_warehouses_only(world: PosWorld) -> None:
    world.setup()
    world.set_stock(
        [("HELMET", "W1", 0), ("HELMET", "W2", 2), ("HELMET", "W3", 10), ("HELMET", "W9", 10)]
    )
    sale = world.state.ring_up(1, [(1, 3, "59.99")])
    run = world.run("order_download")
    # First warehouse with stock first (W2), what none has from the first one (W1).
    assert [world.stock("HELMET", w) for w in ("W1", "W2", "W3", "W9")] == [-1, 0, 10, 10]
    assert run["counts"]["shortfalls"] == 1
    row = next(r for r in _report(run) if r["sale_id"] == str(sale["saleID"]))
    assert row["warehouses_deducted"] == "W1:-1;W2:-2"
    world.state.ring_up(2, [(1, 4, "59.99")])
    world.run("order_download")
    assert [world.stock("HELMET", w) for w in ("W1", "W2", "W3", "W9")] == [-1, 0, 6, 10]


def test_a_sale_without_payments_gets_a_note(world: PosWorld) -> None:
    world.setup()
    sale = world.state.ring_up(1, [(1, 1, "59.99")], payment_type_id=None)
    run = world.run("order_download")
    order = world.order(f"LS-{sale['saleID']}")
    assert order["payments"] == []
    assert any("no payments" in note["message"] for note in order["notes"])
    assert run["counts"]["no_payments"] == 1


def test_use_company_address_puts_the_company_on_the_order(world: PosWorld) -> None:
    with world.hub.db.session() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        tenant.company_address = {"address1": "9 Depot St", "city": "Keene", "country": "us"}
        session.add(tenant)
    world.setup(use_company_address=True)
    sale = world.state.ring_up(1, [(1, 1, "59.99")], customer_id=1)
    world.run("order_download")
    order = world.order(f"LS-{sale['saleID']}")
    for side in ("billing", "shipping"):
        assert order[side]["address1"] == "9 Depot St" and order[side]["company"] == "Acme"
        assert order[side]["email"] == ""


def test_sales_of_one_page_selling_the_same_item_take_from_what_the_earlier_ones_left(
    world: PosWorld,
) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 1), ("HELMET", "W2", 5)])
    first = world.state.ring_up(1, [(1, 1, "59.99")])
    second = world.state.ring_up(1, [(1, 2, "59.99")])
    run = world.run("order_download")
    assert run["counts"]["orders_created"] == 2 and run["counts"]["shortfalls"] == 0
    # The first sale empties W1, so the second one takes from W2.
    assert [line["quantity"] for line in world.order(f"LS-{first['saleID']}")["lines"]] == [1]
    rows = {r["sale_id"]: r for r in _report(run)}
    assert rows[str(first["saleID"])]["warehouses_deducted"] == "W1:-1"
    assert rows[str(second["saleID"])]["warehouses_deducted"] == "W2:-2"
    assert (world.stock("HELMET", "W1"), world.stock("HELMET", "W2")) == (0, 3)


@pytest.mark.postgres
def test_on_postgresql_sales_are_stored_as_sent_and_imported_once(
    make_world: Any, postgres_url: str
) -> None:
    world: PosWorld = make_world(database_url=postgres_url)
    world.setup()
    world.set_stock([("HELMET", "W1", 5), ("CHAIN", "W1", 5)])
    world.bind("CHAIN", 3)
    sale = world.state.ring_up(1, [(1, 2, "59.99"), (3, -1, "34.95")], customer_id=1)
    other = world.state.ring_up(2, [(1, 1, "59.99")])
    run = world.run("order_download")
    assert run["state"] == "succeeded", run
    assert run["counts"]["orders_created"] == 2
    order = world.order(f"LS-{sale['saleID']}")
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        ("HELMET", 2, "59.99"),
        ("CHAIN", 1, "-34.95"),
    ]
    assert order["total"] == "85.03" and order["billing"]["email"] == "grace@example.com"
    assert order["payments"][0]["amount"] == "85.03"
    assert order["placed_at"].tzinfo is not None
    assert world.order(f"LS-{other['saleID']}")["shipping"]["email"] == ""
    assert (world.stock("HELMET", "W1"), world.stock("CHAIN", "RET")) == (3, 1)
    again = world.run("order_download", since="2000-01-01T00:00:00+00:00")
    assert again["counts"].get("orders_created", 0) == 0
    assert again["counts"]["already_imported"] == 2 and _orders(world) == 2
    assert (world.stock("HELMET", "W1"), world.stock("CHAIN", "RET")) == (3, 1)
