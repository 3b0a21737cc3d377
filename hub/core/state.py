"""Small pieces of per-install state: cursors, bindings and leases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.core.db import Database
from hub.core.models import Binding, Cursor, Lease
from hub.core.types import utcnow

__all__ = ["acquire_lease", "bind", "get_cursor", "release_lease", "set_cursor", "vendor_id_of"]


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


def bind(
    session: Session,
    install_id: int,
    kind: str,
    hub_id: int,
    vendor_id: str,
    data: dict[str, Any] | None = None,
) -> Binding:
    row = session.exec(
        select(Binding).where(
            Binding.install_id == install_id, Binding.kind == kind, Binding.hub_id == hub_id
        )
    ).first()
    if row is None:
        row = Binding(
            install_id=install_id, kind=kind, hub_id=hub_id, vendor_id=vendor_id, data=data or {}
        )
    else:
        row.vendor_id = vendor_id
        if data is not None:
            row.data = data
        row.updated_at = utcnow()
    session.add(row)
    return row


def vendor_id_of(session: Session, install_id: int, kind: str, hub_id: int) -> str | None:
    row = session.exec(
        select(Binding.vendor_id).where(
            Binding.install_id == install_id, Binding.kind == kind, Binding.hub_id == hub_id
        )
    ).first()
    return row


def hub_id_of(session: Session, install_id: int, kind: str, vendor_id: str) -> int | None:
    return session.exec(
        select(Binding.hub_id).where(
            Binding.install_id == install_id, Binding.kind == kind, Binding.vendor_id == vendor_id
        )
    ).first()


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
