"""Orders: idempotent create, totals, list, detail with exports, cancel and export retry."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core import exports, orders
from hub.core.models import PluginInstall
from tests.api.conftest import PLUGIN_ID, World, order_body

ORDERS = "/api/v1/tenants/acme/orders"


def test_same_order_twice_answers_201_then_200_and_a_different_body_409(
    world: World, client: TestClient[Litestar]
) -> None:
    created = client.post(ORDERS, headers=world.acme, json=order_body())
    assert created.status_code == 201
    again = client.post(ORDERS, headers=world.acme, json=order_body())
    assert again.status_code == 200
    assert again.json() == created.json()
    different = client.post(
        ORDERS, headers=world.acme, json=order_body(comment="leave at the door")
    )
    assert different.status_code == 409
    assert different.json()["error"] == "conflict"


def test_totals_that_do_not_add_up_answer_422_naming_total(
    world: World, client: TestClient[Litestar]
) -> None:
    response = client.post(ORDERS, headers=world.acme, json=order_body(total="70.00"))
    assert response.status_code == 422
    assert "total" in response.json()["fields"]
    response = client.post(ORDERS, headers=world.acme, json=order_body(tax="4.211"))
    assert response.status_code == 422
    assert "tax" in response.json()["fields"]


def test_order_detail_shows_lines_notes_shipments_and_exports(
    world: World, client: TestClient[Litestar]
) -> None:
    client.put(
        f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}",
        headers=world.acme,
        json={"enabled": True, "config": {}},
    ).raise_for_status()
    detail = client.post(ORDERS, headers=world.acme, json=order_body()).json()
    assert detail["total"] == "64.10"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in detail["lines"]] == [
        ("TR-12345", 2, "24.95")
    ]
    assert detail["notes"] == [] and detail["shipments"] == []
    assert detail["exports"] == [
        {
            **detail["exports"][0],
            "plugin_id": PLUGIN_ID,
            "state": "pending",
            "external_ref": "",
            "message": "",
        }
    ]
    assert client.get(f"{ORDERS}/W1001", headers=world.acme).json() == detail
    assert client.get(f"{ORDERS}/W404", headers=world.acme).status_code == 404


def test_orders_list_newest_first_filtered_and_paged(
    world: World, client: TestClient[Litestar]
) -> None:
    for n in range(3):
        client.post(ORDERS, headers=world.acme, json=order_body(f"W{n}")).raise_for_status()
    client.post(
        f"{ORDERS}/W1/cancel", headers=world.acme, json={"reason": "test"}
    ).raise_for_status()
    page = client.get(f"{ORDERS}?limit=2", headers=world.acme).json()
    assert [o["number"] for o in page["items"]] == ["W2", "W1"]
    rest = client.get(f"{ORDERS}?limit=2&cursor={page['next_cursor']}", headers=world.acme).json()
    assert [o["number"] for o in rest["items"]] == ["W0"] and rest["next_cursor"] is None
    canceled = client.get(f"{ORDERS}?status=canceled", headers=world.acme).json()["items"]
    assert [o["number"] for o in canceled] == ["W1"]


def test_cancel_records_the_reason_and_an_audit_entry(
    world: World, client: TestClient[Litestar]
) -> None:
    client.post(ORDERS, headers=world.acme, json=order_body()).raise_for_status()
    response = client.post(
        f"{ORDERS}/W1001/cancel", headers=world.acme, json={"reason": "customer asked"}
    )
    assert response.status_code == 200
    detail = response.json()
    assert detail["status"] == "canceled"
    assert detail["cancel_reason"] == "customer asked"
    assert detail["notes"][0]["message"] == "Canceled: customer asked"
    audit = client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    assert (audit[0]["action"], audit[0]["target"]) == ("order.canceled", "W1001")


def test_cancel_of_a_shipped_order_answers_409(world: World, client: TestClient[Litestar]) -> None:
    client.post(ORDERS, headers=world.acme, json=order_body()).raise_for_status()
    with world.hub.db.session() as session:
        order = orders.find_order(session, world.acme_id, "W1001")
        line = orders.order_lines(session, order.id or 0)[0]
        orders.record_shipment(
            session,
            order,
            carrier="UPS",
            method="GROUND",
            tracking_number="1Z",
            items=[(line.id or 0, 2)],
        )
    response = client.post(f"{ORDERS}/W1001/cancel", headers=world.acme, json={"reason": "late"})
    assert response.status_code == 409
    shipments = client.get(f"{ORDERS}/W1001", headers=world.acme).json()["shipments"]
    assert shipments[0]["tracking_number"] == "1Z"


def test_rejected_export_goes_back_to_pending_on_retry(
    world: World, client: TestClient[Litestar]
) -> None:
    client.put(
        f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}",
        headers=world.acme,
        json={"enabled": True, "config": {}},
    ).raise_for_status()
    client.post(ORDERS, headers=world.acme, json=order_body()).raise_for_status()
    retry = f"{ORDERS}/W1001/exports/{PLUGIN_ID}/retry"
    assert client.post(retry, headers=world.acme).status_code == 409  # still pending
    with world.hub.db.session() as session:
        install = session.exec(select(PluginInstall)).one()
        order = orders.find_order(session, world.acme_id, "W1001")
        exports.reject(session, order, install.id or 0, "Unknown part")
    rejected = client.get(f"{ORDERS}/W1001", headers=world.acme).json()["exports"][0]
    assert (rejected["state"], rejected["message"]) == ("rejected", "Unknown part")
    response = client.post(retry, headers=world.acme)
    assert response.status_code == 200
    assert response.json()["exports"][0]["state"] == "pending"
    assert client.post(f"{ORDERS}/W1001/exports/other/retry", headers=world.acme).status_code == 404


def test_the_order_detail_read_by_number_matches_the_detail_after_a_write(
    world: World, client: TestClient[Litestar]
) -> None:
    from hub.core.orders import order_detail_by_number

    client.put(
        f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}",
        headers=world.acme,
        json={"enabled": True, "config": {}},
    ).raise_for_status()
    client.post(ORDERS, headers=world.acme, json=order_body()).raise_for_status()
    with world.hub.db.session() as session:
        install = session.exec(select(PluginInstall)).one()
        order = orders.find_order(session, world.acme_id, "W1001")
        exports.acknowledge(session, order, install.id or 0, external_ref="S-1")
        line = orders.order_lines(session, order.id or 0)[0]
        orders.record_shipment(
            session,
            order,
            carrier="UPS",
            method="GROUND",
            tracking_number="1Z",
            items=[(line.id or 0, 1)],
        )
        orders.cancel_order(session, order, "rest not needed")
    with world.hub.db.read() as session:
        fast = order_detail_by_number(session.connection(), world.acme_id, "W1001")
    core = world.hub.order_detail(world.acme_id, "W1001")
    assert fast == core
    assert core["exports"][0]["cancellation"] == "pending"
    assert core["shipments"] and core["notes"]
