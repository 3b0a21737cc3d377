"""Lightspeed DMS Web Orders: the XML documents, their mapping helpers and a DMS sandbox.

Everything here is pure (dataclasses in, bytes out and back) except :mod:`.poller` and
:mod:`.cli`, which play the DMS over HTTP. The hub core owns the endpoints and order state.
"""

from .documents import (
    AcknowledgeRequest,
    DmsCancellation,
    DmsCustomer,
    DmsOrderItem,
    DmsPayment,
    DmsWebOrder,
    DocumentError,
    ItemActionDoc,
    ResponseIssue,
    ShipmentDoc,
    VoidDoc,
    build_ack_response,
    build_outstanding_activity,
    build_tax_rules,
    build_versions,
    parse_acknowledge_request,
    parse_item_action,
    parse_outstanding_activity,
    parse_shipment,
    parse_void,
)
from .xmlsafe import WebOrdersXmlError, XmlRejected, XmlTooLarge, parse_xml

__all__ = [
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
    "VoidDoc",
    "WebOrdersXmlError",
    "XmlRejected",
    "XmlTooLarge",
    "build_ack_response",
    "build_outstanding_activity",
    "build_tax_rules",
    "build_versions",
    "parse_acknowledge_request",
    "parse_item_action",
    "parse_outstanding_activity",
    "parse_shipment",
    "parse_void",
    "parse_xml",
]
