"""Read queries of the API that the core does not offer, on SQLAlchemy Core for speed.

:func:`order_detail` is the shape of :func:`hub.core.orders.order_detail` (a test keeps the
two equal) read with plain ``SELECT``s: the order page is the API's hottest read, and the
ORM's identity map and unit of work cost more than the queries themselves.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from hub.core.errors import NotFound
from hub.core.models import Order, OrderExport, OrderLine, OrderNote, Shipment
from hub.core.types import money

__all__ = ["order_detail"]

_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_notes = OrderNote.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_exports = OrderExport.__table__  # type: ignore[attr-defined]


def order_detail(conn: Connection, tenant_id: int, number: str) -> dict[str, Any]:
    """The order ``number`` of the tenant with lines, notes, shipments and exports (404)."""
    order = (
        conn.execute(
            select(_orders).where(_orders.c.tenant_id == tenant_id, _orders.c.number == number)
        )
        .mappings()
        .first()
    )
    if order is None:
        raise NotFound(f"no order {number!r}")
    oid = order["id"]
    lines = (
        conn.execute(select(_lines).where(_lines.c.order_id == oid).order_by(_lines.c.line_no))
        .mappings()
        .all()
    )
    notes = (
        conn.execute(select(_notes).where(_notes.c.order_id == oid).order_by(_notes.c.id))
        .mappings()
        .all()
    )
    shipments = (
        conn.execute(
            select(_shipments).where(_shipments.c.order_id == oid).order_by(_shipments.c.id)
        )
        .mappings()
        .all()
    )
    exports = (
        conn.execute(
            select(_exports).where(_exports.c.order_id == oid).order_by(_exports.c.plugin_id)
        )
        .mappings()
        .all()
    )
    return {
        "number": order["number"],
        "status": order["status"],
        "channel": order["channel"],
        "placed_at": order["placed_at"],
        "currency": order["currency"],
        "customer_id": order["customer_id"],
        "billing": order["billing"],
        "shipping": order["shipping"],
        "payments": order["payments"],
        "shipping_cost": str(money(order["shipping_cost"])),
        "shipping_carrier": order["shipping_carrier"],
        "shipping_method": order["shipping_method"],
        "tax": str(money(order["tax"])),
        "total": str(money(order["total"])),
        "comment": order["comment"],
        "cancel_reason": order["cancel_reason"],
        "created_at": order["created_at"],
        "updated_at": order["updated_at"],
        "lines": [
            {
                "id": line["id"],
                "sku": line["sku"],
                "quantity": line["quantity"],
                "unit_price": str(money(line["unit_price"])),
                "manufacturer": line["manufacturer"],
                "description": line["description"],
                "canceled_quantity": line["canceled_quantity"],
                "shipped_quantity": line["shipped_quantity"],
            }
            for line in lines
        ],
        "notes": [
            {
                "source": n["source"],
                "code": n["code"],
                "message": n["message"],
                "created_at": n["created_at"],
            }
            for n in notes
        ],
        "shipments": [
            {
                "carrier": s["carrier"],
                "method": s["method"],
                "tracking_number": s["tracking_number"],
                "shipped_at": s["shipped_at"],
                "items": s["items"],
            }
            for s in shipments
        ],
        "exports": [
            {
                "plugin_id": e["plugin_id"],
                "state": e["state"],
                "external_ref": e["external_ref"],
                "message": e["message"],
                "attempts": e["attempts"],
                "updated_at": e["updated_at"],
                "cancellation": e["cancel_state"] or None,
            }
            for e in exports
        ],
    }
