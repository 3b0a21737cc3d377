"""Orders: intake with validation, the order view, notes, shipments, cancellation."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.errors import Conflict, Invalid, NotFound
from hub.core.lane import Lane
from hub.core.models import Order, OrderExport, OrderLine, OrderNote, Product, Shipment
from hub.core.records import OrderLineView, OrderView
from hub.core.types import money, utcnow

__all__ = [
    "AddressIn",
    "LineIn",
    "OrderIn",
    "PaymentIn",
    "add_note",
    "cancel_line",
    "cancel_order",
    "find_order",
    "order_detail",
    "order_detail_by_number",
    "order_view",
    "record_shipment",
    "store_order",
]

Text200 = Annotated[str, StringConstraints(max_length=200)]
CENT = Decimal("0.01")
ORDER_STATUSES = ("open", "partially_shipped", "shipped", "canceled", "completed")


def _money_field(value: Any) -> Decimal:
    """A money amount: a decimal string (or number) with at most two places."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError('must be a decimal amount such as "24.95"')
    if isinstance(value, float):
        value = str(value)
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError('must be a decimal amount such as "24.95"') from None
    if not amount.is_finite():
        raise ValueError("must be a finite amount")
    if abs(amount) >= Decimal("1e12"):
        raise ValueError("is too large")
    if amount != amount.quantize(CENT):
        raise ValueError("must have at most two decimal places")
    if abs(amount) >= Decimal("1e12"):
        raise ValueError("is too large")
    return amount.quantize(CENT)


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    first_name: Text200 = ""
    last_name: Text200 = ""
    company: Text200 = ""
    address1: Text200 = ""
    address2: Text200 = ""
    city: Text200 = ""
    state: Text200 = ""
    county: Text200 = ""
    postal_code: Annotated[str, StringConstraints(max_length=32)] = ""
    country: Annotated[str, StringConstraints(max_length=2)] = ""
    phone: Annotated[str, StringConstraints(max_length=64)] = ""
    email: Text200 = ""


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Decimal
    captured: bool = True

    _amount = field_validator("amount", mode="before")(_money_field)


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Decimal
    manufacturer: Text200 = ""
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    location: Annotated[str, StringConstraints(max_length=64)] = ""

    _price = field_validator("unit_price", mode="before")(_money_field)


class OrderIn(BaseModel):
    """An order as the webstore posts it (hub-api.md)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    number: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    ]
    placed_at: datetime
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    customer_id: Annotated[str, StringConstraints(max_length=64)] = ""
    billing: AddressIn = Field(default_factory=AddressIn)
    shipping: AddressIn = Field(default_factory=AddressIn)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=50)
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    shipping_cost: Decimal = Decimal("0.00")
    shipping_carrier: Annotated[str, StringConstraints(max_length=64)] = ""
    shipping_method: Annotated[str, StringConstraints(max_length=64)] = ""
    tax: Decimal = Decimal("0.00")
    total: Decimal
    comment: Annotated[str, StringConstraints(max_length=4000)] = ""
    channel: Annotated[str, StringConstraints(max_length=32)] = "webstore"

    _money = field_validator("shipping_cost", "tax", "total", mode="before")(_money_field)

    @field_validator("placed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone offset")
        return value

    @model_validator(mode="after")
    def _totals_add_up(self) -> OrderIn:
        lines = sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))
        expected = (lines + self.shipping_cost + self.tax).quantize(CENT)
        if expected != self.total:
            raise ValueError(
                f"total {self.total} does not equal lines {lines.quantize(CENT)} + shipping "
                f"{self.shipping_cost} + tax {self.tax} = {expected}"
            )
        return self

    def body_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def find_order(session: Session, tenant_id: int, number: str) -> Order:
    order = session.exec(
        select(Order).where(Order.tenant_id == tenant_id, Order.number == number)
    ).first()
    if order is None:
        raise NotFound(f"no order {number!r}")
    return order


def store_order(session: Session, tenant_id: int, body: OrderIn) -> tuple[Order, bool]:
    """Store a new order, or return the stored one when the same body comes again.

    :return: the order and whether it was created. A different body with a stored number
        raises :class:`Conflict`.
    """
    digest = body.body_hash()
    existing = session.exec(
        select(Order).where(Order.tenant_id == tenant_id, Order.number == body.number)
    ).first()
    if existing is not None:
        if existing.body_hash == digest:
            return existing, False
        raise Conflict(f"order {body.number!r} exists with a different body")
    skus = {line.sku for line in body.lines}
    products = {
        p.sku: p.id
        for p in session.exec(
            select(Product).where(Product.tenant_id == tenant_id, col(Product.sku).in_(skus))
        )
    }
    order = Order(
        tenant_id=tenant_id,
        number=body.number,
        channel=body.channel,
        placed_at=body.placed_at,
        currency=body.currency,
        customer_id=body.customer_id,
        billing=body.billing.model_dump(),
        shipping=body.shipping.model_dump(),
        payments=[p.model_dump(mode="json") for p in body.payments],
        shipping_cost=body.shipping_cost,
        shipping_carrier=body.shipping_carrier,
        shipping_method=body.shipping_method,
        tax=body.tax,
        total=body.total,
        comment=body.comment,
        body_hash=digest,
    )
    session.add(order)
    session.flush()
    assert order.id is not None
    for no, line in enumerate(body.lines, start=1):
        session.add(
            OrderLine(
                order_id=order.id,
                line_no=no,
                sku=line.sku,
                product_id=products.get(line.sku),
                quantity=line.quantity,
                unit_price=line.unit_price,
                manufacturer=line.manufacturer,
                description=line.description,
                location_code=line.location,
            )
        )
    session.flush()
    return order, True


def order_lines(session: Session, order_id: int) -> list[OrderLine]:
    return list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(col(OrderLine.line_no))
        )
    )


def order_view(session: Session, order: Order) -> OrderView:
    """The order as plugins see it, lines joined with their products."""
    return order_views(session, [order])[0]


def order_views(session: Session, orders: Sequence[Order]) -> list[OrderView]:
    """Views of several orders with one query for all their lines."""
    ids = [o.id for o in orders if o.id is not None]
    lines_of: dict[int, list[OrderLineView]] = {i: [] for i in ids}
    if ids:
        rows = session.exec(
            select(OrderLine, Product)
            .join(Product, col(Product.id) == col(OrderLine.product_id), isouter=True)
            .where(col(OrderLine.order_id).in_(ids))
            .order_by(col(OrderLine.order_id), col(OrderLine.line_no))
        ).all()
        for line, product in rows:
            lines_of[line.order_id].append(
                OrderLineView(
                    id=line.id or 0,
                    line_no=line.line_no,
                    sku=line.sku,
                    quantity=line.quantity,
                    canceled_quantity=line.canceled_quantity,
                    shipped_quantity=line.shipped_quantity,
                    unit_price=money(line.unit_price),
                    manufacturer=line.manufacturer,
                    description=line.description,
                    product_id=line.product_id,
                    catalog=product.catalog if product else None,
                    brand=product.brand if product else None,
                    part_number=(product.part_number or product.sku) if product else None,
                )
            )
    views = []
    for order in orders:
        assert order.id is not None
        views.append(
            OrderView(
                id=order.id,
                number=order.number,
                status=order.status,
                channel=order.channel,
                placed_at=order.placed_at,
                currency=order.currency,
                customer_id=order.customer_id,
                billing=dict(order.billing),
                shipping=dict(order.shipping),
                payments=list(order.payments),
                shipping_cost=money(order.shipping_cost),
                shipping_carrier=order.shipping_carrier,
                shipping_method=order.shipping_method,
                tax=money(order.tax),
                total=money(order.total),
                comment=order.comment,
                lines=tuple(lines_of[order.id]),
                canceled_at=order.canceled_at,
                cancel_reason=order.cancel_reason,
            )
        )
    return views


def add_note(
    session: Session, order: Order, message: str, *, source: str = "hub", code: str = ""
) -> OrderNote:
    assert order.id is not None
    note = OrderNote(order_id=order.id, source=source, code=code, message=message)
    session.add(note)
    return note


def touch(session: Session, order: Order, reason: str) -> None:
    """Mark the order changed and raise ``order.updated`` (in the same transaction)."""
    order.updated_at = utcnow()
    session.add(order)
    session.flush()
    webhooks.emit(
        session,
        order.tenant_id,
        "order.updated",
        {"number": order.number, "status": order.status, "reason": reason},
    )


def touch_row(
    lane: Lane, tenant_id: int, order_id: int, number: str, status: str, reason: str
) -> None:
    """:func:`touch` for an order that was not loaded, on the lane (hot paths such as a
    vendor acknowledging orders one request at a time)."""
    lane.run(
        "UPDATE orders SET updated_at = :now WHERE id = :id", now=lane.when(utcnow()), id=order_id
    )
    webhooks.emit_on(
        lane, tenant_id, "order.updated", [{"number": number, "status": status, "reason": reason}]
    )


def add_note_rows(lane: Lane, order_id: int, source: str, notes: Sequence[tuple[str, str]]) -> None:
    """Record ``(code, message)`` notes on an order, on the lane."""
    now = lane.when(utcnow())
    lane.run_many(
        "INSERT INTO order_notes (order_id, source, code, message, created_at)"
        " VALUES (:order_id, :source, :code, :message, :created_at)",
        [
            {
                "order_id": order_id,
                "source": source,
                "code": code,
                "message": message,
                "created_at": now,
            }
            for code, message in notes
        ],
    )


def cancel_order(session: Session, order: Order, reason: str, *, source: str = "hub") -> bool:
    """Cancel an order. Exports that the vendor already downloaded get a pending
    cancellation (the DMS lists it until it acknowledges). Returns False if already canceled."""
    if order.status == "canceled":
        return False
    if order.status in ("shipped", "completed"):
        raise Conflict(f"order {order.number!r} is {order.status} and cannot be canceled")
    order.status = "canceled"
    order.canceled_at = utcnow()
    order.cancel_reason = reason
    add_note(session, order, f"Canceled: {reason}" if reason else "Canceled", source=source)
    for export in session.exec(select(OrderExport).where(OrderExport.order_id == order.id)):
        if export.queue_at is not None:  # never offered again
            export.queue_at = None
            export.updated_at = utcnow()
            session.add(export)
        if export.state == "acknowledged" and source != export.plugin_id:
            export.cancel_state = "pending"
            export.canceled_at = utcnow()
            export.updated_at = utcnow()
            session.add(export)
    touch(session, order, "canceled")
    return True


def cancel_line(
    session: Session, order: Order, line_id: int, quantity: int, note: str, *, source: str
) -> None:
    """Cancel up to ``quantity`` of a line's open quantity (never more than is open), with a
    note; raises ``order.updated``."""
    line = session.get(OrderLine, line_id)
    if line is None or line.order_id != order.id:
        raise NotFound(f"order {order.number!r} has no line {line_id}")
    open_qty = line.quantity - line.canceled_quantity - line.shipped_quantity
    line.canceled_quantity += max(0, min(quantity, open_qty))
    session.add(line)
    add_note(session, order, note, source=source)
    touch(session, order, f"{source}: line canceled")


def record_shipment(
    session: Session,
    order: Order,
    *,
    carrier: str,
    method: str,
    tracking_number: str,
    items: list[tuple[int, int]],
    shipped_at: datetime | None = None,
    source: str = "",
) -> bool:
    """Record a shipment of ``items`` ((line id, quantity) pairs). The same shipment (same
    tracking number and items) is recorded once; returns whether it was new."""
    assert order.id is not None
    canonical = json.dumps([tracking_number, sorted(items)], separators=(",", ":"))
    key = hashlib.sha256(canonical.encode()).hexdigest()[:40]
    if (
        session.exec(
            select(Shipment).where(Shipment.order_id == order.id, Shipment.dedupe_key == key)
        ).first()
        is not None
    ):
        return False
    lines = {line.id: line for line in order_lines(session, order.id)}
    for line_id, qty in items:
        line = lines.get(line_id)
        if line is None:
            raise Invalid(f"order {order.number!r} has no line {line_id}")
        open_qty = line.quantity - line.canceled_quantity - line.shipped_quantity
        line.shipped_quantity += min(qty, max(open_qty, 0))
        session.add(line)
    session.add(
        Shipment(
            order_id=order.id,
            carrier=carrier,
            method=method,
            tracking_number=tracking_number,
            shipped_at=shipped_at or utcnow(),
            dedupe_key=key,
            source=source,
            items=[{"line_id": i, "quantity": q} for i, q in items],
        )
    )
    if order.status != "canceled":
        remaining = sum(
            max(line.quantity - line.canceled_quantity - line.shipped_quantity, 0)
            for line in lines.values()
        )
        order.status = "shipped" if remaining == 0 else "partially_shipped"
    add_note(
        session,
        order,
        f"Shipped via {carrier} {method}, tracking {tracking_number}".strip(),
        source=source,
    )
    touch(session, order, "shipped")
    return True


def order_detail(session: Session, order: Order) -> dict[str, Any]:
    """:func:`order_detail_by_number` of an order of this session (pending changes flushed)."""
    session.flush()
    return order_detail_by_number(session.connection(), order.tenant_id, order.number)


_orders = Order.__table__  # type: ignore[attr-defined]
_lines = OrderLine.__table__  # type: ignore[attr-defined]
_notes = OrderNote.__table__  # type: ignore[attr-defined]
_shipments = Shipment.__table__  # type: ignore[attr-defined]
_exports = OrderExport.__table__  # type: ignore[attr-defined]


def order_detail_by_number(conn: Connection, tenant_id: int, number: str) -> dict[str, Any]:
    """The order as the REST API shows it: with lines, notes, shipments and exports (404).

    Plain ``SELECT``s on SQLAlchemy Core: the order page is the API's hottest read, and the
    ORM's identity map would cost more than the queries themselves."""
    order = (
        conn.execute(
            sa_select(_orders).where(_orders.c.tenant_id == tenant_id, _orders.c.number == number)
        )
        .mappings()
        .first()
    )
    if order is None:
        raise NotFound(f"no order {number!r}")
    oid = order["id"]
    lines = (
        conn.execute(sa_select(_lines).where(_lines.c.order_id == oid).order_by(_lines.c.line_no))
        .mappings()
        .all()
    )
    notes = (
        conn.execute(sa_select(_notes).where(_notes.c.order_id == oid).order_by(_notes.c.id))
        .mappings()
        .all()
    )
    shipments = (
        conn.execute(
            sa_select(_shipments).where(_shipments.c.order_id == oid).order_by(_shipments.c.id)
        )
        .mappings()
        .all()
    )
    exports = (
        conn.execute(
            sa_select(_exports).where(_exports.c.order_id == oid).order_by(_exports.c.plugin_id)
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
