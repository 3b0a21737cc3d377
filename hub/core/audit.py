"""The audit log: config changes and manual actions (who, what, when; never secret values)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from hub.core.models import AuditEvent

__all__ = ["record"]


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
