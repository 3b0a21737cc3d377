"""The audit log: config changes and manual actions (who, what, when; never secret values)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from hub.core.models import AuditEvent

__all__ = ["page_events", "record"]


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    tenant_id: int | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction."""
    event = AuditEvent(
        tenant_id=tenant_id, actor=actor, action=action, target=target, details=details or {}
    )
    session.add(event)
    return event


def page_events(
    session: Session, tenant_id: int, *, before: int | None = None, limit: int = 100
) -> list[AuditEvent]:
    """A page of the tenant's audit log, newest first: up to ``limit + 1`` events (one more
    than asked: a next page exists) with an id below ``before``."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if before is not None:
        query = query.where(col(AuditEvent.id) < before)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit + 1)))
