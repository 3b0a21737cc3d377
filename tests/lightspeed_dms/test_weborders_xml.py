"""The Web Orders XML layer: documents exactly as the spec writes them, and hostile XML refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from plugins.lightspeed_dms.weborders.documents import (
    DmsCancellation,
    DmsCustomer,
    DmsOrderItem,
    DmsPayment,
    DmsWebOrder,
    DocumentError,
    ResponseIssue,
    ShipmentItem,
    build_ack_response,
    build_acknowledge_request,
    build_item_action,
    build_outstanding_activity,
    build_shipment,
    build_tax_rules,
    build_versions,
    build_void,
    parse_ack_response,
    parse_acknowledge_request,
    parse_item_action,
    parse_outstanding_activity,
    parse_shipment,
    parse_versions,
    parse_void,
)
from plugins.lightspeed_dms.weborders.mapping import (
    DEFAULT_PAYMENT_TYPE_MAP,
    DMS_PAYMENT_TYPES,
    format_dms_datetime,
    format_money,
    guest_customer_id,
    map_payment_type,
    normalise_machine_address,
    parse_dms_datetime,
    upper_customer,
)
from plugins.lightspeed_dms.weborders.xmlsafe import (
    WebOrdersXmlError,
    XmlRejected,
    XmlTooLarge,
    parse_xml,
)

CHICAGO = ZoneInfo("America/Chicago")

CUSTOMER_ELEMENTS = [
    "type",
    "customerID",
    "prefixName",
    "firstName",
    "middleName",
    "lastName",
    "suffixName",
    "companyName",
    "address1",
    "address2",
    "city",
    "state",
    "county",
    "country",
    "zipCode",
    "phone",
    "workPhone",
    "email",
]
WEB_ORDER_ELEMENTS = [
    "orderID",
    "date",
    "shippingCost",
    "shippingVendor",
    "shippingMethod",
    "comment",
    "taxRuleID",
    "taxAmount",
    "customers",
    "payments",
    "orderItems",
]
ORDER_ITEM_ELEMENTS = [
    "itemID",
    "manufacturerID",
    "manufacturerName",
    "itemNumber",
    "description",
    "quantity",
    "amount",
]


def children(element: etree._Element) -> list[str]:
    return [child.tag for child in element]


def billing(**changes: str) -> DmsCustomer:
    fields = dict(
        type="BILLING",
        customer_id="C42",
        first_name="Jane",
        last_name="Rider",
        address1="1 Main St",
        city="Chicago",
        state="IL",
        country="US",
        zip_code="60601",
        phone="3125550100",
        email="jane@example.com",
    )
    fields.update(changes)
    return DmsCustomer(**fields)


def full_order(**changes: object) -> DmsWebOrder:
    fields: dict[str, object] = dict(
        order_id="W1001",
        date=datetime(2026, 11, 20, 16, 0, 0, 123456, tzinfo=UTC),
        shipping_cost=Decimal("9.99"),
        shipping_vendor="UPS",
        shipping_method="GROUND",
        comment="Leave at the back door",
        tax_rule_id=1,
        tax_amount=Decimal("4.21"),
        customers=(billing(), billing(type="SHIPPING", phone="", email="")),
        payments=(DmsPayment("VISA", Decimal("64.10")),),
        items=(
            DmsOrderItem("17", "TR", "Tucker Rocky", "1234-567", "Brake pads", 2, Decimal("24.95")),
        ),
    )
    fields.update(changes)
    return DmsWebOrder(**fields)  # type: ignore[arg-type]


def outstanding(orders=(), cancellations=(), tz=CHICAGO) -> etree._Element:
    return etree.fromstring(build_outstanding_activity(orders, cancellations, tz))


# --- OutstandingActivity --------------------------------------------------------------------


def test_full_order_xml_matches_the_spec_element_by_element() -> None:
    body = build_outstanding_activity([full_order()], [], CHICAGO)
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(body)
    assert root.tag == "outstandingActivityResponse"
    assert children(root) == ["orders", "cancellations"]
    (order,) = root.xpath("/outstandingActivityResponse/orders/webOrder")
    assert children(order) == WEB_ORDER_ELEMENTS
    assert order.xpath("string(orderID)") == "W1001"
    assert order.xpath("string(date)") == "2026-11-20 10:00:00.123"  # CST = UTC-6
    assert order.xpath("string(shippingCost)") == "9.99"
    assert order.xpath("string(shippingVendor)") == "UPS"
    assert order.xpath("string(shippingMethod)") == "GROUND"
    assert order.xpath("string(comment)") == "Leave at the back door"
    assert order.xpath("string(taxRuleID)") == "1"
    assert order.xpath("string(taxAmount)") == "4.21"

    customers = order.xpath("customers/customer")
    assert [c.xpath("string(type)") for c in customers] == ["BILLING", "SHIPPING"]
    for customer in customers:
        assert children(customer) == CUSTOMER_ELEMENTS
    bill = customers[0]
    assert bill.xpath("string(customerID)") == "C42"
    assert bill.xpath("string(firstName)") == "Jane"
    assert bill.xpath("string(lastName)") == "Rider"
    assert bill.xpath("string(zipCode)") == "60601"
    assert bill.xpath("string(email)") == "jane@example.com"
    # Empty values are written as empty elements, never left out.
    assert bill.find("middleName") is not None and not bill.find("middleName").text
    assert customers[1].find("email") is not None and not customers[1].find("email").text

    (payment,) = order.xpath("payments/payment")
    assert children(payment) == ["type", "amount"]
    assert payment.xpath("string(type)") == "VISA"
    assert payment.xpath("string(amount)") == "64.10"

    (item,) = order.xpath("orderItems/orderItem")
    assert children(item) == ORDER_ITEM_ELEMENTS
    assert [child.text for child in item] == [
        "17",
        "TR",
        "Tucker Rocky",
        "1234-567",
        "Brake pads",
        "2",
        "24.95",
    ]


def test_order_without_values_still_writes_every_element() -> None:
    order = DmsWebOrder(order_id="W1", date=datetime(2026, 1, 5, 12, tzinfo=UTC))
    (element,) = outstanding([order]).xpath("orders/webOrder")
    assert children(element) == WEB_ORDER_ELEMENTS
    assert element.findtext("shippingCost") == "0.00"
    assert element.findtext("taxAmount") == "0.00"
    assert element.find("comment") is not None and element.find("comment").text is None
    assert children(element.find("customers")) == []


def test_empty_containers_are_present() -> None:
    root = outstanding()
    assert children(root) == ["orders", "cancellations"]
    assert len(root.find("orders")) == 0
    assert len(root.find("cancellations")) == 0
    assert parse_outstanding_activity(etree.tostring(root)) == ([], [])


def test_cancellation_element_lists_order_id_date_and_comment() -> None:
    cancellation = DmsCancellation(
        "W0990", datetime(2026, 7, 4, 15, 30, tzinfo=UTC), "Out of stock"
    )
    root = outstanding(cancellations=[cancellation])
    (element,) = root.xpath("cancellations/webOrderCancellation")
    assert children(element) == ["orderID", "date", "comment"]
    assert element.findtext("orderID") == "W0990"
    assert element.findtext("date") == "2026-07-04 10:30:00.000"  # CDT = UTC-5
    assert element.findtext("comment") == "Out of stock"


def test_dates_are_written_in_the_tenant_time_zone_across_dst() -> None:
    winter = datetime(2026, 1, 15, 18, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
    assert format_dms_datetime(winter, CHICAGO) == "2026-01-15 12:00:00.000"
    assert format_dms_datetime(summer, CHICAGO) == "2026-07-15 13:00:00.000"
    # 2026-03-08 08:30 UTC is 02:30 CST, which does not exist: Chicago has jumped to 03:30 CDT.
    assert format_dms_datetime(datetime(2026, 3, 8, 8, 30, tzinfo=UTC), CHICAGO) == (
        "2026-03-08 03:30:00.000"
    )
    # Naive values are hub-stored UTC.
    assert format_dms_datetime(datetime(2026, 1, 15, 18, 0), CHICAGO) == "2026-01-15 12:00:00.000"
    order = full_order(date=summer)
    assert outstanding([order]).xpath("string(orders/webOrder/date)") == "2026-07-15 13:00:00.000"


def test_milliseconds_are_truncated_not_rounded() -> None:
    moment = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=CHICAGO)
    assert format_dms_datetime(moment, CHICAGO) == "2026-12-31 23:59:59.999"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("9.995"), "10.00"),
        (Decimal("0.125"), "0.13"),
        (Decimal("2.5"), "2.50"),
        (Decimal("-0.001"), "0.00"),
        (7, "7.00"),
        ("1234567.891", "1234567.89"),
        (None, ""),
    ],
)
def test_money_has_two_decimals_rounded_half_up(amount, text) -> None:
    assert format_money(amount) == text


def test_money_in_the_document_is_rounded_half_up() -> None:
    order = full_order(
        shipping_cost=Decimal("4.005"),
        tax_amount=Decimal("1.115"),
        payments=(DmsPayment("VISA", Decimal("64.1")),),
    )
    element = outstanding([order]).find("orders/webOrder")
    assert element.findtext("shippingCost") == "4.01"
    assert element.findtext("taxAmount") == "1.12"
    assert element.findtext("payments/payment/amount") == "64.10"


def test_special_characters_and_non_ascii_names_round_trip() -> None:
    tricky = billing(
        first_name="Zoë & <Ann>",
        last_name='O\'Brien "Bo" Ångström',
        company_name="Bikes & Co <Ltd>",
        address1="Straße 1 ]]> 東京",
    )
    order = full_order(customers=(tricky,), comment='Say "hi" & <ring> twice', order_id="W&1<2>")
    body = build_outstanding_activity([order], [], CHICAGO)
    assert b"&amp;" in body and b"&lt;" in body
    assert "Ångström".encode() in body  # UTF-8, not character references
    (parsed,), _ = parse_outstanding_activity(body)
    assert parsed.order_id == "W&1<2>"
    assert parsed.comment == 'Say "hi" & <ring> twice'
    assert parsed.customers[0].first_name == "Zoë & <Ann>"
    assert parsed.customers[0].last_name == 'O\'Brien "Bo" Ångström'
    assert parsed.customers[0].company_name == "Bikes & Co <Ltd>"
    assert parsed.customers[0].address1 == "Straße 1 ]]> 東京"


def test_control_characters_are_dropped_instead_of_failing_the_order() -> None:
    order = full_order(comment="line\x0bbreak\x00", customers=(billing(city="Chi\x1bcago"),))
    (parsed,), _ = parse_outstanding_activity(build_outstanding_activity([order], [], CHICAGO))
    assert parsed.comment == "linebreak"
    assert parsed.customers[0].city == "Chicago"


def test_outstanding_activity_round_trips_through_the_parser() -> None:
    order = full_order()
    cancellation = DmsCancellation("W0990", datetime(2026, 11, 20, 16, 5, tzinfo=UTC), "Fraud")
    orders, cancellations = parse_outstanding_activity(
        build_outstanding_activity([order], [cancellation], CHICAGO), tz=CHICAGO
    )
    (parsed,) = orders
    assert parsed.date == datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=CHICAGO)
    assert parsed.customers == order.customers
    assert parsed.payments == order.payments
    assert parsed.items == order.items
    assert (parsed.shipping_cost, parsed.tax_amount, parsed.tax_rule_id) == (
        Decimal("9.99"),
        Decimal("4.21"),
        1,
    )
    assert cancellations == [
        DmsCancellation("W0990", datetime(2026, 11, 20, 10, 5, tzinfo=CHICAGO), "Fraud")
    ]


def test_outstanding_reader_accepts_order_id_spelled_orderId() -> None:
    body = (
        b"<outstandingActivityResponse><orders/><cancellations><webOrderCancellation>"
        b"<orderId>W0990</orderId><date>2026-11-20 10:00:00.000</date><comment/>"
        b"</webOrderCancellation></cancellations></outstandingActivityResponse>"
    )
    _, (cancellation,) = parse_outstanding_activity(body)
    assert cancellation.order_id == "W0990"
    assert cancellation.date == datetime(2026, 11, 20, 10, 0)


# --- small documents ------------------------------------------------------------------------


def test_versions_document() -> None:
    body = build_versions()
    assert etree.tostring(etree.fromstring(body)) == b"<versions><version>1.0</version></versions>"
    assert parse_versions(body) == ["1.0"]


def test_tax_rules_document_lists_taxable_non_taxable_and_exempt() -> None:
    root = etree.fromstring(build_tax_rules())
    assert root.tag == "taxRules"
    rules = [(rule.findtext("taxRuleID"), rule.findtext("description")) for rule in root]
    assert rules == [
        ("1", "Customer - Taxable"),
        ("2", "Customer - Non Taxable"),
        ("3", "Customer - Tax Exempt"),
    ]
    assert all(children(rule) == ["taxRuleID", "description"] for rule in root)


def test_ack_response_success_and_failure() -> None:
    success = etree.fromstring(build_ack_response(True))
    assert etree.tostring(success) == (
        b"<acknowledgeResponse><responseStatus>SUCCESS</responseStatus></acknowledgeResponse>"
    )
    failure = etree.fromstring(build_ack_response(False, "unknown order W9 & co"))
    assert children(failure) == ["responseStatus", "responseMessage"]
    assert failure.findtext("responseStatus") == "FAILURE"
    assert failure.findtext("responseMessage") == "unknown order W9 & co"
    answer = parse_ack_response(build_ack_response(False, "why"))
    assert (answer.success, answer.message) == (False, "why")


# --- AcknowledgeRequest ---------------------------------------------------------------------


def test_acknowledge_request_without_issues_is_a_success() -> None:
    body = build_acknowledge_request("W1001", "WEB_ORDER", datetime(2026, 11, 20, 10, 5, 0, 669000))
    assert b"<date>2026-11-20 10:05:00.669</date>" in body
    request = parse_acknowledge_request(body)
    assert request.id == "W1001"
    assert request.response_type == "WEB_ORDER"
    assert request.date == datetime(2026, 11, 20, 10, 5, 0, 669000)
    assert request.issues == ()
    assert not request.failed and not request.already_imported


def test_acknowledge_request_from_the_spec_is_a_failure() -> None:
    body = b"""<acknowledgeRequest>
      <id>W1001</id><responseType>WEB_ORDER</responseType><date>2026-11-20 10:05:00.669</date>
      <responseIssues>
        <responseIssue><code>1301</code><message>Invalid payment type for payment CCSAVE</message>
          <responseStatus>FAILURE</responseStatus></responseIssue>
      </responseIssues>
    </acknowledgeRequest>"""
    request = parse_acknowledge_request(body)
    assert request.issues == (
        ResponseIssue("1301", "Invalid payment type for payment CCSAVE", "FAILURE"),
    )
    assert request.failed
    assert request.failure_issues == request.issues
    assert not request.already_imported


def test_already_imported_code_counts_as_downloaded_not_failed() -> None:
    issue = ResponseIssue("1010", "Order already imported", "FAILURE")
    request = parse_acknowledge_request(build_acknowledge_request("W1", issues=[issue]))
    assert request.already_imported
    assert not request.failed


def test_warning_issues_do_not_fail_the_order() -> None:
    issue = ResponseIssue("2001", "Customer matched by e-mail", "WARNING")
    request = parse_acknowledge_request(build_acknowledge_request("W1", issues=[issue]))
    assert request.issues == (issue,)
    assert not request.failed


def test_cancellation_acknowledgement_and_orderId_spelling_are_accepted() -> None:
    body = (
        b"<acknowledgeRequest><orderId>W0990</orderId>"
        b"<responseType>web_order_cancellation</responseType><extra>ignored</extra>"
        b"</acknowledgeRequest>"
    )
    request = parse_acknowledge_request(body)
    assert (request.id, request.response_type, request.date) == (
        "W0990",
        "WEB_ORDER_CANCELLATION",
        None,
    )
    assert parse_acknowledge_request(body.replace(b"orderId", b"orderID")).id == "W0990"


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (b"<acknowledgeRequest><responseType>WEB_ORDER</responseType></acknowledgeRequest>", "id"),
        (
            b"<acknowledgeRequest><id> </id><responseType>WEB_ORDER</responseType></acknowledgeRequest>",
            "id",
        ),
        (b"<acknowledgeRequest><id>W1</id></acknowledgeRequest>", "responseType"),
        (
            b"<acknowledgeRequest><id>W1</id><responseType>ORDER</responseType></acknowledgeRequest>",
            "responseType",
        ),
        (
            b"<acknowledgeRequest><id>W1</id><responseType>WEB_ORDER</responseType><date>yesterday</date></acknowledgeRequest>",
            "date",
        ),
    ],
)
def test_acknowledge_request_with_a_missing_or_bad_element_names_it(body, element) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_acknowledge_request(body)
    assert f"<{element}>" in str(caught.value)
    assert caught.value.element == f"acknowledgeRequest/{element}"


def test_a_document_with_the_wrong_root_is_refused() -> None:
    with pytest.raises(
        DocumentError, match="expected a <acknowledgeRequest> document, got <shipment>"
    ):
        parse_acknowledge_request(build_shipment(None, "UPS", "GROUND", "1Z1", [("1", 1)]))


# --- Shipment, item action, void ------------------------------------------------------------


def test_shipment_from_the_spec_is_read() -> None:
    body = b"""<shipment><date>2026-11-21 12:37:52.811</date><shipmentCarrier>UPS</shipmentCarrier>
      <shipmentMethod>GROUND</shipmentMethod><trackingNumber>1Z999</trackingNumber>
      <items><item><itemID>17</itemID><quantity>1</quantity></item>
             <item><itemID>1234-567</itemID><quantity>2.000</quantity></item></items>
    </shipment>"""
    shipment = parse_shipment(body)
    assert shipment.date == datetime(2026, 11, 21, 12, 37, 52, 811000)
    assert (shipment.carrier, shipment.method, shipment.tracking_number) == (
        "UPS",
        "GROUND",
        "1Z999",
    )
    assert shipment.items == (ShipmentItem("17", 1), ShipmentItem("1234-567", 2))
    assert shipment.items[0] == ("17", 1)


def test_shipment_builder_round_trips() -> None:
    body = build_shipment(datetime(2026, 11, 21, 12, 0), "FedEx", "2DAY", "1Z123", [("17", 3)])
    root = etree.fromstring(body)
    assert children(root) == [
        "date",
        "shipmentCarrier",
        "shipmentMethod",
        "trackingNumber",
        "items",
    ]
    assert parse_shipment(body).items == (("17", 3),)


@pytest.mark.parametrize(
    ("body", "element", "fragment"),
    [
        (
            b"<shipment><items><item><itemID>1</itemID><quantity>1</quantity></item></items></shipment>",
            "shipment/trackingNumber",
            "missing element <trackingNumber>",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber></shipment>",
            "shipment/items",
            "missing element <items>",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items/></shipment>",
            "shipment/items/item",
            "has no <item>",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><quantity>1</quantity></item></items></shipment>",
            "shipment/items/item[1]/itemID",
            "missing element <itemID>",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><itemID>1</itemID></item></items></shipment>",
            "shipment/items/item[1]/quantity",
            "missing element <quantity>",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><itemID>1</itemID><quantity>0</quantity></item></items></shipment>",
            "shipment/items/item[1]/quantity",
            "positive whole number",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><itemID>1</itemID><quantity>1.5</quantity></item></items></shipment>",
            "shipment/items/item[1]/quantity",
            "positive whole number",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><itemID>1</itemID><quantity>-2</quantity></item></items></shipment>",
            "shipment/items/item[1]/quantity",
            "positive whole number",
        ),
        (
            b"<shipment><trackingNumber>1Z</trackingNumber><items><item><itemID>1</itemID><quantity>two</quantity></item></items></shipment>",
            "shipment/items/item[1]/quantity",
            "positive whole number",
        ),
    ],
)
def test_shipment_with_a_missing_or_bad_element_names_it(body, element, fragment) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_shipment(body)
    assert caught.value.element == element
    assert fragment in str(caught.value)


def test_item_action_cancel_and_sell_are_read() -> None:
    body = build_item_action("CANCEL", "12345", 1, datetime(2026, 11, 21, 9, 0))
    assert children(etree.fromstring(body)) == ["action", "itemNumber", "quantity", "date"]
    action = parse_item_action(body)
    assert (action.action, action.item_number, action.quantity) == ("CANCEL", "12345", 1)
    assert action.date == datetime(2026, 11, 21, 9, 0)
    assert parse_item_action(build_item_action("sell", "12345", 2)).action == "SELL"


def test_item_action_takes_the_item_from_the_path_when_the_body_has_none() -> None:
    body = b"<item><action>CANCEL</action><quantity>1</quantity></item>"
    assert parse_item_action(body, path_item_id="17").item_number == "17"
    with pytest.raises(DocumentError, match="missing element <itemNumber> in <item>"):
        parse_item_action(body)


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (b"<item><itemNumber>1</itemNumber><quantity>1</quantity></item>", "item/action"),
        (
            b"<item><action>RETURN</action><itemNumber>1</itemNumber><quantity>1</quantity></item>",
            "item/action",
        ),
        (b"<item><action>CANCEL</action><itemNumber>1</itemNumber></item>", "item/quantity"),
        (
            b"<item><action>CANCEL</action><itemNumber>1</itemNumber><quantity>0</quantity></item>",
            "item/quantity",
        ),
    ],
)
def test_item_action_with_a_missing_or_bad_element_names_it(body, element) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_item_action(body)
    assert caught.value.element == element


def test_void_from_the_spec_is_read() -> None:
    body = (
        b"<order><action>VOID</action><date>2026-11-21 13:39:34.406</date>"
        b"<reason>Phone void</reason></order>"
    )
    void = parse_void(body)
    assert (void.action, void.reason) == ("VOID", "Phone void")
    assert void.date == datetime(2026, 11, 21, 13, 39, 34, 406000)
    assert parse_void(build_void("Customer changed mind", datetime(2026, 1, 1))).reason == (
        "Customer changed mind"
    )


def test_void_without_action_or_with_another_action_is_refused() -> None:
    with pytest.raises(DocumentError, match="missing element <action> in <order>"):
        parse_void(b"<order><reason>x</reason></order>")
    with pytest.raises(DocumentError, match="must be VOID"):
        parse_void(b"<order><action>SHIP</action></order>")


# --- hostile and broken XML -----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<acknowledgeRequest><id>&lol9;</id><responseType>WEB_ORDER</responseType></acknowledgeRequest>"""

FILE_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<acknowledgeRequest><id>&xxe;</id><responseType>WEB_ORDER</responseType></acknowledgeRequest>"""

NETWORK_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>
<acknowledgeRequest><id>&xxe;</id><responseType>WEB_ORDER</responseType></acknowledgeRequest>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE acknowledgeRequest SYSTEM "http://127.0.0.1:9/evil.dtd">
<acknowledgeRequest><id>W1</id><responseType>WEB_ORDER</responseType></acknowledgeRequest>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, FILE_ENTITY, NETWORK_ENTITY, EXTERNAL_DTD],
    ids=["billion-laughs", "file-entity", "network-entity", "external-dtd"],
)
def test_documents_with_a_dtd_are_refused_without_expansion(body) -> None:
    with pytest.raises(XmlRejected) as caught:
        parse_acknowledge_request(body)
    message = str(caught.value)
    assert "DTD are refused" in message
    assert "root:" not in message and "lollol" not in message
    assert not isinstance(caught.value, DocumentError)


def test_dtd_in_utf16_is_refused_after_parsing_without_expansion() -> None:
    # The ASCII byte scan cannot see "<!DOCTYPE" in UTF-16; the docinfo check must.
    body = FILE_ENTITY.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(XmlRejected, match="DTD are refused") as caught:
        parse_xml(body.encode("utf-16"))
    assert "root:" not in str(caught.value)


def test_hardened_parser_alone_never_expands_entities() -> None:
    # Belt and braces: even past the DOCTYPE refusal, the parser itself must not resolve
    # entities or load anything, so a file's content can never land in the tree.
    from plugins.lightspeed_dms.weborders.xmlsafe import _hardened_parser

    root = etree.fromstring(FILE_ENTITY, parser=_hardened_parser())
    assert "root:" not in etree.tostring(root).decode()
    # libxml2 either refuses the amplification outright or keeps the reference unexpanded.
    try:
        root = etree.fromstring(BILLION_LAUGHS, parser=_hardened_parser())
    except etree.XMLSyntaxError as exc:
        assert "amplification" in str(exc) or "entity" in str(exc).lower()
    else:
        assert len(etree.tostring(root)) < 2000


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty XML body"),
        (b"  \n ", "empty XML body"),
        (b"<acknowledgeRequest><id>W1</acknowledgeRequest>", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"<a/><b/>", "not well-formed"),
    ],
)
def test_empty_or_malformed_xml_is_refused(body, fragment) -> None:
    with pytest.raises(XmlRejected, match=fragment):
        parse_acknowledge_request(body)


def test_body_over_one_mebibyte_is_refused_as_too_large() -> None:
    padding = b" " * 1_048_576
    body = b"<order><action>VOID</action>" + padding + b"</order>"
    assert len(body) > 1_048_576
    with pytest.raises(XmlTooLarge) as caught:
        parse_void(body)
    assert caught.value.limit == 1_048_576
    assert "exceeds the limit of 1048576 bytes" in str(caught.value)
    assert isinstance(caught.value, XmlRejected) and isinstance(caught.value, WebOrdersXmlError)
    # Just under the limit is fine.
    assert parse_void(b"<order><action>VOID</action>" + b" " * 1000 + b"</order>").action == "VOID"


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = (
        b"<?xml version='1.0'?><order><!-- note --><action>VO<!-- x -->ID</action>"
        b"<?pi data?><reason>r</reason></order>"
    )
    assert parse_void(body).action == "VOID"


def test_namespaced_documents_are_still_read() -> None:
    body = b'<order xmlns="urn:x"><action>VOID</action><reason>ns</reason></order>'
    assert parse_void(body).reason == "ns"


# --- mapping helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("visa", "VISA"),
        ("VISA", "VISA"),
        (" Visa ", "VISA"),
        ("mastercard", "MASTERCARD"),
        ("Master Card", "MASTERCARD"),
        ("MC", "MASTERCARD"),
        ("discover", "DISCOVER"),
        ("amex", "AMEX"),
        ("American Express", "AMEX"),
        ("american-express", "AMEX"),
        ("PayPal", "PAYPAL"),
        ("CCSAVE", "OTHER"),
        ("bank transfer", "OTHER"),
        ("", "OTHER"),
        (None, "OTHER"),
        ("other", "OTHER"),
    ],
)
def test_payment_types_map_to_dms_types_by_default(method, expected) -> None:
    assert map_payment_type(method, {}) == expected


def test_install_payment_type_overrides_win() -> None:
    overrides = {"CCSAVE": "VISA", "Visa": "other", "gift card": "NOT-A-TYPE"}
    assert map_payment_type("ccsave", overrides) == "VISA"
    assert map_payment_type("VISA", overrides) == "OTHER"
    # An override naming no DMS type is ignored: the defaults (here: OTHER) apply.
    assert map_payment_type("Gift Card", overrides) == "OTHER"
    assert map_payment_type("amex", overrides) == "AMEX"


def test_payment_type_map_only_yields_dms_types() -> None:
    assert set(DEFAULT_PAYMENT_TYPE_MAP.values()) <= DMS_PAYMENT_TYPES
    assert DMS_PAYMENT_TYPES == {"VISA", "MASTERCARD", "DISCOVER", "AMEX", "PAYPAL", "OTHER"}


def test_guest_customer_id_is_stable_and_case_insensitive() -> None:
    first = guest_customer_id("Jane.Rider@Example.com")
    assert first == guest_customer_id(" jane.rider@example.com ")
    assert first != guest_customer_id("john@example.com")
    assert first.startswith("G") and len(first) == 13
    assert (
        first
        == "G" + __import__("hashlib").sha256(b"jane.rider@example.com").hexdigest()[:12].upper()
    )


def test_upper_customer_upper_cases_names_and_address_but_not_the_email() -> None:
    customer = billing(first_name="Zoë", company_name="Bikes & co", email="Jane@Example.com")
    upper = upper_customer(customer)
    assert (upper.first_name, upper.last_name, upper.city) == ("ZOË", "RIDER", "CHICAGO")
    assert upper.company_name == "BIKES & CO"
    assert upper.address1 == "1 MAIN ST"
    assert upper.email == "Jane@Example.com"
    assert (upper.type, upper.customer_id) == ("BILLING", "C42")


def test_machine_addresses_compare_without_case_or_separators() -> None:
    assert normalise_machine_address("00:1A-2b:3C:4d:5E") == "001a2b3c4d5e"
    assert normalise_machine_address("00-1A-2B-3C-4D-5E") == normalise_machine_address(
        "001a2b3c4d5e"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 10:05:00.669", datetime(2026, 11, 20, 10, 5, 0, 669000)),
        ("2026-11-20 10:05:00", datetime(2026, 11, 20, 10, 5, 0)),
        ("2026-11-20T10:05:00.5", datetime(2026, 11, 20, 10, 5, 0, 500000)),
    ],
)
def test_dms_dates_are_read_as_naive_local_time(text, expected) -> None:
    assert parse_dms_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-11-20", "20/11/2026 10:00:00", "2026-13-01 00:00:00.000", ""]
)
def test_bad_dms_dates_are_refused(text) -> None:
    with pytest.raises(ValueError):
        parse_dms_datetime(text)
