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

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.core.errors import Conflict, NotFound
from hub.core.lane import Lane
from hub.core.models import Order, OrderExport
from hub.core.orders import add_note, add_note_rows, touch, touch_row
from hub.core.types import utcnow

__all__ = [
    "OPEN_STATES",
    "acknowledge",
    "acknowledge_cancellation",
    "acknowledge_number",
    "create_export",
    "fail",
    "offer",
    "pending_cancellations",
    "reject",
    "retry",
]

OPEN_STATES: tuple[str, ...] = ("pending", "offered")


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


# The fingerprint runs on every poll: plain SQL on the lane, the update times compared as
# stored. Both queue queries follow ix_order_exports_queue.
_QUEUE_STAMP = (
    "SELECT e.id, e.state, e.updated_at, o.id, o.updated_at"
    " FROM order_exports e JOIN orders o ON o.id = e.order_id"
    " WHERE e.install_id = :install AND e.queue_at IS NOT NULL"
    " ORDER BY e.queue_at, e.order_id LIMIT :limit"
)
_CANCEL_STAMP = (
    "SELECT id, updated_at FROM order_exports"
    " WHERE install_id = :install AND cancel_state = 'pending' ORDER BY id"
)
_PRODUCTS_STAMP = (
    "SELECT max(p.updated_at) FROM order_lines l JOIN products p ON p.id = l.product_id"
    " WHERE l.order_id IN (SELECT e.order_id FROM order_exports e"
    " WHERE e.install_id = :install AND e.queue_at IS NOT NULL"
    " ORDER BY e.queue_at, e.order_id LIMIT :limit)"
)


def queue_fingerprint(lane: Lane, install_id: int, limit: int = 30) -> tuple[Any, ...]:
    """A cheap value that changes whenever what :func:`queued` and
    :func:`pending_cancellations` would list changes: the listed exports, their orders and
    their orders' products (ids and update times). Lets a vendor endpoint reuse a document
    it built for an unchanged queue."""
    queue_rows = lane.rows(_QUEUE_STAMP, install=install_id, limit=limit)
    cancel_rows = lane.rows(_CANCEL_STAMP, install=install_id)
    products = lane.row(_PRODUCTS_STAMP, install=install_id, limit=limit) if queue_rows else None
    return (tuple(queue_rows), tuple(cancel_rows), products)


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


@dataclass(frozen=True)
class _Target:
    """An export and its order, located by the order's number in one query."""

    export_id: int
    plugin_id: str
    order_id: int
    tenant_id: int
    number: str
    status: str


# Vendors acknowledge orders one request at a time: the lookup and the transition are plain
# SQL on the lane.
_TARGET = (
    "SELECT o.id, o.status, e.id, e.plugin_id FROM orders o"
    " LEFT JOIN order_exports e ON e.order_id = o.id AND e.install_id = :install"
    " WHERE o.tenant_id = :tenant AND o.number = :number"
)
_STATE = re.compile(r"[a-z]+")
_TIMES = frozenset({"updated_at", "acknowledged_at", "queue_at"})  # bound with Lane.when


@lru_cache(maxsize=32)
def _move_sql(columns: tuple[str, ...], from_states: tuple[str, ...]) -> str:
    """``UPDATE order_exports SET state, <columns> WHERE id AND state IN (<from_states>)``
    (the states are this module's constants)."""
    assert all(_STATE.fullmatch(state) for state in from_states)
    sets = ", ".join(f"{c} = :{c}" for c in ("state", *columns))
    states = ", ".join(f"'{state}'" for state in from_states)
    return f"UPDATE order_exports SET {sets} WHERE id = :id AND state IN ({states})"


def _target(lane: Lane, tenant_id: int, number: str, install_id: int) -> _Target:
    row = lane.row(_TARGET, install=install_id, tenant=tenant_id, number=number)
    if row is None:
        raise NotFound(f"no order {number!r}")
    if row[2] is None:
        raise NotFound(f"order {number!r} is not exported by this install")
    return _Target(row[2], row[3], row[0], tenant_id, number, row[1])


def _move(
    lane: Lane,
    target: _Target,
    to: str,
    from_states: tuple[str, ...],
    notes: Sequence[tuple[str, str]],
    **values: Any,
) -> bool:
    """One conditional ``UPDATE``; when it moved the row, the notes are recorded and the
    order is touched (``order.updated``) in the same transaction."""
    now = utcnow()
    values["updated_at"] = now
    params = {k: lane.when(v) if k in _TIMES else v for k, v in values.items()}
    moved = lane.run(
        _move_sql(tuple(sorted(values)), from_states),
        **params,
        state=to,
        id=target.export_id,
    )
    if not moved:
        return False
    add_note_rows(lane, target.order_id, target.plugin_id, notes)
    touch_row(
        lane,
        target.tenant_id,
        target.order_id,
        target.number,
        target.status,
        f"{target.plugin_id}: {to}",
    )
    return True


def acknowledge(
    session: Session,
    order: Order,
    install_id: int,
    *,
    external_ref: str = "",
    message: str = "",
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """The vendor took the order. Idempotent: returns False when it was acknowledged
    already (the notes, ``(code, message)`` pairs, are recorded only when it was not)."""
    return acknowledge_number(
        Lane.of(session),
        order.tenant_id,
        order.number,
        install_id,
        external_ref=external_ref,
        message=message,
        notes=notes,
    )


def acknowledge_number(
    lane: Lane,
    tenant_id: int,
    number: str,
    install_id: int,
    *,
    external_ref: str = "",
    message: str = "",
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """:func:`acknowledge` by the order's number: a lookup and an ``UPDATE``, nothing
    loaded (a vendor acknowledges orders one request at a time)."""
    target = _target(lane, tenant_id, number, install_id)
    values: dict[str, Any] = {"acknowledged_at": utcnow(), "queue_at": None, "message": message}
    if external_ref:
        values["external_ref"] = external_ref
    return _move(
        lane, target, "acknowledged", ("pending", "offered", "rejected", "failed"), notes, **values
    )


def reject(
    session: Session,
    order: Order,
    install_id: int,
    message: str,
    *,
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """The vendor refused the order: it leaves the queue until an integrator retries it."""
    lane = Lane.of(session)
    target = _target(lane, order.tenant_id, order.number, install_id)
    return _move(
        lane, target, "rejected", OPEN_STATES, notes, message=message[:1000], queue_at=None
    )


def fail(session: Session, order: Order, install_id: int, message: str) -> bool:
    """The export failed on our side or the vendor's (e.g. the sale could not be created)."""
    lane = Lane.of(session)
    target = _target(lane, order.tenant_id, order.number, install_id)
    return _move(lane, target, "failed", OPEN_STATES, (), message=message[:1000], queue_at=None)


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


def acknowledge_cancellation(
    session: Session, order: Order, install_id: int, *, notes: Sequence[tuple[str, str]] = ()
) -> bool:
    """The vendor confirmed a cancellation it was sent. Idempotent: False (and the notes not
    recorded) when it was confirmed already."""
    export = _export_for(session, order, install_id)
    result = session.execute(
        update(OrderExport)
        .where(col(OrderExport.id) == export.id, col(OrderExport.cancel_state) == "pending")
        .values(cancel_state="acknowledged", updated_at=utcnow())
    )
    changed = bool(result.rowcount)  # type: ignore[attr-defined]
    if changed:
        for code, message in notes:
            add_note(session, order, message, source=export.plugin_id, code=code)
        touch(session, order, f"{export.plugin_id}: cancellation acknowledged")
    return changed
