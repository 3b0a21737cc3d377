"""The order export (seed: "Orders will be exported to Lightspeed as completed sales",
"Orders can only be exported … once", "Orders must be balanced before they can be exported",
"export the order when all items are fulfilled"; the spec's tax rule)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hub.core.orders import FulfillmentIn, PaymentAdd
from hub.plugin import TransientJobError
from plugins.lightspeed_rseries.sandbox import Fault
from tests.lightspeed_retail.conftest import ADMIN, PLUGIN, RetailWorld


def _ready(world: RetailWorld, **config: object) -> None:
    world.setup(**world.export_settings(**config))
    world.run("inventory_import_full")  # binds the helmet to item 1


def test_a_balanced_order_becomes_one_completed_sale(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1001")

    run = world.run("order_export")

    assert run["state"] == "succeeded", run
    assert run["counts"]["exported"] == 1
    [sale] = world.sales_for("W1001")
    assert sale["completed"] is True
    assert (sale["employeeID"], sale["registerID"], sale["shopID"]) == (ADMIN, 3, 1)
    assert sale["referenceNumberSource"] == "webstore"
    assert sale["customerID"] == 1  # grace@example.com exists in Lightspeed
    lines = [
        (line["itemID"], line["unitQuantity"], line["unitPrice"]) for line in sale["SaleLines"]
    ]
    assert lines == [(1, 2, Decimal("59.99")), (4, 1, Decimal("9.99"))]  # helmet, shipping
    assert sale["total"] == Decimal("137.77")  # Lightspeed's tax: 7.80
    assert sum(p["amount"] for p in sale["SalePayments"]) == Decimal("137.77")
    assert {p["paymentTypeID"] for p in sale["SalePayments"]} == {2}  # visa → Credit Card
    export = world.export_of("W1001")
    assert (export["state"], export["external_ref"]) == ("acknowledged", str(sale["saleID"]))

    world.run("order_export")  # exported once: nothing more
    assert len(world.sales_for("W1001")) == 1


def test_an_unbalanced_order_is_not_exported_and_says_unbalanced(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1002", paid="100.00")

    run = world.run("order_export")

    assert run["counts"]["waiting_unbalanced"] == 1
    assert world.sales_for("W1002") == []
    export = world.export_of("W1002")
    assert (export["state"], export["message"]) == ("offered", "Unbalanced")
    assert world.detail("W1002")["balance_due"] == "37.76"


def test_paying_it_exports_it_without_waiting_for_the_schedule(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1003", paid="100.00")
    world.run("order_export")

    detail, added = world.hub.add_payment(
        world.tenant_id,
        "W1003",
        PaymentAdd(method="visa", amount=Decimal("37.76"), reference="cap-2"),
        actor="test",
    )

    assert added and detail["balance_due"] == "0.00"
    assert world.run_queued("order_export") == ["succeeded"]  # queued by the payment
    assert len(world.sales_for("W1003")) == 1
    assert world.export_of("W1003")["state"] == "acknowledged"
    [sale] = world.sales_for("W1003")
    assert sum(p["amount"] for p in sale["SalePayments"]) == sale["total"]


def test_a_timeout_after_the_sandbox_created_the_sale_leaves_one_sale(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1004")
    world.state.add_fault(Fault(kind="applied", method="POST", path="*/Sale.json", status=504))

    run = world.run("order_export")

    assert run["state"] == "succeeded", run
    assert len(world.sales_for("W1004")) == 1
    assert world.export_of("W1004")["state"] == "acknowledged"


def test_a_worker_stopped_between_the_create_and_the_acknowledgement_exports_once(
    world: RetailWorld,
) -> None:
    _ready(world)
    world.order("W1005")
    # The sale is created, its answer lost, and Lightspeed cannot be asked about it: the
    # attempt ends with the claim left behind (as a worker killed after the create would).
    world.state.add_fault(Fault(kind="applied", method="POST", path="*/Sale.json", status=504))
    world.state.add_fault(Fault(method="GET", path="*/Sale.json", status=503, count=5))

    with pytest.raises(TransientJobError):
        world.run("order_export")
    assert len(world.sales_for("W1005")) == 1
    assert world.export_of("W1005")["state"] != "acknowledged"

    # The retry of the run (and the run the order queued when it entered the hub).
    assert set(world.run_queued("order_export")) == {"succeeded"}

    assert len(world.sales_for("W1005")) == 1
    [sale] = world.sales_for("W1005")
    assert sale["completed"] is True
    assert world.export_of("W1005")["external_ref"] == str(sale["saleID"])


def test_a_lost_answer_to_the_completing_request_still_completes_once(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1006")
    world.state.add_fault(Fault(kind="applied", method="PUT", path="*/Sale/*.json", status=504))

    run = world.run("order_export")

    assert run["state"] == "succeeded", run
    [sale] = world.sales_for("W1006")
    assert sale["completed"] is True
    assert sum(p["amount"] for p in sale["SalePayments"]) == sale["total"]  # paid once


def test_export_when_fulfilled_waits_for_the_last_line(world: RetailWorld) -> None:
    _ready(world, export_when_fulfilled=True)
    world.order(
        "W1007",
        lines=[
            {"sku": "HELMET", "quantity": 1, "unit_price": "59.99"},
            {"sku": "BRAKE", "quantity": 2, "unit_price": "30.00"},
        ],
        tax="7.80",
    )

    world.run("order_export")
    assert world.export_of("W1007")["message"] == "Waiting for fulfilment"
    world.hub.record_fulfillment(
        world.tenant_id,
        "W1007",
        FulfillmentIn.model_validate(
            {"source": "supplier", "lines": [{"line_no": 1, "quantity": 1}]}
        ),
        actor="test",
    )
    world.run_queued("order_export")
    assert world.sales_for("W1007") == []
    assert world.export_of("W1007")["message"] == "Waiting for fulfilment"

    world.hub.record_fulfillment(
        world.tenant_id,
        "W1007",
        FulfillmentIn.model_validate(
            {"source": "store", "lines": [{"sku": "BRAKE", "quantity": 2}]}
        ),
        actor="test",
    )
    assert world.run_queued("order_export") == ["succeeded"]
    assert len(world.sales_for("W1007")) == 1


def test_status_after_export_is_applied(world: RetailWorld) -> None:
    _ready(world, status_after_export="completed")
    world.order("W1008")

    world.run("order_export")

    detail = world.detail("W1008")
    assert detail["status"] == "completed"
    assert any("completed sale" in n["message"] for n in detail["notes"])


def test_the_order_status_stays_by_default(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1009")
    world.run("order_export")
    assert world.detail("W1009")["status"] == "open"


def test_a_total_beyond_the_tax_tolerance_fails_naming_both_totals(world: RetailWorld) -> None:
    _ready(world)
    world.order("W1010", tax="4.00")  # Lightspeed computes 7.80

    run = world.run("order_export")

    export = world.export_of("W1010")
    assert export["state"] == "failed"
    assert export["message"] == (
        "Lightspeed's total 137.77 differs from the order's total 133.97 by 3.80, more than "
        "the tax tolerance 0.05"
    )
    [sale] = world.sales_for("W1010")
    assert sale["completed"] is False  # left uncompleted, never paid
    assert run["counts"]["failed"] == 1


def test_an_unknown_line_goes_on_the_placeholder_item_with_a_note(world: RetailWorld) -> None:
    _ready(world)
    world.order(
        "W1011",
        lines=[
            {"sku": "HELMET", "quantity": 1, "unit_price": "59.99"},
            {"sku": "GIFT-WRAP", "quantity": 1, "unit_price": "5.00"},
        ],
        tax="4.22",
        email="new.buyer@example.com",
    )

    world.run("order_export")

    [sale] = world.sales_for("W1011")
    assert [line["itemID"] for line in sale["SaleLines"]] == [1, 5, 4]
    notes = [n["message"] for n in world.detail("W1011")["notes"]]
    assert any("placeholder item 5" in n and "GIFT-WRAP" in n for n in notes)
    customer = world.state.records["Customer"][sale["customerID"]]
    assert customer["Contact"]["Emails"][0]["address"] == "new.buyer@example.com"


def test_an_unbound_line_is_found_by_its_sku_and_the_shop_follows_the_location(
    world: RetailWorld,
) -> None:
    world.setup(**world.export_settings())  # no import: nothing is bound
    world.order(
        "W1012",
        lines=[{"sku": "AC-CHAIN-11", "quantity": 1, "unit_price": "34.95"}],
        tax="2.27",
        location="outlet",
    )

    world.run("order_export")

    [sale] = world.sales_for("W1012")
    assert sale["shopID"] == 2
    assert sale["SaleLines"][0]["itemID"] == 2  # customSku AC-CHAIN-11


def test_orders_are_not_exported_while_exporting_is_off(world: RetailWorld) -> None:
    world.setup()
    world.order("W1013")
    from hub.core.errors import Refused

    with pytest.raises(Refused, match="order exporting is not enabled"):
        world.hub.queue_job(world.tenant_id, PLUGIN, "order_export")
