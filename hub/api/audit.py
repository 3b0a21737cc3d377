"""The audit log of a tenant, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Router, get

from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import Cursor, Limit, decode_cursor, next_cursor
from hub.core.audit import page_events
from hub.core.hub import Hub
from hub.core.tenants import TenantInfo

__all__ = ["AuditEntry", "AuditPage", "build_router"]


class AuditEntry(msgspec.Struct):
    """Who did what, when (never a secret value)."""

    id: int
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    created_at: datetime


class AuditPage(msgspec.Struct):
    items: list[AuditEntry]
    next_cursor: str | None


@get(
    "/audit",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["audit"],
    summary="The tenant's audit log",
)
def list_audit(
    hub: Hub, tenant: TenantInfo, cursor: Cursor = None, limit: Limit = 100
) -> AuditPage:
    """Config changes, key creation, manual runs, cancellations … newest first."""
    before = decode_cursor(cursor)
    with hub.db.read() as session:
        rows = page_events(session, tenant.id, before=before, limit=limit)
    items = [
        AuditEntry(
            id=e.id or 0,
            actor=e.actor,
            action=e.action,
            target=e.target,
            details=dict(e.details or {}),
            created_at=e.created_at,
        )
        for e in rows[:limit]
    ]
    return AuditPage(items, next_cursor([e.id or 0 for e in rows], limit))


def build_router() -> Router:
    """``/audit`` under ``/api/v1/tenants/{slug}``."""
    return Router("/", route_handlers=[list_audit])
