"""Orders: idempotent intake by number, list (newest first), detail, cancel, export retry.

POST answers 201 with the order detail when the number is new, 200 with the stored order
when the same body comes again, 409 when a different body comes with a stored number. The
totals are checked by :class:`~hub.core.orders.OrderIn` (422 naming ``total``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Response, Router, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from hub.api._auth import Caller
from hub.api._errors import ERROR_RESPONSES
from hub.api._openapi import TENANT_PATH, Link, errors, links
from hub.api._paging import Cursor, Limit, decode_cursor, next_cursor
from hub.core.exports import EXPORT_STATES
from hub.core.hub import Hub
from hub.core.orders import (
    ORDER_STATUSES,
    FulfillmentIn,
    OrderIn,
    PaymentAdd,
    export_briefs,
    order_detail_by_number,
    page_orders,
)
from hub.core.tenants import TenantInfo
from hub.core.types import money

__all__ = ["CancelIn", "OrderDetail", "OrderPage", "OrderSummary", "build_router"]

ORDER_PATH = TENANT_PATH + "/orders/{number}"
Number = Annotated[str, Parameter(min_length=1, max_length=64)]
PluginId = Annotated[str, Parameter(max_length=64)]
StatusFilter = Annotated[
    str | None, Parameter(description=f"one of {', '.join(ORDER_STATUSES)}", max_length=32)
]
ExportStateFilter = Annotated[
    str | None, Parameter(description=f"one of {', '.join(EXPORT_STATES)}", max_length=16)
]


class OrderLineOut(msgspec.Struct):
    id: int
    sku: str
    quantity: int
    unit_price: str
    manufacturer: str
    description: str
    canceled_quantity: int
    shipped_quantity: int
    fulfilled_quantity: int
    line_no: int


class OrderNoteOut(msgspec.Struct):
    source: str
    code: str
    message: str
    created_at: datetime


class ShipmentOut(msgspec.Struct):
    carrier: str
    method: str
    tracking_number: str
    shipped_at: datetime
    items: list[dict[str, Any]]


class OrderExportOut(msgspec.Struct):
    """One plugin's export of the order: pending, offered, acknowledged, rejected, failed."""

    plugin_id: str
    state: str
    external_ref: str
    message: str
    attempts: int
    updated_at: datetime
    cancellation: str | None


class OrderDetail(msgspec.Struct):
    """An order with its lines, notes, shipments and exports."""

    number: str
    status: str
    channel: str
    placed_at: datetime
    currency: str
    customer_id: str
    billing: dict[str, Any]
    shipping: dict[str, Any]
    payments: list[dict[str, Any]]
    shipping_cost: str
    shipping_carrier: str
    shipping_method: str
    tax: str
    total: str
    balance_due: str
    comment: str
    cancel_reason: str
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineOut]
    notes: list[OrderNoteOut]
    shipments: list[ShipmentOut]
    exports: list[OrderExportOut]

    @classmethod
    def of(cls, detail: dict[str, Any]) -> OrderDetail:
        return msgspec.convert(detail, cls)


class OrderExportBrief(msgspec.Struct):
    """An export of the order in the list: where it is and why it waits (``Unbalanced``)."""

    plugin_id: str
    state: str
    message: str


class OrderSummary(msgspec.Struct):
    number: str
    status: str
    channel: str
    placed_at: datetime
    currency: str
    total: str
    created_at: datetime
    updated_at: datetime
    exports: list[OrderExportBrief] = msgspec.field(default_factory=list)


class OrderPage(msgspec.Struct):
    items: list[OrderSummary]
    next_cursor: str | None


class CancelIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1000)] = ""


def _detail(hub: Hub, tenant_id: int, number: str) -> OrderDetail:
    with hub.db.read() as session:
        return OrderDetail.of(order_detail_by_number(session.connection(), tenant_id, number))


_ORDER = {"slug": "$request.path.slug", "number": "$response.body#/number"}
_REPLAYED = {
    200: ResponseSpec(
        data_container=OrderDetail,
        description="The same reference again: the order, nothing recorded",
        generate_examples=False,
    )
}


@post(
    "/",
    sync_to_thread=True,
    responses={
        200: ResponseSpec(
            data_container=OrderDetail,
            description="The same body again: the stored order (nothing changed)",
            generate_examples=False,
        ),
        **errors(
            409,
            e409="An order with this number exists with a different body",
            e422="Validation failed (`fields` names each field), or the total does not equal "
            "lines + shipping + tax (`fields.total`)",
        ),
    },
    response_description="Created",
    summary="Create an order",
    opt=links(
        Link(f"GET {ORDER_PATH}", _ORDER),
        Link(f"POST {ORDER_PATH}/cancel", _ORDER),
        Link(
            f"POST {ORDER_PATH}/exports/{{plugin_id}}/retry",
            {**_ORDER, "plugin_id": "$response.body#/exports/0/plugin_id"},
        ),
    ),
)
def create_order(data: OrderIn, hub: Hub, tenant: TenantInfo) -> Response[OrderDetail]:
    """Store an order from the webstore: 201 new, 200 same body again, 409 different body."""
    _view, created = hub.intake_order(tenant.id, data, source="api")
    return Response(_detail(hub, tenant.id, data.number), status_code=201 if created else 200)


@get("/", sync_to_thread=True, summary="List orders")
def list_orders(
    hub: Hub,
    tenant: TenantInfo,
    cursor: Cursor = None,
    limit: Limit = 100,
    status: StatusFilter = None,
    export_state: ExportStateFilter = None,
) -> OrderPage:
    """Orders, newest first; ``status`` filters, ``export_state`` keeps the orders with an
    export (to any plugin) in that state, e.g. ``rejected``."""
    before = decode_cursor(cursor)
    with hub.db.read() as session:
        rows = page_orders(
            session,
            tenant.id,
            status=status,
            export_state=export_state,
            before=before,
            limit=limit,
        )
        briefs = export_briefs(session, [o.id for o in rows[:limit] if o.id is not None])
    items = [
        OrderSummary(
            number=o.number,
            status=o.status,
            channel=o.channel,
            placed_at=o.placed_at,
            currency=o.currency,
            total=str(money(o.total)),
            created_at=o.created_at,
            updated_at=o.updated_at,
            exports=[OrderExportBrief(**b) for b in briefs.get(o.id or 0, [])],
        )
        for o in rows[:limit]
    ]
    return OrderPage(items, next_cursor([o.id or 0 for o in rows], limit))


@get("/{number:str}", sync_to_thread=True, summary="An order")
def get_order(hub: Hub, tenant: TenantInfo, number: Number) -> OrderDetail:
    """The order with lines, notes, shipments and exports."""
    return _detail(hub, tenant.id, number)


@post(
    "/{number:str}/cancel",
    status_code=200,
    sync_to_thread=True,
    responses=errors(409, e409="The order is shipped or completed"),
    summary="Cancel an order",
)
def cancel_order(
    data: CancelIn, hub: Hub, tenant: TenantInfo, caller: Caller, number: Number
) -> OrderDetail:
    """Cancel (409 when shipped or completed); exports the vendor took get a cancellation."""
    return OrderDetail.of(hub.cancel_order(tenant.id, number, data.reason, actor=caller.actor))


@post(
    "/{number:str}/exports/{plugin_id:str}/retry",
    status_code=200,
    sync_to_thread=True,
    responses=errors(409, e409="The export is neither rejected nor failed"),
    summary="Retry an order export",
)
def retry_export(
    hub: Hub, tenant: TenantInfo, caller: Caller, number: Number, plugin_id: PluginId
) -> OrderDetail:
    """Put a rejected or failed export back to pending (409 otherwise)."""
    return OrderDetail.of(hub.retry_export(tenant.id, number, plugin_id, actor=caller.actor))


@post(
    "/{number:str}/payments",
    sync_to_thread=True,
    responses={**ERROR_RESPONSES, **_REPLAYED},
    summary="Record a payment",
)
def add_payment(
    data: PaymentAdd, hub: Hub, tenant: TenantInfo, caller: Caller, number: Number
) -> Response[OrderDetail]:
    """Record a payment of the order: 201 with the order and its new ``balance_due``; the
    same ``reference`` again answers 200 and records nothing (409 when its body differs).
    422 when a captured amount exceeds the balance due, 409 for a canceled order. An order
    paid in full is queued for export at once."""
    detail, added = hub.add_payment(tenant.id, number, data, actor=caller.actor)
    return Response(OrderDetail.of(detail), status_code=201 if added else 200)


@post(
    "/{number:str}/fulfillments",
    sync_to_thread=True,
    responses={**ERROR_RESPONSES, **_REPLAYED},
    summary="Record fulfilled lines",
)
def add_fulfillment(
    data: FulfillmentIn, hub: Hub, tenant: TenantInfo, caller: Caller, number: Number
) -> Response[OrderDetail]:
    """Record lines fulfilled by a supplier or in store (by ``line_no`` or ``sku``): 201 with
    the order and each line's ``fulfilled_quantity``; the same ``reference`` again answers
    200 and records nothing. More than a line's open quantity: 422 naming ``lines[n]``,
    nothing recorded."""
    detail, added = hub.record_fulfillment(tenant.id, number, data, actor=caller.actor)
    return Response(OrderDetail.of(detail), status_code=201 if added else 200)


def build_router() -> Router:
    """``/orders`` under ``/api/v1/tenants/{slug}``."""
    return Router(
        "/orders",
        route_handlers=[
            create_order,
            list_orders,
            get_order,
            cancel_order,
            retry_export,
            add_payment,
            add_fulfillment,
        ],
        tags=["orders"],
    )
