"""Small pieces of per-install state: cursors and leases (bindings: :mod:`hub.core.bindings`,
whose ``bind`` / ``vendor_id_of`` / ``hub_id_of`` are re-exported here)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from hub.core.bindings import bind, hub_id_of, vendor_id_of
from hub.core.db import Database
from hub.core.models import Cursor, Lease
from hub.core.types import utcnow

__all__ = [
    "acquire_lease",
    "bind",
    "get_cursor",
    "hub_id_of",
    "release_lease",
    "set_cursor",
    "vendor_id_of",
]


def get_cursor(session: Session, install_id: int, name: str) -> str | None:
    row = session.get(Cursor, (install_id, name))
    return row.value if row is not None else None


def set_cursor(session: Session, install_id: int, name: str, value: str) -> None:
    row = session.get(Cursor, (install_id, name))
    if row is None:
        row = Cursor(install_id=install_id, name=name, value=value)
    else:
        row.value = value
        row.updated_at = utcnow()
    session.add(row)


def acquire_lease(db: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Take the named lease for ``ttl`` unless another holder has it unexpired."""
    now = utcnow()
    with db.session() as session:
        result = session.execute(
            update(Lease)
            .where(
                col(Lease.name) == name,
                (col(Lease.expires_at) < now) | (col(Lease.holder) == holder),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True
    try:
        with db.session() as session:
            if session.get(Lease, name) is not None:
                return False
            session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
        return True
    except IntegrityError:
        return False


def release_lease(db: Database, name: str, holder: str) -> None:
    with db.session() as session:
        session.execute(delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))
