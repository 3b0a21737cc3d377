"""The Web Orders endpoints as the DMS uses them (seed 002, lightspeed-dms-web-orders.md)."""

from __future__ import annotations

import base64
import threading
import time

import httpx
import pytest
from litestar.testing import TestClient
from lxml import etree
from sqlmodel import select

from hub.core.hub import Hub
from hub.core.models import OrderExport, WebhookDelivery
from hub.core.webhooks import create_subscription
from hub.serving import serve_in_thread
from plugins.lightspeed_dms.endpoints import THROTTLE
from plugins.lightspeed_dms.weborders.documents import (
    ResponseIssue,
    build_acknowledge_request,
    build_item_action,
    build_shipment,
    build_void,
)
from plugins.lightspeed_dms.weborders.poller import DmsPoller

from .conftest import PASSWORD, add_tenant, dms_app, order_body

BASE = "/dms/acme/LightSpeed"


def auth(username: str = "dms", password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(hub: Hub, tenant_id: int):
    THROTTLE._failures.clear()
    with TestClient(app=dms_app(hub)) as c:
        yield c


def outstanding_ids(client: TestClient) -> list[str]:
    resp = client.get(f"{BASE}/OutstandingActivity", headers=auth())
    assert resp.status_code == 200
    root = etree.fromstring(resp.content)
    return [e.text or "" for e in root.findall("orders/webOrder/orderID")]


def ack(client: TestClient, order_id: str, issues=(), response_type="WEB_ORDER") -> str:
    body = build_acknowledge_request(order_id, response_type, issues=issues)
    resp = client.post(f"{BASE}/AcknowledgeRequest", content=body, headers=auth())
    assert resp.status_code == 200
    return etree.fromstring(resp.content).findtext("responseStatus") or ""


def export_state(hub: Hub, tenant_id: int, number: str) -> str:
    return next(
        e["state"]
        for e in hub.order_detail(tenant_id, number)["exports"]
        if e["plugin_id"] == "lightspeed_dms"
    )


def test_version_discovery_answers_version_1_0(client: TestClient) -> None:
    resp = client.get(BASE, headers=auth())
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/xml")
    assert etree.fromstring(resp.content).findtext("version") == "1.0"


def test_tax_rules_list_the_three_rules(client: TestClient) -> None:
    root = etree.fromstring(client.post(f"{BASE}/TaxRules", headers=auth()).content)
    assert [e.text for e in root.findall("taxRule/taxRuleID")] == ["1", "2", "3"]


def test_outstanding_order_carries_the_supplier_code_and_upper_cased_customer(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1001", first_name="Zoë & <Co>"))
    root = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
    order = root.find("orders/webOrder")
    assert order is not None
    assert order.findtext("orderID") == "W1001"
    assert order.findtext("date") == "2026-11-20 04:00:00.000"  # America/Chicago
    assert order.findtext("shippingCost") == "9.99"
    assert order.findtext("taxAmount") == "4.21"
    billing = order.find("customers/customer[type='BILLING']")
    assert billing is not None
    assert billing.findtext("firstName") == "ZOË & <CO>"
    assert billing.findtext("customerID", "").startswith("G")
    item = order.find("orderItems/orderItem")
    assert item is not None
    assert item.findtext("manufacturerID") == "TR"
    assert item.findtext("manufacturerName") == "Tucker Rocky"
    assert item.findtext("itemNumber") == "12-345"
    assert item.findtext("amount") == "24.95"
    assert order.findtext("payments/payment/type") == "VISA"
    assert root.find("cancellations") is not None


def test_outstanding_lists_at_most_30_oldest_first(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    for i in range(35):
        hub.intake_order(
            tenant_id, order_body(f"W{2000 - i}", placed_at=f"2026-11-20T10:{34 - i:02d}:00Z")
        )
    ids = outstanding_ids(client)
    assert len(ids) == 30
    assert ids[0] == "W1966" and ids[-1] == "W1995"  # the oldest placed first


def test_an_order_is_offered_again_until_acknowledged(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    assert outstanding_ids(client) == ["W1"]
    assert outstanding_ids(client) == ["W1"]
    assert ack(client, "W1") == "SUCCESS"
    assert outstanding_ids(client) == []
    assert export_state(hub, tenant_id, "W1") == "acknowledged"
    assert ack(client, "W1") == "SUCCESS"  # twice is a no-op
    notes = hub.order_detail(tenant_id, "W1")["notes"]
    assert len([n for n in notes if n["source"] == "lightspeed_dms"]) == 0


def test_code_1010_already_imported_counts_as_downloaded(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    status = ack(client, "W1", issues=[ResponseIssue("1010", "Order already imported", "FAILURE")])
    assert status == "SUCCESS"
    assert export_state(hub, tenant_id, "W1") == "acknowledged"
    assert any(n["code"] == "1010" for n in hub.order_detail(tenant_id, "W1")["notes"])


def test_rejected_order_leaves_the_outstanding_list_until_retried(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    issue = ResponseIssue("1301", "Invalid payment type for payment CCSAVE", "FAILURE")
    assert ack(client, "W1", issues=[issue]) == "SUCCESS"
    detail = hub.order_detail(tenant_id, "W1")
    assert detail["exports"][0]["state"] == "rejected"
    assert "Invalid payment type" in detail["exports"][0]["message"]
    assert any(n["code"] == "1301" for n in detail["notes"])
    assert outstanding_ids(client) == []
    hub.retry_export(tenant_id, "W1", "lightspeed_dms", actor="test")
    assert outstanding_ids(client) == ["W1"]


def test_a_failure_after_the_order_was_downloaded_is_answered_failure_and_changes_nothing(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    assert ack(client, "W1") == "SUCCESS"
    issue = ResponseIssue("1301", "Invalid payment type for payment CCSAVE", "FAILURE")
    assert ack(client, "W1", issues=[issue]) == "FAILURE"
    detail = hub.order_detail(tenant_id, "W1")
    assert export_state(hub, tenant_id, "W1") == "acknowledged"
    assert not any(n["code"] == "1301" for n in detail["notes"])


def test_cancellation_after_download_is_listed_until_acknowledged(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    ack(client, "W1")
    hub.cancel_order(tenant_id, "W1", "customer changed their mind", actor="test")
    for _ in range(2):
        root = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
        assert root.findtext("cancellations/webOrderCancellation/orderID") == "W1"
        assert (
            root.findtext("cancellations/webOrderCancellation/comment")
            == "customer changed their mind"
        )
    assert ack(client, "W1", response_type="WEB_ORDER_CANCELLATION") == "SUCCESS"
    root = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
    assert root.find("cancellations/webOrderCancellation") is None


def test_order_canceled_before_download_is_never_offered(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    hub.cancel_order(tenant_id, "W1", "fraud", actor="test")
    root = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
    assert root.find("orders/webOrder") is None
    assert root.find("cancellations/webOrderCancellation") is None


def test_void_cancels_the_order_with_the_reason_as_a_note(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    ack(client, "W1")
    resp = client.post(f"{BASE}/Order/W1", content=build_void("Phone void"), headers=auth())
    assert etree.fromstring(resp.content).findtext("responseStatus") == "SUCCESS"
    detail = hub.order_detail(tenant_id, "W1")
    assert detail["status"] == "canceled"
    assert any("Phone void" in n["message"] for n in detail["notes"])
    assert outstanding_ids(client) == []


def test_partial_then_full_shipment_and_the_same_shipment_twice_is_recorded_once(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    view, _ = hub.intake_order(tenant_id, order_body("W1", qty=2))
    line_id = str(view.lines[0].id)
    ack(client, "W1")
    first = build_shipment(None, "UPS", "GROUND", "1Z001", [(line_id, 1)])
    for _ in range(2):
        resp = client.post(f"{BASE}/Order/W1/Shipment", content=first, headers=auth())
        assert etree.fromstring(resp.content).findtext("responseStatus") == "SUCCESS"
    detail = hub.order_detail(tenant_id, "W1")
    assert detail["status"] == "partially_shipped"
    assert [s["tracking_number"] for s in detail["shipments"]] == ["1Z001"]
    # the second parcel names the part number instead of the line id
    second = build_shipment(None, "UPS", "GROUND", "1Z002", [("12-345", 1)])
    client.post(f"{BASE}/Order/W1/Shipment", content=second, headers=auth())
    detail = hub.order_detail(tenant_id, "W1")
    assert detail["status"] == "shipped"
    assert len(detail["shipments"]) == 2


def test_item_cancel_reduces_the_open_quantity_and_sell_adds_a_note(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    view, _ = hub.intake_order(tenant_id, order_body("W1", qty=2))
    line_id = view.lines[0].id
    resp = client.post(
        f"{BASE}/Order/W1/Item", content=build_item_action("CANCEL", "12-345", 1), headers=auth()
    )
    assert etree.fromstring(resp.content).findtext("responseStatus") == "SUCCESS"
    resp = client.post(
        f"{BASE}/Order/W1/Item/{line_id}",
        content=build_item_action("SELL", str(line_id), 1),
        headers=auth(),
    )
    assert etree.fromstring(resp.content).findtext("responseStatus") == "SUCCESS"
    detail = hub.order_detail(tenant_id, "W1")
    assert detail["lines"][0]["canceled_quantity"] == 1
    assert any("sold" in n["message"] for n in detail["notes"])
    resp = client.post(
        f"{BASE}/Order/W1/Item", content=build_item_action("CANCEL", "NOPE", 1), headers=auth()
    )
    assert etree.fromstring(resp.content).findtext("responseStatus") == "FAILURE"


def test_malformed_xml_answers_failure_and_changes_nothing(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    before = hub.order_detail(tenant_id, "W1")
    for body in (b"<acknowledgeRequest><id>W1</id>", b"not xml", b"<other/>", b""):
        resp = client.post(f"{BASE}/AcknowledgeRequest", content=body, headers=auth())
        root = etree.fromstring(resp.content)
        assert resp.status_code == 200
        assert root.findtext("responseStatus") == "FAILURE"
        assert root.findtext("responseMessage")
    resp = client.post(
        f"{BASE}/AcknowledgeRequest", content=build_acknowledge_request("NOPE"), headers=auth()
    )
    assert "unknown order" in (etree.fromstring(resp.content).findtext("responseMessage") or "")
    after = hub.order_detail(tenant_id, "W1")
    assert after["exports"] == before["exports"] and after["notes"] == before["notes"]


def test_entity_expansion_and_external_entities_are_refused_without_expansion(
    client: TestClient,
) -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<acknowledgeRequest><id>&lol2;</id></acknowledgeRequest>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<acknowledgeRequest><id>&xxe;</id></acknowledgeRequest>"
    )
    for body in (laughs, external):
        resp = client.post(f"{BASE}/AcknowledgeRequest", content=body, headers=auth())
        assert resp.status_code == 200
        assert etree.fromstring(resp.content).findtext("responseStatus") == "FAILURE"
        assert b"lollol" not in resp.content and b"root:" not in resp.content


def test_a_body_over_1_mib_gets_413(client: TestClient) -> None:
    body = b"<acknowledgeRequest>" + b" " * (1_048_576 + 10) + b"</acknowledgeRequest>"
    resp = client.post(f"{BASE}/AcknowledgeRequest", content=body, headers=auth())
    assert resp.status_code == 413


def test_a_wrong_password_gets_401_and_repeated_failures_are_throttled(client: TestClient) -> None:
    resp = client.get(f"{BASE}/OutstandingActivity", headers=auth(password="wrong"))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Basic")
    assert client.get(f"{BASE}/OutstandingActivity").status_code == 401
    codes = [
        client.get(f"{BASE}/OutstandingActivity", headers=auth(password="x")).status_code
        for _ in range(12)
    ]
    assert codes[-1] == 429
    blocked = client.get(f"{BASE}/OutstandingActivity", headers=auth())
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_machine_address_mismatch_gets_403(hub: Hub) -> None:
    THROTTLE._failures.clear()
    add_tenant(hub, "pinned", machine_addresses=["00:1A:2B:3C:4D:5E"])
    with TestClient(app=dms_app(hub)) as client:
        url = "/dms/pinned/LightSpeed/OutstandingActivity"
        assert client.get(url, headers=auth()).status_code == 403
        assert (
            client.get(
                url, headers={**auth(), "X-Machine-Address": "00-1a-2b-3c-4d-5f"}
            ).status_code
            == 403
        )
        assert (
            client.get(
                url, headers={**auth(), "X-Machine-Address": "00-1a-2b-3c-4d-5e"}
            ).status_code
            == 200
        )


def test_ip_allow_list_refuses_other_addresses(hub: Hub) -> None:
    THROTTLE._failures.clear()
    add_tenant(hub, "walled", allowed_ips=["10.0.0.0/8"])
    with TestClient(app=dms_app(hub)) as client:
        assert client.get("/dms/walled/LightSpeed", headers=auth()).status_code == 403


def test_a_tenants_credentials_never_open_another_tenants_feed(hub: Hub, tenant_id: int) -> None:
    THROTTLE._failures.clear()
    other = add_tenant(hub, "other", username="dms2", password="other-password")
    hub.intake_order(other, order_body("SECRET-1"))
    with TestClient(app=dms_app(hub)) as client:
        resp = client.get("/dms/other/LightSpeed/OutstandingActivity", headers=auth())
        assert resp.status_code == 401
        assert b"SECRET-1" not in resp.content
        mine = client.get(f"{BASE}/OutstandingActivity", headers=auth())
        assert b"SECRET-1" not in mine.content


def test_each_change_raises_order_updated(hub: Hub, tenant_id: int, client: TestClient) -> None:
    with hub.db.session() as session:
        create_subscription(
            session,
            hub.box,
            tenant_id,
            "http://127.0.0.1:9/hook",
            ["order.updated"],
            "0123456789abcdef",
            settings=hub.settings,
        )
    hub.intake_order(tenant_id, order_body("W1"))
    ack(client, "W1")
    with hub.db.read() as session:
        reasons = [d.payload for d in session.exec(select(WebhookDelivery))]
    assert any('"reason":"lightspeed_dms: acknowledged"' in r for r in reasons)


def test_two_concurrent_pollers_acknowledge_every_order_once(hub: Hub, tenant_id: int) -> None:
    for i in range(60):
        hub.intake_order(
            tenant_id, order_body(f"W{3000 + i}", placed_at=f"2026-11-20T11:{i:02d}:00Z")
        )
    with serve_in_thread(dms_app(hub)) as server:
        url = f"{server.url}{BASE}"
        reports: list = []

        def poll(seed: int) -> None:
            with DmsPoller(url, "dms", PASSWORD, seed=seed) as poller:
                reports.extend(
                    poller.run(0.0, max_polls=10, until_empty=True, sleep=lambda s: None)
                )

        threads = [threading.Thread(target=poll, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    with hub.db.read() as session:
        exports = list(session.exec(select(OrderExport)))
    assert len(exports) == 60
    assert {e.state for e in exports} == {"acknowledged"}
    assert not any(r.errors for r in reports)
    # acknowledged once each: one "acknowledged" change per order
    with hub.db.read() as session:
        assert all(e.acknowledged_at is not None for e in session.exec(select(OrderExport)))


def test_the_sandbox_poller_downloads_rejects_and_ships(hub: Hub, tenant_id: int) -> None:
    for i in range(10):
        hub.intake_order(
            tenant_id, order_body(f"W{4000 + i}", placed_at=f"2026-11-20T12:{i:02d}:00Z")
        )
    with (
        serve_in_thread(dms_app(hub)) as server,
        DmsPoller(
            f"{server.url}{BASE}", "dms", PASSWORD, reject_rate=0.3, ship=True, seed=7
        ) as poller,
    ):
        assert poller.discover() == ["1.0"]
        reports = poller.run(0.0, max_polls=5, until_empty=True, sleep=lambda s: None)
    rejected = {o for r in reports for o in r.rejected}
    shipped = {o for r in reports for o in r.shipped}
    assert rejected and shipped
    for number in rejected:
        assert export_state(hub, tenant_id, number) == "rejected"
    for number in shipped:
        assert hub.order_detail(tenant_id, number)["status"] == "shipped"


def test_garbage_credentials_header_is_a_clean_401(client: TestClient) -> None:
    for header in ("Basic !!!", "Bearer x", "Basic " + base64.b64encode(b"nocolon").decode()):
        assert client.get(BASE, headers={"Authorization": header}).status_code == 401


def test_http_client_against_real_server_gets_xml_content_type(hub: Hub, tenant_id: int) -> None:
    with serve_in_thread(dms_app(hub)) as server:
        resp = httpx.get(f"{server.url}{BASE}", auth=("dms", PASSWORD))
    assert resp.headers["content-type"] == "application/xml; charset=utf-8"


# The install's config as add_tenant stores it (a PUT replaces the whole config; secrets
# left out are kept).
DMS_CONFIG = {
    "web_orders_enabled": True,
    "web_orders_username": "dms",
    "supplier_codes": [{"catalog": "aftermarket", "supplier_code": "TR", "brand": "Tucker Rocky"}],
}


def test_a_new_password_takes_effect_on_the_next_request(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    assert client.get(f"{BASE}/OutstandingActivity", headers=auth()).status_code == 200
    hub.configure_install(
        tenant_id,
        "lightspeed_dms",
        enabled=True,
        actor="test",
        config={**DMS_CONFIG, "web_orders_password": "a-new-password"},
    )
    assert client.get(f"{BASE}/OutstandingActivity", headers=auth()).status_code == 401
    fresh = auth(password="a-new-password")
    assert client.get(f"{BASE}/OutstandingActivity", headers=fresh).status_code == 200


def test_disabling_the_install_closes_the_feed_at_once(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    assert outstanding_ids(client) == ["W1"]
    hub.configure_install(tenant_id, "lightspeed_dms", enabled=False, actor="test", config={})
    assert client.get(f"{BASE}/OutstandingActivity", headers=auth()).status_code == 401


def test_a_changed_supplier_mapping_rebuilds_the_outstanding_document(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    before = client.get(f"{BASE}/OutstandingActivity", headers=auth()).content
    assert b"<manufacturerID>TR</manufacturerID>" in before
    hub.configure_install(
        tenant_id,
        "lightspeed_dms",
        enabled=True,
        actor="test",
        config={
            **DMS_CONFIG,
            "supplier_codes": [
                {"catalog": "aftermarket", "supplier_code": "TRK", "brand": "Tucker Rocky"}
            ],
        },
    )
    after = client.get(f"{BASE}/OutstandingActivity", headers=auth()).content
    assert b"<manufacturerID>TRK</manufacturerID>" in after


def test_a_repeated_acknowledgement_records_its_notes_once(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    issue = ResponseIssue("1010", "Order already imported", "FAILURE")
    assert ack(client, "W1", issues=[issue]) == "SUCCESS"
    assert ack(client, "W1", issues=[issue]) == "SUCCESS"
    notes = [n for n in hub.order_detail(tenant_id, "W1")["notes"] if n["code"] == "1010"]
    assert len(notes) == 1


def test_acknowledging_an_unknown_order_answers_failure_naming_it(client: TestClient) -> None:
    assert ack(client, "NOPE-1") == "FAILURE"


def test_the_feed_keeps_answering_while_a_long_write_holds_the_database(
    hub: Hub, tenant_id: int
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    hub.intake_order(tenant_id, order_body("W2", placed_at="2026-11-20T11:00:00Z"))
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:  # e.g. an inventory sync applying a large batch
        with hub.db.session():
            holding.set()
            release.wait(30)

    with serve_in_thread(dms_app(hub)) as server, httpx.Client(auth=("dms", PASSWORD)) as http:
        url = f"{server.url}{BASE}"
        assert http.get(f"{url}/OutstandingActivity").status_code == 200  # W1, W2 offered
        writer = threading.Thread(target=long_write)
        writer.start()
        holding.wait(10)
        acked: list[httpx.Response] = []
        ack_thread = threading.Thread(
            target=lambda: acked.append(
                http.post(
                    f"{url}/AcknowledgeRequest",
                    content=build_acknowledge_request("W1", "WEB_ORDER"),
                )
            )
        )
        ack_thread.start()
        try:
            time.sleep(0.3)
            assert not acked  # the acknowledgement waits for the writer, in a worker thread
            with httpx.Client(auth=("dms", PASSWORD), timeout=5) as other:
                poll = other.get(f"{url}/OutstandingActivity")  # the loop is not blocked
            assert poll.status_code == 200 and b"<orderID>W2</orderID>" in poll.content
        finally:
            release.set()
            writer.join()
            ack_thread.join(30)
    assert acked and b"SUCCESS" in acked[0].content
    assert export_state(hub, tenant_id, "W1") == "acknowledged"


def test_a_changed_tenant_time_zone_rebuilds_the_outstanding_document(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    from hub.core import tenants
    from hub.core.models import Tenant

    hub.intake_order(tenant_id, order_body("W1", placed_at="2026-11-20T10:00:00Z"))
    before = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
    assert before.findtext("orders/webOrder/date") == "2026-11-20 04:00:00.000"  # Chicago
    with hub.db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        tenants.update_tenant(session, tenant, {"timezone": "Asia/Tokyo"})
    after = etree.fromstring(client.get(f"{BASE}/OutstandingActivity", headers=auth()).content)
    assert after.findtext("orders/webOrder/date") == "2026-11-20 19:00:00.000"


def test_a_repeated_cancellation_acknowledgement_records_its_notes_once(
    hub: Hub, tenant_id: int, client: TestClient
) -> None:
    hub.intake_order(tenant_id, order_body("W1"))
    ack(client, "W1")
    hub.cancel_order(tenant_id, "W1", "customer changed their mind", actor="test")
    issues = [
        ResponseIssue("7001", "first", "WARNING"),
        ResponseIssue("7002", "second", "WARNING"),
    ]
    for _ in range(2):
        assert ack(client, "W1", issues=issues, response_type="WEB_ORDER_CANCELLATION") == "SUCCESS"
    codes = [n["code"] for n in hub.order_detail(tenant_id, "W1")["notes"] if n["code"]]
    assert sorted(codes) == ["7001", "7002"]
