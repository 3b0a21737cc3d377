"""The order-export state machine: one row per (order, exporting install).

::

    pending ──offer──▶ offered ──acknowledge──▶ acknowledged
       ▲                  │  ╲──reject──▶ rejected ─┐
       │                  ╲────fail───▶ failed ─────┤
       └──────────────────────── retry ─────────────┘

An offered export stays on offer (is offered again) until it is acknowledged, rejected or
failed. Every transition is one conditional ``UPDATE``, so two pollers or workers acting at
once cannot move a row twice; acknowledging twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.core.errors import Conflict, NotFound
from hub.core.models import Order, OrderExport, OrderLine, Product
from hub.core.orders import add_note, touch
from hub.core.types import utcnow

__all__ = [
    "OPEN_STATES",
    "acknowledge",
    "acknowledge_cancellation",
    "create_export",
    "fail",
    "offer",
    "pending_cancellations",
    "reject",
    "retry",
]

OPEN_STATES = ("pending", "offered")


def create_export(session: Session, order: Order, install_id: int, plugin_id: str) -> OrderExport:
    """The export row of ``order`` for one install (created once; unique per pair)."""
    existing = session.exec(
        select(OrderExport).where(
            OrderExport.order_id == order.id, OrderExport.install_id == install_id
        )
    ).first()
    if existing is not None:
        return existing
    assert order.id is not None
    export = OrderExport(
        tenant_id=order.tenant_id,
        order_id=order.id,
        install_id=install_id,
        plugin_id=plugin_id,
        queue_at=order.placed_at if order.status != "canceled" else None,
    )
    session.add(export)
    session.flush()
    return export


def queued(session: Session, install_id: int, limit: int = 30) -> list[tuple[OrderExport, Order]]:
    """Exports still to be taken by the vendor, oldest order first, at most ``limit``
    (read-only: one index range scan on ``queue_at``)."""
    return list(
        session.exec(
            select(OrderExport, Order)
            .join(Order, col(Order.id) == col(OrderExport.order_id))
            .where(OrderExport.install_id == install_id, col(OrderExport.queue_at).is_not(None))
            .order_by(col(OrderExport.queue_at), col(OrderExport.order_id))
            .limit(limit)
        ).all()
    )


def queue_fingerprint(session: Session, install_id: int, limit: int = 30) -> tuple[Any, ...]:
    """A cheap value that changes whenever what :func:`queued` and
    :func:`pending_cancellations` would list changes: the listed exports, their orders and
    their orders' products (ids and update times). Lets a vendor endpoint reuse a document
    it built for an unchanged queue."""
    queue_rows = session.execute(
        sa_select(
            col(OrderExport.id),
            col(OrderExport.state),
            col(OrderExport.updated_at),
            col(Order.id),
            col(Order.updated_at),
        )
        .join(Order, col(Order.id) == col(OrderExport.order_id))
        .where(col(OrderExport.install_id) == install_id, col(OrderExport.queue_at).is_not(None))
        .order_by(col(OrderExport.queue_at), col(OrderExport.order_id))
        .limit(limit)
    ).all()
    cancel_rows = session.execute(
        select(OrderExport.id, OrderExport.updated_at)
        .where(OrderExport.install_id == install_id, OrderExport.cancel_state == "pending")
        .order_by(col(OrderExport.id))
    ).all()
    order_ids = [row[3] for row in queue_rows]
    products = (
        session.execute(
            select(func.max(Product.updated_at))
            .join(OrderLine, col(OrderLine.product_id) == col(Product.id))
            .where(col(OrderLine.order_id).in_(order_ids))
        ).scalar()
        if order_ids
        else None
    )
    return (tuple(map(tuple, queue_rows)), tuple(map(tuple, cancel_rows)), products)


def mark_offered(session: Session, export_ids: Sequence[int]) -> None:
    """Pending exports that were just listed become ``offered`` (already offered stay so)."""
    if export_ids:
        now = utcnow()
        session.execute(
            update(OrderExport)
            .where(col(OrderExport.id).in_(export_ids), col(OrderExport.state) == "pending")
            .values(
                state="offered", offered_at=now, attempts=OrderExport.attempts + 1, updated_at=now
            )
        )


def offer(session: Session, install_id: int, limit: int = 30) -> list[tuple[OrderExport, Order]]:
    """Exports still to be taken by the vendor, oldest order first, at most ``limit``; they
    become ``offered`` (and stay on offer until acknowledged)."""
    rows = queued(session, install_id, limit)
    mark_offered(session, [e.id for e, _ in rows if e.state == "pending" and e.id is not None])
    return rows


def _transition(
    session: Session, export: OrderExport, to: str, from_states: Sequence[str], **values: object
) -> bool:
    result = session.execute(
        update(OrderExport)
        .where(col(OrderExport.id) == export.id, col(OrderExport.state).in_(from_states))
        .values(state=to, updated_at=utcnow(), **values)
    )
    session.refresh(export)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _export_for(session: Session, order: Order, install_id: int) -> OrderExport:
    export = session.exec(
        select(OrderExport).where(
            OrderExport.order_id == order.id, OrderExport.install_id == install_id
        )
    ).first()
    if export is None:
        raise NotFound(f"order {order.number!r} is not exported by this install")
    return export


def acknowledge(
    session: Session, order: Order, install_id: int, *, external_ref: str = "", message: str = ""
) -> bool:
    """The vendor took the order. Idempotent: returns False when it was acknowledged already."""
    export = _export_for(session, order, install_id)
    changed = _transition(
        session,
        export,
        "acknowledged",
        ("pending", "offered", "rejected", "failed"),
        acknowledged_at=utcnow(),
        queue_at=None,
        external_ref=external_ref or export.external_ref,
        message=message,
    )
    if changed:
        touch(session, order, f"{export.plugin_id}: acknowledged")
    return changed


def reject(session: Session, order: Order, install_id: int, message: str) -> bool:
    """The vendor refused the order: it leaves the queue until an integrator retries it."""
    export = _export_for(session, order, install_id)
    changed = _transition(
        session, export, "rejected", OPEN_STATES, message=message[:1000], queue_at=None
    )
    if changed:
        touch(session, order, f"{export.plugin_id}: rejected")
    return changed


def fail(session: Session, order: Order, install_id: int, message: str) -> bool:
    """The export failed on our side or the vendor's (e.g. the sale could not be created)."""
    export = _export_for(session, order, install_id)
    changed = _transition(
        session, export, "failed", OPEN_STATES, message=message[:1000], queue_at=None
    )
    if changed:
        touch(session, order, f"{export.plugin_id}: failed")
    return changed


def set_message(session: Session, order: Order, install_id: int, message: str) -> None:
    """Show ``message`` on a still-open export (e.g. "Unbalanced") without moving it."""
    export = _export_for(session, order, install_id)
    if export.message != message:
        export.message = message
        export.updated_at = utcnow()
        session.add(export)


def retry(session: Session, order: Order, plugin_id: str, *, actor: str = "") -> OrderExport:
    """Put a rejected or failed export back to pending (409 otherwise)."""
    export = session.exec(
        select(OrderExport).where(
            OrderExport.order_id == order.id, OrderExport.plugin_id == plugin_id
        )
    ).first()
    if export is None:
        raise NotFound(f"order {order.number!r} has no {plugin_id} export")
    queue_at = order.placed_at if order.status != "canceled" else None
    if not _transition(
        session, export, "pending", ("rejected", "failed"), message="", queue_at=queue_at
    ):
        raise Conflict(
            f"the {plugin_id} export of order {order.number!r} is {export.state}; "
            "only a rejected or failed export can be retried"
        )
    add_note(
        session,
        order,
        f"{plugin_id} export put back to pending" + (f" by {actor}" if actor else ""),
    )
    touch(session, order, f"{plugin_id}: retry")
    return export


def pending_cancellations(
    session: Session, install_id: int, limit: int = 100
) -> list[tuple[OrderExport, Order]]:
    """Orders canceled after the vendor downloaded them, whose cancellation it has not yet
    acknowledged."""
    return list(
        session.exec(
            select(OrderExport, Order)
            .join(Order, col(Order.id) == col(OrderExport.order_id))
            .where(OrderExport.install_id == install_id, OrderExport.cancel_state == "pending")
            .order_by(col(Order.canceled_at), col(Order.id))
            .limit(limit)
        ).all()
    )


def acknowledge_cancellation(session: Session, order: Order, install_id: int) -> bool:
    export = _export_for(session, order, install_id)
    result = session.execute(
        update(OrderExport)
        .where(col(OrderExport.id) == export.id, col(OrderExport.cancel_state) == "pending")
        .values(cancel_state="acknowledged", updated_at=utcnow())
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        touch(session, order, f"{export.plugin_id}: cancellation acknowledged")
    return changed
