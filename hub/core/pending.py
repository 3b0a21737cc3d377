"""Pending mappings: vendor records of one install that do not sync, with the reason.

A stock-master plugin (Lightspeed Retail) imports items that must carry identifiers and match
one hub product; those that miss a requirement or match none (or several) are listed here, so
the integrator sees what to fix. The rules decided here:

- One row per (install, vendor id): a record has one reason at a time, the latest seen.
- A **full** pass replaces the install's whole list (:func:`replace_pending`): what it did
  not report as pending is no longer pending.
- An **incremental** pass changes only the records it saw (:func:`update_pending`): those it
  reports become (or stay) pending, the ``resolved`` ones leave the list.
- The list pages in id order (:func:`page_pending`); :func:`pending_count` feeds the
  install's warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from hub.core.direct_sql import DirectSql, in_list, insert_rows, update_rows
from hub.core.models import PendingMapping
from hub.core.records import PendingItem
from hub.core.types import utcnow

__all__ = ["page_pending", "pending_count", "replace_pending", "update_pending"]

CHUNK = 500
_TABLE: Any = PendingMapping.__table__  # type: ignore[attr-defined]


def _upsert(session: Session, install_id: int, items: Sequence[PendingItem]) -> None:
    """Each item's row, inserted or updated (direct SQL: a full pass lists thousands)."""
    latest = {item.vendor_id: item for item in items}  # the last report of a record wins
    ids = list(latest)
    sql = DirectSql.of(session)
    existing: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        marks, params = in_list(ids[start : start + CHUNK])
        existing.update(
            str(vendor_id)
            for (vendor_id,) in sql.rows(
                "SELECT vendor_id FROM pending_mappings WHERE install_id = :i"
                f" AND vendor_id IN ({marks})",
                i=install_id,
                **params,
            )
        )
    now = utcnow()
    new: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    for vendor_id, item in latest.items():
        (seen if vendor_id in existing else new).append(
            {
                "install_id": install_id,
                "vendor_id": vendor_id,
                "reason": item.reason[:64],
                "ref": item.ref[:200],
                "details": dict(item.details),
                "seen_at": now,
            }
        )
    insert_rows(session, _TABLE, new)
    update_rows(session, _TABLE, ("install_id", "vendor_id"), seen)


def _delete(session: Session, install_id: int, vendor_ids: Iterable[str]) -> None:
    ids = list(dict.fromkeys(vendor_ids))
    for start in range(0, len(ids), CHUNK):
        session.execute(
            delete(PendingMapping).where(
                col(PendingMapping.install_id) == install_id,
                col(PendingMapping.vendor_id).in_(ids[start : start + CHUNK]),
            )
        )


def replace_pending(session: Session, install_id: int, items: Sequence[PendingItem]) -> int:
    """The install's pending list becomes ``items`` (a full pass); returns its size."""
    keep = {item.vendor_id for item in items}
    gone = [
        vendor_id
        for vendor_id in session.exec(
            select(PendingMapping.vendor_id).where(PendingMapping.install_id == install_id)
        )
        if vendor_id not in keep
    ]
    _delete(session, install_id, gone)
    _upsert(session, install_id, items)
    return len(keep)


def update_pending(
    session: Session, install_id: int, items: Sequence[PendingItem], resolved: Iterable[str]
) -> None:
    """An incremental pass: ``items`` become (or stay) pending, ``resolved`` vendor ids leave
    the list (an id in both stays pending)."""
    reported = {item.vendor_id for item in items}
    _delete(session, install_id, [v for v in resolved if v not in reported])
    _upsert(session, install_id, items)


def pending_count(session: Session, install_id: int, *, reason: str | None = None) -> int:
    """How many of the install's records are pending (with ``reason``: for that reason)."""
    query = select(func.count()).where(col(PendingMapping.install_id) == install_id)
    if reason:
        query = query.where(col(PendingMapping.reason) == reason)
    return int(session.exec(query).one())


def page_pending(
    session: Session,
    install_id: int,
    *,
    after_id: int | None = None,
    limit: int = 100,
    reason: str | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """Up to ``limit`` pending rows after ``after_id`` (with ``reason``: of that reason only),
    in id order: ``(id, row)`` with ``vendor_id, reason, ref, details, seen_at``."""
    query = select(PendingMapping).where(PendingMapping.install_id == install_id)
    if reason:
        query = query.where(col(PendingMapping.reason) == reason)
    if after_id is not None:
        query = query.where(col(PendingMapping.id) > after_id)
    rows = session.exec(query.order_by(col(PendingMapping.id)).limit(limit))
    return [
        (
            int(row.id or 0),
            {
                "vendor_id": row.vendor_id,
                "reason": row.reason,
                "ref": row.ref,
                "details": dict(row.details),
                "seen_at": row.seen_at,
            },
        )
        for row in rows
    ]
