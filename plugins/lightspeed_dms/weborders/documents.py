"""The Web Orders XML documents: plain dataclasses, builders and parsers.

Outgoing documents (hub → DMS) are built by ``build_*`` functions from frozen dataclasses;
incoming documents (DMS → hub) are read by ``parse_*`` functions into frozen dataclasses. The
element names and their order follow ``specs/lightspeed-dms-web-orders.md`` exactly. Builders
for the incoming documents exist too: the DMS-poller sandbox and the tests speak the DMS's side.

Errors: every parser raises a subclass of :class:`~.xmlsafe.WebOrdersXmlError` —
:class:`~.xmlsafe.XmlRejected` (or :class:`~.xmlsafe.XmlTooLarge`) when the body is not
acceptable XML at all, :class:`DocumentError` when it is well-formed but an element is missing
or invalid; the message names the element. An endpoint answers ``FAILURE`` with that message.

Reading is lenient where the protocol is loose (``orderID``/``orderId``, namespaces, unknown
elements, surrounding whitespace) and strict where a wrong value would corrupt an order
(ids, quantities, amounts, dates). Writing is always strict and canonical.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from lxml import etree

from .mapping import format_dms_datetime, format_money, parse_dms_datetime
from .xmlsafe import DEFAULT_MAX_BYTES, WebOrdersXmlError, parse_xml

__all__ = [
    "ITEM_ACTIONS",
    "MAX_OUTSTANDING_ORDERS",
    "RESPONSE_TYPES",
    "TAX_RULES",
    "AckResponse",
    "AcknowledgeRequest",
    "DmsCancellation",
    "DmsCustomer",
    "DmsOrderItem",
    "DmsPayment",
    "DmsWebOrder",
    "DocumentError",
    "ItemActionDoc",
    "ResponseIssue",
    "ShipmentDoc",
    "ShipmentItem",
    "VoidDoc",
    "build_ack_response",
    "build_acknowledge_request",
    "build_item_action",
    "build_outstanding_activity",
    "build_shipment",
    "build_tax_rules",
    "build_versions",
    "build_void",
    "parse_ack_response",
    "parse_acknowledge_request",
    "parse_item_action",
    "parse_outstanding_activity",
    "parse_shipment",
    "parse_versions",
    "parse_void",
]

#: At most this many orders are listed in one OutstandingActivity response.
MAX_OUTSTANDING_ORDERS = 30

#: ``responseType`` values of an AcknowledgeRequest.
RESPONSE_TYPES: frozenset[str] = frozenset({"WEB_ORDER", "WEB_ORDER_CANCELLATION"})

#: ``action`` values of an item action.
ITEM_ACTIONS: frozenset[str] = frozenset({"CANCEL", "SELL"})

#: The tax rules offered to the DMS (``taxRuleID`` → description).
TAX_RULES: tuple[tuple[int, str], ...] = (
    (1, "Customer - Taxable"),
    (2, "Customer - Non Taxable"),
    (3, "Customer - Tax Exempt"),
)

#: The response code with which the DMS says "this order was already imported".
ALREADY_IMPORTED_CODE = "1010"


class DocumentError(WebOrdersXmlError):
    """A well-formed document with a missing or invalid element.

    :ivar element: the path of the offending element, e.g. ``shipment/trackingNumber``.
    """

    def __init__(self, message: str, element: str | None = None) -> None:
        super().__init__(message)
        self.element = element


# ---------------------------------------------------------------------------------------------
# Outgoing: what the hub offers in OutstandingActivity
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DmsCustomer:
    """One ``customer`` of a web order (``type`` BILLING or SHIPPING); "" = empty element."""

    type: str
    customer_id: str
    prefix_name: str = ""
    first_name: str = ""
    middle_name: str = ""
    last_name: str = ""
    suffix_name: str = ""
    company_name: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    county: str = ""
    country: str = ""
    zip_code: str = ""
    phone: str = ""
    work_phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class DmsPayment:
    """One ``payment``: a DMS payment type (see :func:`.mapping.map_payment_type`) and amount."""

    type: str
    amount: Decimal


@dataclass(frozen=True)
class DmsOrderItem:
    """One ``orderItem``; ``amount`` is the unit price after discount."""

    item_id: str
    manufacturer_id: str
    manufacturer_name: str
    item_number: str
    description: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class DmsWebOrder:
    """One ``webOrder`` of the OutstandingActivity response.

    ``date`` should be aware; it is written in the tenant's zone (naive is taken as UTC).
    Parsed back by :func:`parse_outstanding_activity` it is naive DMS-local time unless a zone
    is given there.
    """

    order_id: str
    date: datetime
    shipping_cost: Decimal = Decimal("0.00")
    shipping_vendor: str = ""
    shipping_method: str = ""
    comment: str = ""
    tax_rule_id: int = 1
    tax_amount: Decimal = Decimal("0.00")
    customers: tuple[DmsCustomer, ...] = ()
    payments: tuple[DmsPayment, ...] = ()
    items: tuple[DmsOrderItem, ...] = ()


@dataclass(frozen=True)
class DmsCancellation:
    """One ``webOrderCancellation``: an order canceled in the hub after the DMS downloaded it."""

    order_id: str
    date: datetime
    comment: str = ""


# ---------------------------------------------------------------------------------------------
# Incoming: what the DMS sends
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseIssue:
    """One ``responseIssue`` of an AcknowledgeRequest (``status`` upper-cased, may be "")."""

    code: str
    message: str
    status: str


@dataclass(frozen=True)
class AcknowledgeRequest:
    """The DMS confirms (or rejects) one order or one cancellation.

    ``date`` is naive DMS-local time (the caller localises it), ``None`` when absent.
    """

    id: str
    response_type: str
    date: datetime | None = None
    issues: tuple[ResponseIssue, ...] = ()

    @property
    def already_imported(self) -> bool:
        """The DMS says the order was already imported (code 1010): treat as downloaded."""
        return any(issue.code == ALREADY_IMPORTED_CODE for issue in self.issues)

    @property
    def failure_issues(self) -> tuple[ResponseIssue, ...]:
        """Issues that reject the order: status FAILURE, except "already imported"."""
        return tuple(
            issue
            for issue in self.issues
            if issue.status == "FAILURE" and issue.code != ALREADY_IMPORTED_CODE
        )

    @property
    def failed(self) -> bool:
        """The order is rejected: at least one FAILURE issue other than code 1010."""
        return bool(self.failure_issues)


class ShipmentItem(NamedTuple):
    """One shipped ``item``: hub order-line id or part number, and the shipped quantity."""

    item_id: str
    quantity: int


@dataclass(frozen=True)
class ShipmentDoc:
    """A ``shipment`` sent to ``Order/{id}/Shipment``; ``date`` naive DMS-local or ``None``."""

    date: datetime | None
    carrier: str
    method: str
    tracking_number: str
    items: tuple[ShipmentItem, ...]


@dataclass(frozen=True)
class ItemActionDoc:
    """An ``item`` sent to ``Order/{id}/Item[/{itemId}]``: CANCEL or SELL of a quantity."""

    action: str
    item_number: str
    quantity: int
    date: datetime | None


@dataclass(frozen=True)
class VoidDoc:
    """An ``order`` sent to ``Order/{id}``: the order was voided in the DMS."""

    action: str
    date: datetime | None
    reason: str


@dataclass(frozen=True)
class AckResponse:
    """The hub's ``acknowledgeResponse`` as read back by the DMS side (the poller)."""

    success: bool
    message: str | None = None


# ---------------------------------------------------------------------------------------------
# Writing helpers
# ---------------------------------------------------------------------------------------------

# XML 1.0 cannot carry most control characters at all (lxml refuses them); webstore data
# occasionally contains some (pasted addresses), and dropping them beats failing the order.
_XML_INVALID_CHARS = dict.fromkeys(
    [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + [0xFFFE, 0xFFFF]
)


def _clean(text: str) -> str:
    cleaned = text.translate(_XML_INVALID_CHARS)
    # Lone surrogates (broken upstream decoding) cannot be written as UTF-8 either.
    return cleaned.encode("utf-8", "replace").decode("utf-8")


def _sub(parent: etree._Element, tag: str, text: str | int | None = None) -> etree._Element:
    """Append ``<tag>`` with ``text``; lxml escapes ``&``, ``<`` and the rest on output."""
    child = etree.SubElement(parent, tag)
    if text is not None and text != "":
        child.text = _clean(str(text))
    return child


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _format_incoming_date(moment: datetime | None, tz: tzinfo | None) -> str:
    """DMS-side date: naive values are already DMS-local; aware ones go to ``tz`` if given."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"
    return format_dms_datetime(moment, tz or moment.tzinfo)


# ---------------------------------------------------------------------------------------------
# Outgoing builders
# ---------------------------------------------------------------------------------------------


def _build_customer(parent: etree._Element, customer: DmsCustomer) -> None:
    element = _sub(parent, "customer")
    _sub(element, "type", customer.type)
    _sub(element, "customerID", customer.customer_id)
    _sub(element, "prefixName", customer.prefix_name)
    _sub(element, "firstName", customer.first_name)
    _sub(element, "middleName", customer.middle_name)
    _sub(element, "lastName", customer.last_name)
    _sub(element, "suffixName", customer.suffix_name)
    _sub(element, "companyName", customer.company_name)
    _sub(element, "address1", customer.address1)
    _sub(element, "address2", customer.address2)
    _sub(element, "city", customer.city)
    _sub(element, "state", customer.state)
    _sub(element, "county", customer.county)
    _sub(element, "country", customer.country)
    _sub(element, "zipCode", customer.zip_code)
    _sub(element, "phone", customer.phone)
    _sub(element, "workPhone", customer.work_phone)
    _sub(element, "email", customer.email)


def _build_web_order(parent: etree._Element, order: DmsWebOrder, tz: tzinfo) -> None:
    element = _sub(parent, "webOrder")
    _sub(element, "orderID", order.order_id)
    _sub(element, "date", format_dms_datetime(order.date, tz))
    _sub(element, "shippingCost", format_money(order.shipping_cost))
    _sub(element, "shippingVendor", order.shipping_vendor)
    _sub(element, "shippingMethod", order.shipping_method)
    _sub(element, "comment", order.comment)
    _sub(element, "taxRuleID", order.tax_rule_id)
    _sub(element, "taxAmount", format_money(order.tax_amount))
    customers = _sub(element, "customers")
    for customer in order.customers:
        _build_customer(customers, customer)
    payments = _sub(element, "payments")
    for payment in order.payments:
        payment_element = _sub(payments, "payment")
        _sub(payment_element, "type", payment.type)
        _sub(payment_element, "amount", format_money(payment.amount))
    items = _sub(element, "orderItems")
    for item in order.items:
        item_element = _sub(items, "orderItem")
        _sub(item_element, "itemID", item.item_id)
        _sub(item_element, "manufacturerID", item.manufacturer_id)
        _sub(item_element, "manufacturerName", item.manufacturer_name)
        _sub(item_element, "itemNumber", item.item_number)
        _sub(item_element, "description", item.description)
        _sub(item_element, "quantity", item.quantity)
        _sub(item_element, "amount", format_money(item.amount))


def build_outstanding_activity(
    orders: Iterable[DmsWebOrder],
    cancellations: Iterable[DmsCancellation],
    tz: tzinfo,
) -> bytes:
    """Build the ``outstandingActivityResponse`` document.

    Every element of the spec is written, in the spec's order, empty when there is no value;
    ``orders`` and ``cancellations`` are present even when empty. Dates are written in the
    tenant's zone ``tz``; money with two decimals. Customers, payments and items are written in
    the order given (the caller puts BILLING before SHIPPING). Selecting at most
    :data:`MAX_OUTSTANDING_ORDERS` orders is the caller's job.

    :returns: UTF-8 bytes with an XML declaration.
    """
    root = etree.Element("outstandingActivityResponse")
    orders_element = _sub(root, "orders")
    for order in orders:
        _build_web_order(orders_element, order, tz)
    cancellations_element = _sub(root, "cancellations")
    for cancellation in cancellations:
        element = _sub(cancellations_element, "webOrderCancellation")
        _sub(element, "orderID", cancellation.order_id)
        _sub(element, "date", format_dms_datetime(cancellation.date, tz))
        _sub(element, "comment", cancellation.comment)
    return _serialise(root)


def build_versions(versions: Sequence[str] = ("1.0",)) -> bytes:
    """Build the version-discovery answer (the DMS's "Test Connection"): ``<versions>``."""
    root = etree.Element("versions")
    for version in versions:
        _sub(root, "version", version)
    return _serialise(root)


def build_tax_rules(rules: Sequence[tuple[int, str]] = TAX_RULES) -> bytes:
    """Build the ``TaxRules`` answer: 1 Taxable, 2 Non Taxable, 3 Tax Exempt."""
    root = etree.Element("taxRules")
    for rule_id, description in rules:
        rule = _sub(root, "taxRule")
        _sub(rule, "taxRuleID", rule_id)
        _sub(rule, "description", description)
    return _serialise(root)


def build_ack_response(success: bool, message: str | None = None) -> bytes:
    """Build the hub's reply to every DMS → hub call.

    ``responseMessage`` is written only when ``message`` is given (the spec's SUCCESS example
    has none; a FAILURE should always say why).
    """
    root = etree.Element("acknowledgeResponse")
    _sub(root, "responseStatus", "SUCCESS" if success else "FAILURE")
    if message is not None:
        _sub(root, "responseMessage", message)
    return _serialise(root)


# ---------------------------------------------------------------------------------------------
# Builders for the DMS's side (poller sandbox, tests)
# ---------------------------------------------------------------------------------------------


def build_acknowledge_request(
    order_id: str,
    response_type: str = "WEB_ORDER",
    date: datetime | None = None,
    issues: Iterable[ResponseIssue] = (),
    *,
    tz: tzinfo | None = None,
) -> bytes:
    """Build an ``acknowledgeRequest`` as the DMS sends it.

    ``responseIssues`` is written only when there are issues. A naive ``date`` is written as
    is (DMS-local); an aware one in ``tz`` (or its own zone).
    """
    root = etree.Element("acknowledgeRequest")
    _sub(root, "id", order_id)
    _sub(root, "responseType", response_type)
    _sub(root, "date", _format_incoming_date(date, tz))
    issues = tuple(issues)
    if issues:
        container = _sub(root, "responseIssues")
        for issue in issues:
            element = _sub(container, "responseIssue")
            _sub(element, "code", issue.code)
            _sub(element, "message", issue.message)
            _sub(element, "responseStatus", issue.status)
    return _serialise(root)


def build_shipment(
    date: datetime | None,
    carrier: str,
    method: str,
    tracking_number: str,
    items: Iterable[tuple[str, int]],
    *,
    tz: tzinfo | None = None,
) -> bytes:
    """Build a ``shipment`` as the DMS sends it to ``Order/{id}/Shipment``."""
    root = etree.Element("shipment")
    _sub(root, "date", _format_incoming_date(date, tz))
    _sub(root, "shipmentCarrier", carrier)
    _sub(root, "shipmentMethod", method)
    _sub(root, "trackingNumber", tracking_number)
    container = _sub(root, "items")
    for item_id, quantity in items:
        element = _sub(container, "item")
        _sub(element, "itemID", item_id)
        _sub(element, "quantity", quantity)
    return _serialise(root)


def build_item_action(
    action: str,
    item_number: str,
    quantity: int,
    date: datetime | None = None,
    *,
    tz: tzinfo | None = None,
) -> bytes:
    """Build an ``item`` action (CANCEL or SELL) as the DMS sends it to ``Order/{id}/Item``."""
    root = etree.Element("item")
    _sub(root, "action", action)
    _sub(root, "itemNumber", item_number)
    _sub(root, "quantity", quantity)
    _sub(root, "date", _format_incoming_date(date, tz))
    return _serialise(root)


def build_void(reason: str, date: datetime | None = None, *, tz: tzinfo | None = None) -> bytes:
    """Build a void (``<order><action>VOID</action>…``) as the DMS sends it to ``Order/{id}``."""
    root = etree.Element("order")
    _sub(root, "action", "VOID")
    _sub(root, "date", _format_incoming_date(date, tz))
    _sub(root, "reason", reason)
    return _serialise(root)


# ---------------------------------------------------------------------------------------------
# Reading helpers
# ---------------------------------------------------------------------------------------------


def _local_name(element: etree._Element) -> str:
    # Namespaces are not part of the protocol; matching on the local name means a client that
    # adds a default namespace still works.
    return etree.QName(element).localname


def _children(parent: etree._Element, *names: str) -> Iterator[etree._Element]:
    for child in parent:
        if isinstance(child.tag, str) and _local_name(child) in names:
            yield child


def _child(parent: etree._Element, *names: str) -> etree._Element | None:
    return next(_children(parent, *names), None)


def _text(parent: etree._Element, *names: str) -> str | None:
    """Stripped text of the first child named one of ``names``; ``None`` when absent."""
    child = _child(parent, *names)
    if child is None:
        return None
    return (child.text or "").strip()


def _required_text(parent: etree._Element, where: str, *names: str) -> str:
    value = _text(parent, *names)
    if value is None:
        raise DocumentError(f"missing element <{names[0]}> in <{where}>", f"{where}/{names[0]}")
    if not value:
        raise DocumentError(f"element <{names[0]}> in <{where}> is empty", f"{where}/{names[0]}")
    return value


def _optional_date(parent: etree._Element, where: str, name: str = "date") -> datetime | None:
    value = _text(parent, name)
    if not value:
        return None
    try:
        return parse_dms_datetime(value)
    except ValueError:
        raise DocumentError(
            f"element <{name}> in <{where}> is not a date (YYYY-MM-DD HH:MM:SS.fff): {value!r}",
            f"{where}/{name}",
        ) from None


def _required_date(parent: etree._Element, where: str, name: str = "date") -> datetime:
    _required_text(parent, where, name)
    date = _optional_date(parent, where, name)
    assert date is not None  # non-empty text either parses or raised
    return date


def _positive_quantity(parent: etree._Element, where: str, name: str = "quantity") -> int:
    value = _required_text(parent, where, name)
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    # "2.000" is accepted: the DMS keeps quantities as decimals; a fraction is not.
    if not number.is_finite() or number != number.to_integral_value() or number <= 0:
        raise DocumentError(
            f"element <{name}> in <{where}> must be a positive whole number, got {value!r}",
            f"{where}/{name}",
        )
    return int(number)


def _money(parent: etree._Element, where: str, name: str, *, required: bool) -> Decimal:
    value = _required_text(parent, where, name) if required else (_text(parent, name) or "0")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise DocumentError(
            f"element <{name}> in <{where}> is not an amount: {value!r}", f"{where}/{name}"
        )
    return amount


def _root(body: bytes, expected: str, max_bytes: int) -> etree._Element:
    root = parse_xml(body, max_bytes=max_bytes)
    if _local_name(root) != expected:
        raise DocumentError(
            f"expected a <{expected}> document, got <{_local_name(root)}>", expected
        )
    return root


# ---------------------------------------------------------------------------------------------
# Incoming parsers (DMS → hub)
# ---------------------------------------------------------------------------------------------


def parse_acknowledge_request(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> AcknowledgeRequest:
    """Read an ``acknowledgeRequest``.

    Required: ``id`` (``orderID``/``orderId`` accepted too) and ``responseType`` (WEB_ORDER or
    WEB_ORDER_CANCELLATION). ``date`` and ``responseIssues`` are optional; an issue's missing
    parts read as "".

    :raises DocumentError: a required element is missing/empty or a value is invalid.
    :raises XmlRejected: the body is not acceptable XML.
    """
    where = "acknowledgeRequest"
    root = _root(body, where, max_bytes)
    order_id = _required_text(root, where, "id", "orderID", "orderId")
    response_type = _required_text(root, where, "responseType").upper()
    if response_type not in RESPONSE_TYPES:
        raise DocumentError(
            f"element <responseType> in <{where}> must be one of "
            f"{', '.join(sorted(RESPONSE_TYPES))}, got {response_type!r}",
            f"{where}/responseType",
        )
    issues: list[ResponseIssue] = []
    container = _child(root, "responseIssues")
    if container is not None:
        for element in _children(container, "responseIssue"):
            issues.append(
                ResponseIssue(
                    code=_text(element, "code") or "",
                    message=_text(element, "message") or "",
                    status=(_text(element, "responseStatus", "status") or "").upper(),
                )
            )
    return AcknowledgeRequest(
        id=order_id,
        response_type=response_type,
        date=_optional_date(root, where),
        issues=tuple(issues),
    )


def parse_shipment(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ShipmentDoc:
    """Read a ``shipment``.

    Required: ``trackingNumber`` and ``items`` with at least one ``item`` (``itemID`` and a
    positive whole ``quantity``). ``shipmentCarrier``/``shipmentMethod`` may be empty; ``date``
    is optional.

    :raises DocumentError: a required element is missing/empty or a value is invalid.
    :raises XmlRejected: the body is not acceptable XML.
    """
    where = "shipment"
    root = _root(body, where, max_bytes)
    tracking_number = _required_text(root, where, "trackingNumber")
    container = _child(root, "items")
    if container is None:
        raise DocumentError(f"missing element <items> in <{where}>", f"{where}/items")
    items: list[ShipmentItem] = []
    for index, element in enumerate(_children(container, "item"), start=1):
        item_where = f"{where}/items/item[{index}]"
        items.append(
            ShipmentItem(
                item_id=_required_text(element, item_where, "itemID", "itemId"),
                quantity=_positive_quantity(element, item_where),
            )
        )
    if not items:
        raise DocumentError(f"element <items> in <{where}> has no <item>", f"{where}/items/item")
    return ShipmentDoc(
        date=_optional_date(root, where),
        carrier=_text(root, "shipmentCarrier") or "",
        method=_text(root, "shipmentMethod") or "",
        tracking_number=tracking_number,
        items=tuple(items),
    )


def parse_item_action(
    body: bytes,
    *,
    path_item_id: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> ItemActionDoc:
    """Read an ``item`` action (CANCEL or SELL).

    Required: ``action``, ``quantity`` (positive whole number) and ``itemNumber`` — unless the
    request came to ``Order/{id}/Item/{itemId}``, whose ``path_item_id`` stands in for a
    missing or empty ``itemNumber``. ``date`` is optional.

    :raises DocumentError: a required element is missing/empty or a value is invalid.
    :raises XmlRejected: the body is not acceptable XML.
    """
    where = "item"
    root = _root(body, where, max_bytes)
    action = _required_text(root, where, "action").upper()
    if action not in ITEM_ACTIONS:
        raise DocumentError(
            f"element <action> in <{where}> must be CANCEL or SELL, got {action!r}",
            f"{where}/action",
        )
    item_number = _text(root, "itemNumber", "itemID", "itemId") or path_item_id
    if not item_number:
        item_number = _required_text(root, where, "itemNumber")  # raises, naming it
    return ItemActionDoc(
        action=action,
        item_number=item_number,
        quantity=_positive_quantity(root, where),
        date=_optional_date(root, where),
    )


def parse_void(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> VoidDoc:
    """Read a void (``<order><action>VOID</action><date/><reason/></order>``).

    Required: ``action`` = VOID. ``reason`` may be empty; ``date`` is optional.

    :raises DocumentError: a required element is missing/empty or a value is invalid.
    :raises XmlRejected: the body is not acceptable XML.
    """
    where = "order"
    root = _root(body, where, max_bytes)
    action = _required_text(root, where, "action").upper()
    if action != "VOID":
        raise DocumentError(
            f"element <action> in <{where}> must be VOID, got {action!r}", f"{where}/action"
        )
    return VoidDoc(
        action=action, date=_optional_date(root, where), reason=_text(root, "reason") or ""
    )


# ---------------------------------------------------------------------------------------------
# Parsers for the hub's answers (poller sandbox, tests)
# ---------------------------------------------------------------------------------------------


def _parse_customer(element: etree._Element, where: str) -> DmsCustomer:
    def text(name: str) -> str:
        return _text(element, name) or ""

    return DmsCustomer(
        type=_required_text(element, where, "type").upper(),
        customer_id=text("customerID"),
        prefix_name=text("prefixName"),
        first_name=text("firstName"),
        middle_name=text("middleName"),
        last_name=text("lastName"),
        suffix_name=text("suffixName"),
        company_name=text("companyName"),
        address1=text("address1"),
        address2=text("address2"),
        city=text("city"),
        state=text("state"),
        county=text("county"),
        country=text("country"),
        zip_code=text("zipCode"),
        phone=text("phone"),
        work_phone=text("workPhone"),
        email=text("email"),
    )


def _localise(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment if tz is None else moment.replace(tzinfo=tz)


def _parse_web_order(element: etree._Element, where: str, tz: tzinfo | None) -> DmsWebOrder:
    tax_rule_text = _text(element, "taxRuleID") or "1"
    if not tax_rule_text.isdigit():
        raise DocumentError(
            f"element <taxRuleID> in <{where}> is not a number: {tax_rule_text!r}",
            f"{where}/taxRuleID",
        )
    customers_element = _child(element, "customers")
    payments_element = _child(element, "payments")
    items_element = _child(element, "orderItems")
    customers = tuple(
        _parse_customer(customer, f"{where}/customers/customer[{index}]")
        for index, customer in enumerate(
            _children(customers_element, "customer") if customers_element is not None else (),
            start=1,
        )
    )
    payments: list[DmsPayment] = []
    if payments_element is not None:
        for index, payment in enumerate(_children(payments_element, "payment"), start=1):
            payment_where = f"{where}/payments/payment[{index}]"
            payments.append(
                DmsPayment(
                    type=_required_text(payment, payment_where, "type"),
                    amount=_money(payment, payment_where, "amount", required=True),
                )
            )
    items: list[DmsOrderItem] = []
    if items_element is not None:
        for index, item in enumerate(_children(items_element, "orderItem"), start=1):
            item_where = f"{where}/orderItems/orderItem[{index}]"
            items.append(
                DmsOrderItem(
                    item_id=_required_text(item, item_where, "itemID", "itemId"),
                    manufacturer_id=_text(item, "manufacturerID") or "",
                    manufacturer_name=_text(item, "manufacturerName") or "",
                    item_number=_text(item, "itemNumber") or "",
                    description=_text(item, "description") or "",
                    quantity=_positive_quantity(item, item_where),
                    amount=_money(item, item_where, "amount", required=True),
                )
            )
    return DmsWebOrder(
        order_id=_required_text(element, where, "orderID", "orderId"),
        date=_localise(_required_date(element, where), tz),
        shipping_cost=_money(element, where, "shippingCost", required=False),
        shipping_vendor=_text(element, "shippingVendor") or "",
        shipping_method=_text(element, "shippingMethod") or "",
        comment=_text(element, "comment") or "",
        tax_rule_id=int(tax_rule_text),
        tax_amount=_money(element, where, "taxAmount", required=False),
        customers=customers,
        payments=tuple(payments),
        items=tuple(items),
    )


def parse_outstanding_activity(
    body: bytes, *, tz: tzinfo | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[DmsWebOrder], list[DmsCancellation]]:
    """Read an ``outstandingActivityResponse`` as the DMS does.

    Dates are naive DMS-local time, or carry ``tz`` when given. Missing containers read as
    empty; ``orderID``/``orderId`` are both accepted.

    :raises DocumentError: an order or cancellation lacks its id or date, or a value is invalid.
    :raises XmlRejected: the body is not acceptable XML.
    """
    where = "outstandingActivityResponse"
    root = _root(body, where, max_bytes)
    orders: list[DmsWebOrder] = []
    orders_element = _child(root, "orders")
    if orders_element is not None:
        for index, element in enumerate(_children(orders_element, "webOrder"), start=1):
            orders.append(_parse_web_order(element, f"{where}/orders/webOrder[{index}]", tz))
    cancellations: list[DmsCancellation] = []
    cancellations_element = _child(root, "cancellations")
    if cancellations_element is not None:
        for index, element in enumerate(
            _children(cancellations_element, "webOrderCancellation"), start=1
        ):
            cancel_where = f"{where}/cancellations/webOrderCancellation[{index}]"
            cancellations.append(
                DmsCancellation(
                    order_id=_required_text(element, cancel_where, "orderID", "orderId"),
                    date=_localise(_required_date(element, cancel_where), tz),
                    comment=_text(element, "comment") or "",
                )
            )
    return orders, cancellations


def parse_ack_response(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> AckResponse:
    """Read the hub's ``acknowledgeResponse`` (SUCCESS or FAILURE with a message)."""
    where = "acknowledgeResponse"
    root = _root(body, where, max_bytes)
    status = _required_text(root, where, "responseStatus").upper()
    if status not in ("SUCCESS", "FAILURE"):
        raise DocumentError(
            f"element <responseStatus> in <{where}> must be SUCCESS or FAILURE, got {status!r}",
            f"{where}/responseStatus",
        )
    return AckResponse(success=status == "SUCCESS", message=_text(root, "responseMessage"))


def parse_versions(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """Read the version-discovery answer; at least one ``version`` is required."""
    root = _root(body, "versions", max_bytes)
    versions = [(element.text or "").strip() for element in _children(root, "version")]
    versions = [version for version in versions if version]
    if not versions:
        raise DocumentError("missing element <version> in <versions>", "versions/version")
    return versions
