"""Order intake: totals, idempotency, export rows per exporting install, shipments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlmodel import select

from hub.core.errors import Conflict
from hub.core.models import Order, OrderExport
from hub.core.orders import OrderIn
from hub.core.records import open_quantity
from tests.core.conftest import Setup, add_products, make_tenant, order_body, plugin_context
from tests.core.sample_plugin import SamplePlugin


def exports_of(setup: Setup, number: str | None = None) -> list[OrderExport]:
    with setup.hub.db.read() as session:
        query = select(OrderExport, Order).join(Order, Order.id == OrderExport.order_id)  # type: ignore[arg-type]
        if number is not None:
            query = query.where(Order.number == number)
        return [e for e, _ in session.exec(query)]


def test_an_order_whose_totals_do_not_add_up_is_refused_with_the_sums() -> None:
    with pytest.raises(ValidationError) as caught:
        order_body("W-1", lines=[("A", 2, "10.00")], shipping="5.00", tax="1.00", total="30.00")
    message = str(caught.value)
    assert "total 30.00 does not equal lines 20.00 + shipping 5.00 + tax 1.00 = 26.00" in message


def test_money_with_more_than_two_decimals_is_refused() -> None:
    with pytest.raises(ValidationError, match="at most two decimal places"):
        order_body("W-1", lines=[("A", 1, "10.001")], total="16.00")


def test_a_naive_placed_at_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone offset"):
        OrderIn.model_validate(
            {
                "number": "W-1",
                "placed_at": "2026-05-01T12:00:00",
                "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}],
                "total": "1.00",
            }
        )


def test_the_same_order_posted_twice_is_stored_once(setup: Setup) -> None:
    hub = setup.hub
    add_products(hub.db, setup.tenant_id, [{"sku": "SKU-1", "brand": "Tusk", "part_number": "1-2"}])
    view, created = hub.intake_order(setup.tenant_id, order_body("W-100"))
    assert created
    assert view.total == Decimal("26.00")
    assert view.lines[0].product_id is not None
    assert view.lines[0].part_number == "1-2"
    again, created_again = hub.intake_order(setup.tenant_id, order_body("W-100"))
    assert (again.id, created_again) == (view.id, False)
    assert len(exports_of(setup, "W-100")) == 1


def test_the_same_number_with_a_different_body_is_a_conflict(setup: Setup) -> None:
    setup.hub.intake_order(setup.tenant_id, order_body("W-100"))
    with pytest.raises(Conflict, match="different body"):
        setup.hub.intake_order(setup.tenant_id, order_body("W-100", lines=[("SKU-1", 3, "10.00")]))


def test_export_rows_are_opened_only_for_enabled_installs_that_export(setup: Setup) -> None:
    hub = setup.hub
    hub.plugins.register(SamplePlugin("disabled_exporter"))
    hub.plugins.register(SamplePlugin("not_exporter", exports_orders=False))
    hub.plugins.register(SamplePlugin("declines"))
    hub.configure_install(setup.tenant_id, "disabled_exporter", enabled=False, config={}, actor="t")
    hub.configure_install(setup.tenant_id, "not_exporter", enabled=True, config={}, actor="t")
    hub.configure_install(
        setup.tenant_id, "declines", enabled=True, config={"export_orders": False}, actor="t"
    )
    hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert [(e.plugin_id, e.state) for e in exports_of(setup)] == [("sample", "pending")]


def test_an_order_a_plugin_brought_in_is_not_exported_back_to_it(setup: Setup) -> None:
    ctx = plugin_context(setup)
    view, created = ctx.store_order(order_body("STORE-1", channel="store"))
    assert created and view.channel == "store"
    assert exports_of(setup) == []


def test_orders_of_one_tenant_do_not_reach_another(setup: Setup) -> None:
    other = make_tenant(setup.hub, "other")
    setup.hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert plugin_context(other).offer_orders() == []
    # The same number is a different order in another tenant.
    _, created = setup.hub.intake_order(other.tenant_id, order_body("W-1", tax="2.00"))
    assert created


def test_a_shipment_is_recorded_once_and_sets_partial_then_full_status(setup: Setup) -> None:
    hub = setup.hub
    view, _ = hub.intake_order(
        setup.tenant_id, order_body("W-9", lines=[("A", 2, "10.00"), ("B", 1, "5.00")])
    )
    ctx = plugin_context(setup)
    line_a, line_b = view.lines
    assert ctx.record_shipment(
        "W-9", carrier="UPS", method="Ground", tracking_number="1Z1", items=[(line_a.id, 2)]
    )
    assert not ctx.record_shipment(
        "W-9", carrier="UPS", method="Ground", tracking_number="1Z1", items=[(line_a.id, 2)]
    )
    detail = hub.order_detail(setup.tenant_id, "W-9")
    assert detail["status"] == "partially_shipped"
    assert len(detail["shipments"]) == 1
    assert [line["shipped_quantity"] for line in detail["lines"]] == [2, 0]
    assert ctx.record_shipment(
        "W-9", carrier="UPS", method="Ground", tracking_number="1Z2", items=[(line_b.id, 1)]
    )
    detail = hub.order_detail(setup.tenant_id, "W-9")
    assert detail["status"] == "shipped"
    assert len(detail["shipments"]) == 2


def test_a_shipped_order_cannot_be_canceled(setup: Setup) -> None:
    view, _ = setup.hub.intake_order(setup.tenant_id, order_body("W-9"))
    plugin_context(setup).record_shipment(
        "W-9", carrier="UPS", method="", tracking_number="1", items=[(view.lines[0].id, 2)]
    )
    with pytest.raises(Conflict, match="shipped"):
        setup.hub.cancel_order(setup.tenant_id, "W-9", "changed mind", actor="test")


def test_a_line_canceled_in_part_then_over_shipped_has_nothing_open(setup: Setup) -> None:
    view, _ = setup.hub.intake_order(setup.tenant_id, order_body("W-9", lines=[("A", 3, "1.00")]))
    ctx = plugin_context(setup)
    line_id = view.lines[0].id
    ctx.cancel_order_line("W-9", line_id, 1, "vendor canceled one")
    assert ctx.find_order("W-9").lines[0].open_quantity == 2
    ctx.record_shipment("W-9", carrier="UPS", method="", tracking_number="1", items=[(line_id, 5)])
    line = ctx.find_order("W-9").lines[0]
    assert (line.canceled_quantity, line.shipped_quantity, line.open_quantity) == (1, 2, 0)
    ctx.cancel_order_line("W-9", line_id, 4, "nothing left to cancel")
    assert ctx.find_order("W-9").lines[0].canceled_quantity == 1
    assert setup.hub.order_detail(setup.tenant_id, "W-9")["status"] == "shipped"


def test_open_quantity_is_never_negative() -> None:
    assert open_quantity(3, 1, 1) == 1
    assert open_quantity(3, 2, 2) == 0
