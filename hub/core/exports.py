"""The order-export state machine: one row per (order, exporting install).

Two columns move. ``state`` is how far the vendor got with the order::

    ┌─ open: on the vendor's queue ──┐
    │  pending ──offer──▶ offered    ├──────────── acknowledge ────────────┐
    └────────────────────────────────┘                                     │
         ▲                  │                                              │
         │ retry            │ reject → rejected, fail → failed             │
         │ (→ pending)      ▼                                              ▼
       rejected, failed ─────────────────── acknowledge ───────────▶ acknowledged

``cancel_state`` is a cancellation the vendor still has to confirm; only an order the vendor
took (an acknowledged export) gets one — also when the vendor acknowledges an order that was
canceled while on offer — and never for the vendor that canceled it::

    '' ──cancel──▶ pending ──acknowledge_cancellation──▶ acknowledged

:data:`TRANSITIONS` is this machine as data, and :func:`move` is the one function that
applies it: every event is one conditional ``UPDATE`` that moves only the rows the table
allows, so two pollers or workers acting at once cannot move a row twice. For one export
(:func:`acknowledge_number`, :func:`reject`, :func:`fail`, :func:`acknowledge_cancellation`),
an event that finds the export where it leads already is a no-op (False: acknowledging twice
changes nothing); any other move the table does not allow — and retrying an export that is
pending — raises :class:`IllegalTransition` and changes nothing.

An offered export stays on offer (is offered again on every poll) until it leaves the queue.
The moves run as direct SQL (:mod:`hub.core.direct_sql`): a vendor acknowledges orders one
request at a time, and the acknowledgement is the hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from hub.core.direct_sql import DirectSql
from hub.core.errors import Conflict, NotFound
from hub.core.models import Order, OrderExport
from hub.core.orders import add_notes_direct, mark_order_updated_direct
from hub.core.types import utcnow

__all__ = [
    "EXPORT_STATES",
    "OFFER_LIMIT",
    "OPEN_STATES",
    "TRANSITIONS",
    "IllegalTransition",
    "Transition",
    "acknowledge",
    "acknowledge_cancellation",
    "acknowledge_number",
    "cancel_exports",
    "create_export",
    "export_states_of",
    "fail",
    "mark_offered",
    "move",
    "pending_cancellations",
    "queue_fingerprint",
    "queued",
    "reject",
    "retry",
]

OFFER_LIMIT = 30
"""The most orders one poll is offered (the Lightspeed DMS takes at most 30 at a time)."""

OPEN_STATES: tuple[str, ...] = ("pending", "offered")
EXPORT_STATES: tuple[str, ...] = ("pending", "offered", "acknowledged", "rejected", "failed")
"""Every ``state`` of an export (the filter of the order lists)."""


@dataclass(frozen=True)
class Transition:
    """What one event does: it moves ``column`` from any of ``sources`` to ``target``, on
    exports whose ``state`` is one of ``on_states`` when those are given. ``done`` finishes
    the refusal "only a … export can be <done>"; ``counts_attempt`` adds one to ``attempts``
    (the times the export was put on offer)."""

    column: Literal["state", "cancel_state"]
    sources: tuple[str, ...]
    target: str
    done: str
    on_states: tuple[str, ...] = ()
    counts_attempt: bool = False


TRANSITIONS: Mapping[str, Transition] = MappingProxyType(
    {
        "offer": Transition("state", ("pending",), "offered", "offered", counts_attempt=True),
        "acknowledge": Transition(
            "state", ("pending", "offered", "rejected", "failed"), "acknowledged", "acknowledged"
        ),
        "reject": Transition("state", OPEN_STATES, "rejected", "rejected"),
        "fail": Transition("state", OPEN_STATES, "failed", "marked failed"),
        "retry": Transition("state", ("rejected", "failed"), "pending", "retried"),
        "cancel": Transition(
            "cancel_state", ("",), "pending", "canceled", on_states=("acknowledged",)
        ),
        "acknowledge_cancellation": Transition(
            "cancel_state", ("pending",), "acknowledged", "acknowledged"
        ),
    }
)
"""The machine: event → the move it makes (the diagram above draws it)."""


class IllegalTransition(Conflict):
    """A move the export state machine does not allow (409); nothing was changed."""


# The columns an event may set besides the state and ``updated_at``; the times among them
# are bound as the ORM stores them.
_SETTABLE = frozenset(
    {"queue_at", "message", "external_ref", "offered_at", "acknowledged_at", "canceled_at"}
)
_TIMES = frozenset({"queue_at", "offered_at", "acknowledged_at", "canceled_at", "updated_at"})


@lru_cache(maxsize=64)
def _update_statement(event: str, columns: tuple[str, ...], count: int) -> str:
    """``UPDATE order_exports SET <the move>, <columns> WHERE id IN (<count ids>) AND <the
    table's sources>``. The states written into it are the table's own constants."""
    transition = TRANSITIONS.get(event)
    if transition is None:
        raise ValueError(f"the export state machine has no event {event!r}")
    unknown = set(columns) - _SETTABLE
    if unknown:
        raise ValueError(f"{event} cannot set {', '.join(sorted(unknown))}")
    sets = [f"{transition.column} = '{transition.target}'", "updated_at = :updated_at"]
    sets += [f"{column} = :{column}" for column in columns]
    if transition.counts_attempt:
        sets.append("attempts = attempts + 1")
    ids = ", ".join(f":id{i}" for i in range(count))
    where = [f"id IN ({ids})", f"{transition.column} IN ({_literals(transition.sources)})"]
    if transition.on_states:
        where.append(f"state IN ({_literals(transition.on_states)})")
    return f"UPDATE order_exports SET {', '.join(sets)} WHERE {' AND '.join(where)}"


def _literals(states: tuple[str, ...]) -> str:
    assert all(state.isalpha() or state == "" for state in states)
    return ", ".join(f"'{state}'" for state in states)


def move(sql: DirectSql, event: str, export_ids: Sequence[int], **values: Any) -> int:
    """Apply ``event`` (a key of :data:`TRANSITIONS`) to the exports ``export_ids``: one
    conditional ``UPDATE`` that moves the rows the table allows the event to move and leaves
    the others as they are. It also sets ``updated_at`` and ``values`` (``queue_at``,
    ``message``, ``external_ref`` or the event's time). Returns how many rows moved."""
    if not export_ids:
        return 0
    statement = _update_statement(event, tuple(sorted(values)), len(export_ids))
    params = {c: sql.when(v) if c in _TIMES else v for c, v in values.items()}
    params["updated_at"] = sql.when(utcnow())
    for i, export_id in enumerate(export_ids):
        params[f"id{i}"] = export_id
    return sql.run(statement, **params)


# -- the queue ---------------------------------------------------------------------------


def create_export(session: Session, order: Order, install_id: int, plugin_id: str) -> OrderExport:
    """The export row of ``order`` for one install (created once; unique per pair): pending,
    and on the queue unless the order is canceled."""
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


def queued(
    session: Session, install_id: int, limit: int = OFFER_LIMIT
) -> list[tuple[OrderExport, Order]]:
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


def queued_after(
    session: Session,
    install_id: int,
    after: tuple[datetime, int] | None,
    limit: int = 100,
) -> list[tuple[OrderExport, Order]]:
    """:func:`queued` from after ``(queue_at, order_id)`` on: a push exporter pages through
    its whole queue (orders waiting to become exportable stay on it)."""
    query = (
        select(OrderExport, Order)
        .join(Order, col(Order.id) == col(OrderExport.order_id))
        .where(OrderExport.install_id == install_id, col(OrderExport.queue_at).is_not(None))
    )
    if after is not None:
        at, order_id = after
        query = query.where(
            or_(
                col(OrderExport.queue_at) > at,
                and_(col(OrderExport.queue_at) == at, col(OrderExport.order_id) > order_id),
            )
        )
    return list(
        session.exec(
            query.order_by(col(OrderExport.queue_at), col(OrderExport.order_id)).limit(limit)
        ).all()
    )


def set_message(session: Session, order_id: int, install_id: int, message: str) -> bool:
    """Show ``message`` on an export still on the queue (e.g. ``Unbalanced``, ``Waiting for
    fulfilment``) without moving it; True when it changed. Not a transition: the export
    stays where it is, and an export off the queue keeps the message it ended with."""
    export = session.exec(
        select(OrderExport).where(
            OrderExport.order_id == order_id,
            OrderExport.install_id == install_id,
            col(OrderExport.queue_at).is_not(None),
        )
    ).first()
    if export is None or export.message == message[:1000]:
        return False
    export.message = message[:1000]
    export.updated_at = utcnow()
    session.add(export)
    return True


# The fingerprint runs on every poll: direct SQL, the update times compared as stored. Both
# queue queries follow ix_order_exports_queue.
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


def queue_fingerprint(sql: DirectSql, install_id: int, limit: int = OFFER_LIMIT) -> tuple[Any, ...]:
    """A cheap value that changes whenever what :func:`queued` and
    :func:`pending_cancellations` would list changes: the listed exports, their orders and
    their orders' products (ids and update times). Lets a vendor endpoint reuse a document
    it built for an unchanged queue."""
    queue_rows = sql.rows(_QUEUE_STAMP, install=install_id, limit=limit)
    cancel_rows = sql.rows(_CANCEL_STAMP, install=install_id)
    products = sql.row(_PRODUCTS_STAMP, install=install_id, limit=limit) if queue_rows else None
    return (tuple(queue_rows), tuple(cancel_rows), products)


def mark_offered(session: Session, export_ids: Sequence[int]) -> None:
    """The ``offer`` event for exports that were just listed: pending ones become
    ``offered`` (those offered already, or taken meanwhile, are left as they are)."""
    move(DirectSql.of(session), "offer", export_ids, offered_at=utcnow())


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


# -- events on one export ----------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """An export and its order, located by the order's number in one query."""

    export_id: int
    plugin_id: str
    order_id: int
    tenant_id: int
    number: str
    status: str


_TARGET_BY_INSTALL = (
    "SELECT o.id, o.status, e.id, e.plugin_id FROM orders o"
    " LEFT JOIN order_exports e ON e.order_id = o.id AND e.install_id = :key"
    " WHERE o.tenant_id = :tenant AND o.number = :number"
)
_TARGET_BY_PLUGIN = (
    "SELECT o.id, o.status, e.id, e.plugin_id FROM orders o"
    " LEFT JOIN order_exports e ON e.order_id = o.id AND e.plugin_id = :key"
    " WHERE o.tenant_id = :tenant AND o.number = :number"
)
_STATES = "SELECT state, cancel_state FROM order_exports WHERE id = :id"


def _target(
    sql: DirectSql,
    tenant_id: int,
    number: str,
    *,
    install_id: int | None = None,
    plugin_id: str = "",
) -> _Target:
    """The export of order ``number`` by ``install_id`` (or by the install of
    ``plugin_id``); 404 when the order or that export does not exist."""
    if install_id is not None:
        row = sql.row(_TARGET_BY_INSTALL, key=install_id, tenant=tenant_id, number=number)
        missing = f"order {number!r} is not exported by this install"
    else:
        row = sql.row(_TARGET_BY_PLUGIN, key=plugin_id, tenant=tenant_id, number=number)
        missing = f"order {number!r} has no {plugin_id} export"
    if row is None:
        raise NotFound(f"no order {number!r}")
    if row[2] is None:
        raise NotFound(missing)
    return _Target(row[2], row[3], row[0], tenant_id, number, row[1])


def _apply(
    sql: DirectSql,
    target: _Target,
    event: str,
    reason: str,
    notes: Sequence[tuple[str, str]] = (),
    *,
    notes_source: str | None = None,
    repeat_is_refused: bool = False,
    **values: Any,
) -> bool:
    """``event`` on one export (:func:`move`). When the export moved, the ``(code,
    message)`` notes are recorded (by the plugin, or ``notes_source``) and the order raises
    ``order.updated`` with ``reason``, in the same transaction. False when the export is
    where the event leads already (a repeat changes nothing); :class:`IllegalTransition`
    for any other move the table does not allow, or for a repeat if ``repeat_is_refused``."""
    if not move(sql, event, [target.export_id], **values):
        state, cancel_state = sql.row(_STATES, id=target.export_id) or ("", "")
        transition = TRANSITIONS[event]
        where = state if transition.column == "state" else cancel_state
        if where == transition.target and not repeat_is_refused:
            return False
        raise IllegalTransition(_refusal(transition, target, state, cancel_state))
    add_notes_direct(sql, target.order_id, notes_source or target.plugin_id, notes)
    mark_order_updated_direct(
        sql, target.tenant_id, target.order_id, target.number, target.status, reason
    )
    return True


def _refusal(transition: Transition, target: _Target, state: str, cancel_state: str) -> str:
    allowed = _either(transition.sources)
    export = f"the {target.plugin_id} export of order {target.number!r}"
    if transition.column == "state":
        return f"{export} is {state}; only {allowed} export can be {transition.done}"
    has = f"{_article(cancel_state)} {cancel_state} cancellation" if cancel_state else "none"
    return f"{export} has {has}; only {allowed} cancellation can be {transition.done}"


def _either(states: tuple[str, ...]) -> str:
    """("rejected", "failed") → "a rejected or failed"."""
    words = ", ".join(states[:-1]) + " or " + states[-1] if len(states) > 1 else states[0]
    return f"{_article(words)} {words}"


def _article(word: str) -> str:
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def acknowledge(
    session: Session,
    order: Order,
    install_id: int,
    *,
    external_ref: str = "",
    message: str = "",
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """The vendor took the order (:func:`acknowledge_number` in ``session``'s transaction)."""
    return acknowledge_number(
        DirectSql.of(session),
        order.tenant_id,
        order.number,
        install_id,
        external_ref=external_ref,
        message=message,
        notes=notes,
    )


def acknowledge_number(
    sql: DirectSql,
    tenant_id: int,
    number: str,
    install_id: int,
    *,
    external_ref: str = "",
    message: str = "",
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """The vendor took order ``number``: it leaves the queue. A lookup and an ``UPDATE``,
    nothing loaded (a vendor acknowledges orders one request at a time). Idempotent: False
    when it was acknowledged already (the notes, ``(code, message)`` pairs, are recorded
    only when it was not)."""
    target = _target(sql, tenant_id, number, install_id=install_id)
    values: dict[str, Any] = {"acknowledged_at": utcnow(), "queue_at": None, "message": message}
    if external_ref:
        values["external_ref"] = external_ref
    moved = _apply(sql, target, "acknowledge", f"{target.plugin_id}: acknowledged", notes, **values)
    if moved and target.status == "canceled":
        # Canceled while on offer: the vendor downloaded it before the cancellation and has
        # now taken it, so it must be told (a cancellation of its own is never acknowledged
        # afterwards: its export left the queue with the void).
        move(sql, "cancel", [target.export_id], canceled_at=utcnow())
    return moved


def reject(
    session: Session,
    order: Order,
    install_id: int,
    message: str,
    *,
    notes: Sequence[tuple[str, str]] = (),
) -> bool:
    """The vendor refused the order: it leaves the queue until an integrator retries it.
    False when it was rejected already; :class:`IllegalTransition` when it is not open."""
    sql = DirectSql.of(session)
    target = _target(sql, order.tenant_id, order.number, install_id=install_id)
    return _apply(
        sql,
        target,
        "reject",
        f"{target.plugin_id}: rejected",
        notes,
        message=message[:1000],
        queue_at=None,
    )


def fail(session: Session, order: Order, install_id: int, message: str) -> bool:
    """The export failed on our side or the vendor's (e.g. the sale could not be created): it
    leaves the queue until retried. False when it was failed already;
    :class:`IllegalTransition` when it is not open."""
    sql = DirectSql.of(session)
    target = _target(sql, order.tenant_id, order.number, install_id=install_id)
    return _apply(
        sql, target, "fail", f"{target.plugin_id}: failed", message=message[:1000], queue_at=None
    )


def retry(session: Session, order: Order, plugin_id: str, *, actor: str = "") -> None:
    """Put a rejected or failed export back to pending, on the queue again unless the order
    is canceled (409 for any other state, pending included)."""
    sql = DirectSql.of(session)
    target = _target(sql, order.tenant_id, order.number, plugin_id=plugin_id)
    note = f"{plugin_id} export put back to pending" + (f" by {actor}" if actor else "")
    _apply(
        sql,
        target,
        "retry",
        f"{plugin_id}: retry",
        [("", note)],
        notes_source="hub",
        repeat_is_refused=True,
        message="",
        queue_at=order.placed_at if order.status != "canceled" else None,
    )


def cancel_exports(sql: DirectSql, order_id: int, *, source: str) -> None:
    """The exports of an order that was just canceled: they leave the queue (never offered
    again), and each one the vendor already took gets a pending cancellation (the ``cancel``
    event) — except the export of the plugin ``source``, which canceled the order itself."""
    now = utcnow()
    sql.run(
        "UPDATE order_exports SET queue_at = NULL, updated_at = :now"
        " WHERE order_id = :order AND queue_at IS NOT NULL",
        now=sql.when(now),
        order=order_id,
    )
    others = sql.rows(
        "SELECT id FROM order_exports WHERE order_id = :order AND plugin_id <> :source",
        order=order_id,
        source=source,
    )
    move(sql, "cancel", [export_id for (export_id,) in others], canceled_at=now)


def acknowledge_cancellation(
    session: Session, order: Order, install_id: int, *, notes: Sequence[tuple[str, str]] = ()
) -> bool:
    """The vendor confirmed a cancellation it was sent. Idempotent: False (and the notes not
    recorded) when it was confirmed already; :class:`IllegalTransition` when it was never
    sent one."""
    sql = DirectSql.of(session)
    target = _target(sql, order.tenant_id, order.number, install_id=install_id)
    return _apply(
        sql,
        target,
        "acknowledge_cancellation",
        f"{target.plugin_id}: cancellation acknowledged",
        notes,
    )


def export_states_of(
    session: Session, order_ids: Sequence[int]
) -> dict[int, list[tuple[str, str]]]:
    """``(plugin_id, state)`` of each export of each of ``order_ids`` (orders without one are
    left out), by plugin: a list page shows them (columns only, no ORM rows: it is read for
    every order of a page)."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not order_ids:
        return found
    rows = session.execute(
        select(OrderExport.order_id, OrderExport.plugin_id, OrderExport.state)
        .where(col(OrderExport.order_id).in_(list(order_ids)))
        .order_by(col(OrderExport.order_id), col(OrderExport.plugin_id))
    )
    for order_id, plugin_id, state in rows:
        found.setdefault(order_id, []).append((plugin_id, state))
    return found
