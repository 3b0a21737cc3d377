"""Payments and fulfilments recorded after an order was placed (hub-api.md): idempotent by
``reference``, ``balance_due`` and each line's ``fulfilled_quantity`` in the detail, 422 for
more than is open, ``order.updated`` raised."""

from __future__ import annotations

import json

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core.models import WebhookDelivery
from tests.api.conftest import World, order_body

ORDERS = "/api/v1/tenants/acme/orders"


def _unpaid(client: TestClient[Litestar], world: World, number: str = "W2001") -> None:
    body = order_body(number, payments=[{"method": "visa", "amount": "20.00", "captured": True}])
    client.post(ORDERS, headers=world.acme, json=body).raise_for_status()


def _subscribe(client: TestClient[Litestar], world: World) -> None:
    client.post(
        "/api/v1/tenants/acme/webhooks",
        headers=world.acme,
        json={
            "url": "https://shop.example.com/hooks",
            "events": ["order.updated"],
            "secret": "s" * 32,
        },
    ).raise_for_status()


def _reasons(world: World) -> list[str]:
    with world.hub.db.read() as session:
        rows = session.exec(select(WebhookDelivery).where(WebhookDelivery.event == "order.updated"))
        return [json.loads(r.payload)["data"]["reason"] for r in rows]


def test_a_payment_lowers_the_balance_due_and_is_idempotent_by_reference(
    world: World, client: TestClient[Litestar]
) -> None:
    _unpaid(client, world)
    assert client.get(f"{ORDERS}/W2001", headers=world.acme).json()["balance_due"] == "44.10"
    payment = {"method": "visa", "amount": "44.10", "captured": True, "reference": "ch_1"}

    first = client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=payment)
    again = client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=payment)

    assert first.status_code == 201, first.text
    assert first.json()["balance_due"] == "0.00"
    assert again.status_code == 200
    assert len(again.json()["payments"]) == 2  # recorded once
    changed = {**payment, "amount": "1.00"}
    conflict = client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=changed)
    assert conflict.status_code == 409


def test_a_payment_that_makes_the_order_balanced_raises_order_updated_paid(
    world: World, client: TestClient[Litestar]
) -> None:
    _subscribe(client, world)
    _unpaid(client, world)
    for amount, ref in (("20.00", "a"), ("24.10", "b")):
        payment = {"method": "paypal", "amount": amount, "reference": ref}
        client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=payment).raise_for_status()
    assert _reasons(world)[-2:] == ["payment", "paid"]


def test_a_captured_payment_above_the_balance_due_answers_422_and_records_nothing(
    world: World, client: TestClient[Litestar]
) -> None:
    _unpaid(client, world)
    too_much = {"method": "visa", "amount": "50.00", "captured": True}
    response = client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=too_much)
    assert response.status_code == 422
    assert "amount" in response.json()["fields"]
    detail = client.get(f"{ORDERS}/W2001", headers=world.acme).json()
    assert detail["balance_due"] == "44.10" and len(detail["payments"]) == 1
    bad = client.post(
        f"{ORDERS}/W2001/payments", headers=world.acme, json={"method": "visa", "amount": "0.00"}
    )
    assert bad.status_code == 422


def test_an_authorised_payment_does_not_count_toward_the_balance(
    world: World, client: TestClient[Litestar]
) -> None:
    _unpaid(client, world)
    held = {"method": "visa", "amount": "44.10", "captured": False}
    detail = client.post(f"{ORDERS}/W2001/payments", headers=world.acme, json=held).json()
    assert detail["balance_due"] == "44.10"


def test_fulfilments_count_per_line_and_are_idempotent_by_reference(
    world: World, client: TestClient[Litestar]
) -> None:
    _subscribe(client, world)
    client.post(ORDERS, headers=world.acme, json=order_body("W2002")).raise_for_status()
    one = {"source": "supplier", "lines": [{"line_no": 1, "quantity": 1}], "reference": "f1"}

    first = client.post(f"{ORDERS}/W2002/fulfillments", headers=world.acme, json=one)
    again = client.post(f"{ORDERS}/W2002/fulfillments", headers=world.acme, json=one)
    rest = client.post(
        f"{ORDERS}/W2002/fulfillments",
        headers=world.acme,
        json={"source": "store", "lines": [{"sku": "TR-12345", "quantity": 1}]},
    )

    assert first.status_code == 201, first.text
    assert first.json()["lines"][0]["fulfilled_quantity"] == 1
    assert again.status_code == 200
    assert again.json()["lines"][0]["fulfilled_quantity"] == 1
    assert rest.json()["lines"][0]["fulfilled_quantity"] == 2
    assert _reasons(world)[-2:] == ["fulfillment", "fulfilled"]


def test_a_fulfilment_of_more_than_the_open_quantity_answers_422_naming_the_line(
    world: World, client: TestClient[Litestar]
) -> None:
    client.post(ORDERS, headers=world.acme, json=order_body("W2003")).raise_for_status()
    response = client.post(
        f"{ORDERS}/W2003/fulfillments",
        headers=world.acme,
        json={"source": "store", "lines": [{"line_no": 1, "quantity": 3}]},
    )
    assert response.status_code == 422
    assert "lines[0].quantity" in response.json()["fields"]
    unknown = client.post(
        f"{ORDERS}/W2003/fulfillments",
        headers=world.acme,
        json={"source": "store", "lines": [{"sku": "NOPE", "quantity": 1}]},
    )
    assert unknown.status_code == 422
    detail = client.get(f"{ORDERS}/W2003", headers=world.acme).json()
    assert detail["lines"][0]["fulfilled_quantity"] == 0


def test_payments_and_fulfilments_of_an_unknown_order_answer_404(
    world: World, client: TestClient[Litestar]
) -> None:
    payment = {"method": "visa", "amount": "1.00"}
    assert (
        client.post(f"{ORDERS}/NOPE/payments", headers=world.acme, json=payment).status_code == 404
    )
    body = {"source": "store", "lines": [{"line_no": 1, "quantity": 1}]}
    assert (
        client.post(f"{ORDERS}/NOPE/fulfillments", headers=world.acme, json=body).status_code == 404
    )
