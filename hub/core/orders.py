"""Orders: intake with validation, the order view, notes, shipments, cancellation."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection
from sqlalchemy import insert as sa_insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.direct_sql import DirectSql, in_list, insert_rows
from hub.core.errors import Conflict, Invalid, NotFound
from hub.core.inputs import (
    MONEY_PATTERN,
    MONEY_RE,
    NONBLANK_PATTERN,
    AwareDateTime,
    JsonBool,
    JsonInt,
    aware_datetime,
    nonblank,
    strip_strings,
)
from hub.core.models import Order, OrderExport, OrderLine, OrderNote, Product, Shipment
from hub.core.records import OrderLineView, OrderView, captured_amount, open_quantity
from hub.core.types import money, utcnow

__all__ = [
    "AddressIn",
    "FulfillmentIn",
    "LineIn",
    "OrderImport",
    "OrderImported",
    "OrderIn",
    "PaymentAdd",
    "PaymentIn",
    "StoredOrder",
    "add_note",
    "add_notes_bulk",
    "add_payment",
    "cancel_line",
    "cancel_order",
    "emit_orders_created",
    "export_briefs",
    "find_order",
    "mark_order_updated",
    "order_detail",
    "order_detail_by_number",
    "order_view",
    "page_orders",
    "record_fulfillment",
    "record_shipment",
    "set_status",
    "store_order",
    "store_orders",
]

Text200 = Annotated[str, StringConstraints(max_length=200)]
CENT = Decimal("0.01")
ORDER_STATUSES = ("open", "partially_shipped", "shipped", "canceled", "completed")


Money = Annotated[Decimal, Field(json_schema_extra={"pattern": MONEY_PATTERN})]
"""An order amount: a string matching :data:`~hub.core.inputs.MONEY_PATTERN`."""


_MONEY_LIMIT = Decimal("1e12")


def _money_field(value: Any) -> Decimal:
    """A money amount: a string matching ``MONEY_PATTERN`` (a JSON number is refused: its
    float would not say which cents were meant); a ``Decimal`` from Python code."""
    if isinstance(value, Decimal) and value.is_finite():
        amount = value
    elif isinstance(value, str) and MONEY_RE.fullmatch(value):
        amount = Decimal(value)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}\.[0-9]{3,}", value):
        raise ValueError("must have at most two decimal places")
    else:
        raise ValueError('must be a decimal string such as "24.95"')
    if abs(amount) >= _MONEY_LIMIT:
        raise ValueError("is too large")
    cents = amount.quantize(CENT)
    if amount != cents:
        raise ValueError("must have at most two decimal places")
    return cents


def _stripped(model: Any) -> Any:
    # Lengths and patterns are checked on the strings as sent (what the document states);
    # the stored values are stripped.
    strip_strings(model)
    return model


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

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

    _strip = model_validator(mode="after")(_stripped)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Money
    captured: JsonBool = True

    _amount = field_validator("amount", mode="before")(_money_field)


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        json_schema_extra={"pattern": NONBLANK_PATTERN}
    )
    quantity: JsonInt = Field(gt=0, le=1_000_000)
    unit_price: Money
    manufacturer: Text200 = ""
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    location: Annotated[str, StringConstraints(max_length=64)] = ""

    _price = field_validator("unit_price", mode="before")(_money_field)
    _sku = field_validator("sku")(nonblank)
    _strip = model_validator(mode="after")(_stripped)


class OrderIn(BaseModel):
    """An order as the webstore posts it (hub-api.md)."""

    model_config = ConfigDict(extra="forbid")

    number: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    ]
    placed_at: AwareDateTime
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    customer_id: Annotated[str, StringConstraints(max_length=64)] = ""
    billing: AddressIn = Field(default_factory=AddressIn)
    shipping: AddressIn = Field(default_factory=AddressIn)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=50)
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    shipping_cost: Money = Decimal("0.00")
    shipping_carrier: Annotated[str, StringConstraints(max_length=64)] = ""
    shipping_method: Annotated[str, StringConstraints(max_length=64)] = ""
    tax: Money = Decimal("0.00")
    total: Money
    comment: Annotated[str, StringConstraints(max_length=4000)] = ""
    channel: Annotated[str, StringConstraints(max_length=32)] = "webstore"

    _money = field_validator("shipping_cost", "tax", "total", mode="before")(_money_field)

    @field_validator("placed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        aware_datetime(value)
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
        strip_strings(self)
        return self

    def body_hash(self) -> str:
        return _digest(self.model_dump(mode="json"))


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


@dataclass(frozen=True, slots=True)
class OrderImport:
    """One vendor record (e.g. a POS sale) to import as an order with its stock movements
    (see ``PluginContext.import_orders``): the order, the vendor's id of the record, the
    movements ``(product id, location code, delta)`` its import stands for, and notes
    ``(message, code)`` recorded when the order is created."""

    order: OrderIn
    vendor_id: str
    stock: tuple[tuple[int, str, int], ...] = ()
    notes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OrderImported:
    """What ``import_orders`` did with one :class:`OrderImport`: the order's number and id,
    whether this call created it, whether it booked its stock movements (False when an
    earlier import did), and ``conflict`` when a stored order with that number has another
    body (kept as stored)."""

    number: str
    order_id: int
    created: bool
    stock_moved: bool
    conflict: bool = False


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """What :func:`store_orders` did with one body: the order's id, number and status,
    whether this call created it, and ``conflict`` when a stored order with that number has
    another body (kept as stored)."""

    order_id: int
    number: str
    status: str
    created: bool
    conflict: bool = False


def _row_template(model: type[Any], **required: Any) -> dict[str, Any]:
    """Every column of ``model`` with its default (one instance per batch, so a column added
    later with a default is filled here too), for a bulk insert. Read from the model's
    fields rather than by building an instance (a table model's constructor costs about
    half a millisecond)."""
    row = {
        name: field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        for name, field in model.model_fields.items()
        if name != "id"
    }
    row.update(required)
    return row


# ``json.dumps(…, sort_keys=True, separators=(",", ":"))``, built once (a dump holds no
# cycles to check for).
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)


def _digest(dumped: dict[str, Any]) -> str:
    """:meth:`OrderIn.body_hash` of an order's ``model_dump(mode="json")``."""
    return hashlib.sha256(_CANONICAL_JSON.encode(dumped).encode()).hexdigest()


_LOOKUP_CHUNK = 500


def _order_ids(
    sql: DirectSql, tenant_id: int, numbers: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Number → ``(id, status, body hash)`` of the tenant's stored orders among ``numbers``."""
    found: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(numbers), _LOOKUP_CHUNK):
        marks, params = in_list(numbers[start : start + _LOOKUP_CHUNK])
        for order_id, number, status, digest in sql.rows(
            f"SELECT id, number, status, body_hash FROM orders "
            f"WHERE tenant_id = :t AND number IN ({marks})",
            t=tenant_id,
            **params,
        ):
            found[str(number)] = (int(order_id), str(status), str(digest))
    return found


def store_orders(session: Session, tenant_id: int, bodies: Sequence[OrderIn]) -> list[StoredOrder]:
    """:func:`store_order` for a batch, in the caller's transaction, in a few statements for
    the whole batch (one lookup of the numbers, one of the SKUs, one bulk insert of the
    orders and one of their lines, on the driver's connection) — a vendor's page of sales
    costs about what one order does. Never raises :class:`Conflict`: a stored order with
    another body is returned as it is, ``conflict`` set. A number given twice is created
    once."""
    sql = DirectSql.of(session)
    numbers = sorted({b.number for b in bodies})
    existing = _order_ids(sql, tenant_id, numbers)  # number → (id, status, body hash)
    skus = sorted({line.sku for b in bodies for line in b.lines})
    products: dict[str, int] = {}
    for start in range(0, len(skus), _LOOKUP_CHUNK):
        marks, params = in_list(skus[start : start + _LOOKUP_CHUNK])
        for pid, sku in sql.rows(
            f"SELECT id, sku FROM products WHERE tenant_id = :t AND sku IN ({marks})",
            t=tenant_id,
            **params,
        ):
            products[str(sku)] = int(pid or 0)
    template = _row_template(Order, tenant_id=tenant_id, number="-")
    results: list[StoredOrder | None] = []
    new: list[tuple[int, OrderIn, dict[str, Any]]] = []
    pending: dict[str, str] = {}
    digests: list[str] = []
    for n, body in enumerate(bodies):
        dumped = body.model_dump(mode="json")
        digest = _digest(dumped)
        digests.append(digest)
        found = existing.get(body.number)
        if found is not None:
            results.append(
                StoredOrder(found[0], body.number, found[1], False, conflict=found[2] != digest)
            )
            continue
        if body.number in pending:  # twice in this batch: the first one is stored
            results.append(None)
            new.append((n, body, {}))
            continue
        pending[body.number] = digest
        row = dict(template)
        row.update(
            number=body.number,
            channel=body.channel,
            placed_at=body.placed_at,
            currency=body.currency,
            customer_id=body.customer_id,
            # The addresses and payments as JSON: what the model dumps of them.
            billing=dumped["billing"],
            shipping=dumped["shipping"],
            payments=dumped["payments"],
            shipping_cost=body.shipping_cost,
            shipping_carrier=body.shipping_carrier,
            shipping_method=body.shipping_method,
            tax=body.tax,
            total=body.total,
            comment=body.comment,
            body_hash=digest,
        )
        new.append((n, body, row))
        results.append(None)
    order_rows = [row for _, _, row in new if row]
    if order_rows:
        insert_rows(session, Order.__table__, order_rows)  # type: ignore[attr-defined]
        ids = {
            number: int(found[0])
            for number, found in _order_ids(
                sql, tenant_id, [str(row["number"]) for row in order_rows]
            ).items()
        }
        line_template = _row_template(
            OrderLine, order_id=0, line_no=0, sku="-", quantity=0, unit_price=Decimal(0)
        )
        lines: list[dict[str, Any]] = []
        for n, body, row in new:
            order_id = ids[body.number]
            if not row:
                results[n] = StoredOrder(
                    order_id,
                    body.number,
                    "open",
                    False,
                    conflict=digests[n] != pending[body.number],
                )
                continue
            results[n] = StoredOrder(order_id, body.number, str(row["status"]), True)
            for no, line in enumerate(body.lines, start=1):
                values = dict(line_template)
                values.update(
                    order_id=order_id,
                    line_no=no,
                    sku=line.sku,
                    product_id=products.get(line.sku),
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    manufacturer=line.manufacturer,
                    description=line.description,
                    location_code=line.location,
                )
                lines.append(values)
        insert_rows(session, OrderLine.__table__, lines)  # type: ignore[attr-defined]
    return [r for r in results if r is not None]


def add_notes_bulk(session: Session, notes: Sequence[tuple[int, str, str, str]]) -> None:
    """Record ``(order id, source, code, message)`` notes in one statement."""
    if not notes:
        return
    template = _row_template(OrderNote, order_id=0)
    rows = []
    for order_id, source, code, message in notes:
        row = dict(template)
        row.update(order_id=order_id, source=source, code=code, message=message)
        rows.append(row)
    session.execute(sa_insert(OrderNote.__table__), rows)  # type: ignore[attr-defined]


def emit_orders_created(session: Session, tenant_id: int, created: Sequence[StoredOrder]) -> None:
    """Raise ``order.updated`` (reason ``created``) for the orders a batch created, in one
    emission (their ``updated_at`` is their creation time already)."""
    if created:
        webhooks.emit_many(
            session,
            tenant_id,
            "order.updated",
            [{"number": o.number, "status": o.status, "reason": "created"} for o in created],
        )


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
                    fulfilled_quantity=line.fulfilled_quantity,
                    location_code=line.location_code,
                    upc=product.upc if product else None,
                    ean=product.ean if product else None,
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


def mark_order_updated(session: Session, order: Order, reason: str) -> None:
    """Move the order's ``updated_at`` and raise ``order.updated`` with ``reason`` (in the
    same transaction)."""
    order.updated_at = utcnow()
    session.add(order)
    session.flush()
    webhooks.emit(
        session,
        order.tenant_id,
        "order.updated",
        {"number": order.number, "status": order.status, "reason": reason},
    )


def mark_order_updated_direct(
    sql: DirectSql, tenant_id: int, order_id: int, number: str, status: str, reason: str
) -> None:
    """:func:`mark_order_updated` for an order that was not loaded, through direct SQL (hot
    paths such as a vendor acknowledging orders one request at a time)."""
    sql.run(
        "UPDATE orders SET updated_at = :now WHERE id = :id", now=sql.when(utcnow()), id=order_id
    )
    webhooks.emit_on(
        sql, tenant_id, "order.updated", [{"number": number, "status": status, "reason": reason}]
    )


def add_notes_direct(
    sql: DirectSql, order_id: int, source: str, notes: Sequence[tuple[str, str]]
) -> None:
    """Record ``(code, message)`` notes on an order, through direct SQL."""
    now = sql.when(utcnow())
    sql.run_many(
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
    # Imported here: the export state machine builds on this module (notes, order.updated).
    from hub.core.exports import cancel_exports

    assert order.id is not None
    cancel_exports(DirectSql.of(session), order.id, source=source)
    mark_order_updated(session, order, "canceled")
    return True


def cancel_line(
    session: Session, order: Order, line_id: int, quantity: int, note: str, *, source: str
) -> None:
    """Cancel up to ``quantity`` of a line's open quantity (never more than is open), with a
    note; raises ``order.updated``."""
    line = session.get(OrderLine, line_id)
    if line is None or line.order_id != order.id:
        raise NotFound(f"order {order.number!r} has no line {line_id}")
    open_qty = open_quantity(line.quantity, line.canceled_quantity, line.shipped_quantity)
    line.canceled_quantity += max(0, min(quantity, open_qty))
    session.add(line)
    add_note(session, order, note, source=source)
    mark_order_updated(session, order, f"{source}: line canceled")


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
        line.shipped_quantity += min(
            qty, open_quantity(line.quantity, line.canceled_quantity, line.shipped_quantity)
        )
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
            open_quantity(line.quantity, line.canceled_quantity, line.shipped_quantity)
            for line in lines.values()
        )
        order.status = "shipped" if remaining == 0 else "partially_shipped"
    add_note(
        session,
        order,
        f"Shipped via {carrier} {method}, tracking {tracking_number}".strip(),
        source=source,
    )
    mark_order_updated(session, order, "shipped")
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
        "balance_due": str(money(order["total"]) - captured_amount(order["payments"])),
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
                "fulfilled_quantity": line["fulfilled_quantity"],
                "line_no": line["line_no"],
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


# -- payments and fulfilments ---------------------------------------------------------------
# Rules decided here: ``balance_due`` is total less captured payments; a payment or a
# fulfilment carrying a ``reference`` is recorded once (the same call again changes nothing;
# the same reference with a different body is a conflict); a captured payment may not exceed
# the balance due, a fulfilment not a line's unfulfilled quantity (422, nothing recorded).
# Each change raises ``order.updated``; the reason says when it made the order balanced
# (``paid``) or every line fulfilled (``fulfilled``).

Reference = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PaymentAdd(BaseModel):
    """A payment recorded after the order was placed (``POST …/orders/{number}/payments``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    amount: Money
    captured: bool = True
    reference: Reference | None = None

    _amount = field_validator("amount", mode="before")(_money_field)

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("must be more than 0.00")
        return value


class FulfillmentLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    line_no: int | None = Field(default=None, ge=1)
    sku: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    quantity: int = Field(gt=0, le=1_000_000)

    @model_validator(mode="after")
    def _one_key(self) -> FulfillmentLineIn:
        if (self.line_no is None) == (self.sku is None):
            raise ValueError("give either line_no or sku")
        return self


class FulfillmentIn(BaseModel):
    """Lines fulfilled by a supplier or in store (``POST …/orders/{number}/fulfillments``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source: Literal["supplier", "store"]
    lines: list[FulfillmentLineIn] = Field(min_length=1, max_length=1000)
    reference: Reference | None = None


MAX_PAYMENTS = 100


def balance_due(order: Order) -> Decimal:
    """Total less captured payments."""
    return (money(order.total) - captured_amount(list(order.payments))).quantize(CENT)


def add_payment(session: Session, order: Order, body: PaymentAdd, *, source: str = "api") -> bool:
    """Record a payment; False when a payment with its ``reference`` is recorded already.
    409 for a canceled order or a reference used with a different payment; 422 for a
    captured amount above the balance due."""
    entry = {
        "method": body.method,
        "amount": str(body.amount),
        "captured": body.captured,
        "reference": body.reference,
    }
    stored = list(order.payments)
    if body.reference is not None:
        for payment in stored:
            if payment.get("reference") == body.reference:
                same = (
                    payment.get("method") == body.method
                    and money(Decimal(str(payment.get("amount")))) == body.amount
                    and bool(payment.get("captured", True)) == body.captured
                )
                if same:
                    return False
                raise Conflict(
                    f"payment {body.reference!r} of order {order.number!r} was recorded "
                    "with a different method, amount or capture"
                )
    if order.status == "canceled":
        raise Conflict(f"order {order.number!r} is canceled")
    if len(stored) >= MAX_PAYMENTS:
        raise Conflict(f"order {order.number!r} has {MAX_PAYMENTS} payments already")
    due = balance_due(order)
    if body.captured and body.amount > due:
        raise Invalid(
            f"the payment of {body.amount} is more than the balance due {due}",
            fields={"amount": f"at most the balance due, {due}"},
        )
    order.payments = [*stored, entry]
    balanced = body.captured and body.amount == due
    captured = "captured" if body.captured else "authorised"
    add_note(
        session,
        order,
        f"Payment of {body.amount} by {body.method} {captured}"
        + (f" ({body.reference})" if body.reference else "")
        + ("; the order is paid in full" if balanced else ""),
        source=source,
    )
    mark_order_updated(session, order, "paid" if balanced else "payment")
    return True


def record_fulfillment(
    session: Session, order: Order, body: FulfillmentIn, *, source: str = "api"
) -> bool:
    """Record fulfilled quantities; False when a fulfilment with its ``reference`` is
    recorded already. 409 for a canceled order or a reference used with other lines; 422
    (naming ``lines[n]``) for an unknown line or more than a line's unfulfilled quantity."""
    from hub.core.models import OrderFulfillment

    assert order.id is not None
    wanted = [line.model_dump(exclude_none=True) for line in body.lines]
    if body.reference is not None:
        existing = session.exec(
            select(OrderFulfillment).where(
                OrderFulfillment.order_id == order.id,
                OrderFulfillment.reference == body.reference,
            )
        ).first()
        if existing is not None:
            if existing.source == body.source and list(existing.lines) == wanted:
                return False
            raise Conflict(
                f"fulfilment {body.reference!r} of order {order.number!r} was recorded with "
                "other lines"
            )
    if order.status == "canceled":
        raise Conflict(f"order {order.number!r} is canceled")
    lines = order_lines(session, order.id)
    by_no = {line.line_no: line for line in lines}
    open_of = {
        line.line_no: open_quantity(line.quantity, line.canceled_quantity, line.fulfilled_quantity)
        for line in lines
    }
    problems: dict[str, str] = {}
    taken: dict[int, int] = {}
    for n, item in enumerate(body.lines):
        if item.line_no is not None:
            candidates = [by_no[item.line_no]] if item.line_no in by_no else []
        else:
            candidates = [line for line in lines if line.sku == item.sku]
        if not candidates:
            key = "line_no" if item.line_no is not None else "sku"
            problems[f"lines[{n}].{key}"] = f"order {order.number!r} has no such line"
            continue
        remaining = item.quantity
        for line in candidates:  # a SKU on several lines fills them in order
            free = open_of[line.line_no] - taken.get(line.line_no, 0)
            step = min(free, remaining)
            if step > 0:
                taken[line.line_no] = taken.get(line.line_no, 0) + step
                remaining -= step
        if remaining:
            problems[f"lines[{n}].quantity"] = (
                f"more than the open quantity ({item.quantity - remaining} open)"
            )
    if problems:
        raise Invalid("a fulfilment names more than is open; nothing was recorded", fields=problems)
    for line_no, quantity in taken.items():
        line = by_no[line_no]
        line.fulfilled_quantity += quantity
        session.add(line)
    session.add(
        OrderFulfillment(
            order_id=order.id, source=body.source, reference=body.reference, lines=wanted
        )
    )
    done = all(open_of[no] - taken.get(no, 0) == 0 for no in open_of)
    by = "a supplier" if body.source == "supplier" else "the store"
    add_note(
        session,
        order,
        f"{sum(taken.values())} item(s) fulfilled by {by}"
        + (f" ({body.reference})" if body.reference else "")
        + ("; every line is fulfilled" if done else ""),
        source=source,
    )
    mark_order_updated(session, order, "fulfilled" if done else "fulfillment")
    return True


def set_status(session: Session, order: Order, status: str, *, source: str) -> bool:
    """Set the order's status (e.g. a plugin's ``status_after_export``); False when it has it
    already. 409 for a canceled order; 422 for an unknown status (``canceled`` goes through
    :func:`cancel_order`)."""
    if status not in ORDER_STATUSES or status == "canceled":
        raise Invalid(f"unknown order status {status!r}", fields={"status": "not a status"})
    if order.status == status:
        return False
    if order.status == "canceled":
        raise Conflict(f"order {order.number!r} is canceled")
    before = order.status
    order.status = status
    add_note(session, order, f"Status {before} → {status}", source=source)
    mark_order_updated(session, order, f"{source}: status")
    return True


def page_orders(
    session: Session,
    tenant_id: int,
    *,
    status: str | None = None,
    export_state: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[Order]:
    """A page of the tenant's orders, newest first: up to ``limit + 1`` rows (one more than
    asked: a next page exists) with an id below ``before``; ``status`` filters the order's
    status, ``export_state`` keeps orders with an export in that state (any plugin). The
    REST list and the admin console both read orders through this."""
    query = select(Order).where(Order.tenant_id == tenant_id)
    if status is not None:
        query = query.where(Order.status == status)
    if export_state is not None:
        exported = select(OrderExport.id).where(
            col(OrderExport.order_id) == col(Order.id), OrderExport.state == export_state
        )
        query = query.where(exported.exists())
    if before is not None:
        query = query.where(col(Order.id) < before)
    return list(session.exec(query.order_by(col(Order.id).desc()).limit(limit + 1)))


def export_briefs(session: Session, order_ids: Sequence[int]) -> dict[int, list[dict[str, str]]]:
    """Order id → its exports as an order list shows them (``plugin_id, state, message``:
    e.g. ``Unbalanced`` while an order waits to be paid), one query."""
    briefs: dict[int, list[dict[str, str]]] = {}
    if not order_ids:
        return briefs
    for export in session.exec(
        select(OrderExport)
        .where(col(OrderExport.order_id).in_(list(order_ids)))
        .order_by(col(OrderExport.plugin_id))
    ):
        briefs.setdefault(export.order_id, []).append(
            {"plugin_id": export.plugin_id, "state": export.state, "message": export.message}
        )
    return briefs
