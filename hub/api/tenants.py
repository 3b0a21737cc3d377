"""Tenants: ``/api/v1/tenants`` (create: admin; list) and ``/api/v1/tenants/{slug}``.

DELETE removes a tenant only when it has no orders and no plugin installs (409 otherwise):
those hold business history and job runs. What it does remove with the tenant: its
locations, products, inventory rows, webhook subscriptions (and deliveries) and API keys;
its audit events are kept, detached from the tenant, with a ``tenant.deleted`` event.

Reads and the PATCH answer an ``ETag``; a PATCH with ``If-Match`` applies only to that
version (else 412, see :mod:`hub.api._concurrency`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, patch, post
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, update
from sqlmodel import col, select

from hub.api._auth import Caller, forget_tenants, require_admin
from hub.api._concurrency import (
    ETAG_HEADER,
    IfMatch,
    check_if_match,
    last_recorded_change,
    lock,
    tenant_etag,
)
from hub.api._openapi import TENANT_PATH, Link, errors, links
from hub.api._paging import Cursor, Limit, decode_cursor, next_cursor
from hub.core import audit
from hub.core import tenants as core_tenants
from hub.core.errors import Conflict, NotFound
from hub.core.hub import Hub
from hub.core.models import (
    ApiKey,
    AuditEvent,
    ChangeCounter,
    InventoryLevel,
    Location,
    Order,
    PluginInstall,
    Product,
    Tenant,
    WebhookDelivery,
    WebhookSubscription,
)
from hub.core.tenants import TenantInfo

__all__ = ["TenantIn", "TenantOut", "TenantPage", "TenantPatch", "build_routers"]

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9-]{2,40}$", description="[a-z0-9-]{2,40}")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TimeZone = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        description="IANA time zone name",
        # The enum is the one the server checks (hub.core.tenants.time_zones).
        extra_json_schema={"extra": {"enum": list(core_tenants.time_zones())}},
    ),
]


class TenantIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new tenant."""

    slug: Slug
    name: Name
    timezone: TimeZone = "UTC"
    company_address: dict[str, Any] = msgspec.field(default_factory=dict)


class TenantPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Changes to a tenant; the slug never changes."""

    name: Name | None = None
    timezone: TimeZone | None = None
    company_address: dict[str, Any] | None = None


class TenantOut(msgspec.Struct):
    slug: str
    name: str
    timezone: str
    company_address: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Tenant) -> TenantOut:
        return cls(
            row.slug,
            row.name,
            row.timezone,
            dict(row.company_address or {}),
            row.created_at,
            row.updated_at,
        )


class TenantPage(msgspec.Struct):
    items: list[TenantOut]
    next_cursor: str | None


@post(
    "/",
    guards=[require_admin],
    sync_to_thread=True,
    responses=errors(403, 409, e403="A tenant key may not create tenants"),
    response_headers=[ETAG_HEADER],
    summary="Create a tenant (admin)",
    opt=links(Link(f"* {TENANT_PATH}", {"slug": "$response.body#/slug"}, under=True)),
)
def create_tenant(data: TenantIn, hub: Hub, caller: Caller) -> Response[TenantOut]:
    """Create a tenant: 409 when the slug is taken, 422 on a bad slug or time zone."""
    row = hub.create_tenant(
        data.slug,
        data.name,
        timezone=data.timezone,
        company_address=data.company_address,
        actor=caller.actor,
    )
    return Response(TenantOut.of(row), status_code=201, headers={"ETag": tenant_etag(row)})


@get("/", sync_to_thread=True, summary="List tenants")
def list_tenants(hub: Hub, caller: Caller, cursor: Cursor = None, limit: Limit = 100) -> TenantPage:
    """Admin: every tenant; a tenant key: its own."""
    after = decode_cursor(cursor)
    query = select(Tenant).order_by(col(Tenant.id)).limit(limit + 1)
    if after is not None:
        query = query.where(col(Tenant.id) > after)
    if caller.tenant is not None:
        query = query.where(Tenant.id == caller.tenant.id)
    with hub.db.read() as session:
        rows = list(session.exec(query))
    return TenantPage(
        [TenantOut.of(r) for r in rows[:limit]], next_cursor([r.id or 0 for r in rows], limit)
    )


@get("/", sync_to_thread=True, response_headers=[ETAG_HEADER], summary="Get a tenant")
def get_tenant(hub: Hub, tenant: TenantInfo) -> Response[TenantOut]:
    """The tenant of the path, with its ``ETag``."""
    with hub.db.read() as session:
        row = core_tenants.get_tenant(session, tenant.slug)
        return Response(TenantOut.of(row), headers={"ETag": tenant_etag(row)})


@patch(
    "/",
    sync_to_thread=True,
    responses=errors(412),
    response_headers=[ETAG_HEADER],
    summary="Change a tenant",
)
def patch_tenant(
    data: TenantPatch,
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    request: Request[Any, Any, Any],
    if_match: IfMatch = None,
) -> Response[TenantOut]:
    """Change the name, time zone or company address (422 on an unknown time zone).

    With ``If-Match``: only if the tenant still has that ETag, else 412 naming the latest
    change and nothing is changed. Without it the change applies (the last write wins)."""
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
    with hub.db.session() as session:
        row = lock(session, select(Tenant).where(Tenant.slug == tenant.slug))
        if row is None:
            raise NotFound(f"no tenant {tenant.slug!r}")
        check_if_match(
            if_match,
            tenant_etag(row),
            what=f"the tenant {tenant.slug!r}",
            last_change=lambda: last_recorded_change(
                session,
                tenant_id=tenant.id,
                actions=("tenant.created", "tenant.updated"),
                target=tenant.slug,
            ),
        )
        core_tenants.update_tenant(session, row, changes)
        audit.record(
            session,
            actor=caller.actor,
            action="tenant.updated",
            tenant_id=row.id,
            target=row.slug,
            details={"changed": sorted(changes)},
        )
        return Response(TenantOut.of(row), headers={"ETag": tenant_etag(row)})


@delete(
    "/",
    sync_to_thread=True,
    responses=errors(409, e409="The tenant has orders or plugin installs"),
    summary="Delete a tenant",
)
def delete_tenant(
    hub: Hub, tenant: TenantInfo, caller: Caller, request: Request[Any, Any, Any]
) -> None:
    """Delete a tenant without orders or installs (409 otherwise); see the module doc."""
    tid = tenant.id
    with hub.db.session() as session:
        for table, what in ((Order, "orders"), (PluginInstall, "plugin installs")):
            count = session.exec(
                select(func.count()).select_from(table).where(table.tenant_id == tid)  # type: ignore[attr-defined]
            ).one()
            if count:
                raise Conflict(f"tenant {tenant.slug!r} has {what}; remove them first")
        subs = select(WebhookSubscription.id).where(WebhookSubscription.tenant_id == tid)
        session.execute(
            sql_delete(WebhookDelivery).where(col(WebhookDelivery.subscription_id).in_(subs))
        )
        session.execute(sql_delete(WebhookDelivery).where(col(WebhookDelivery.tenant_id) == tid))
        session.execute(
            sql_delete(WebhookSubscription).where(col(WebhookSubscription.tenant_id) == tid)
        )
        session.execute(sql_delete(InventoryLevel).where(col(InventoryLevel.tenant_id) == tid))
        session.execute(sql_delete(Product).where(col(Product.tenant_id) == tid))
        session.execute(sql_delete(ChangeCounter).where(col(ChangeCounter.tenant_id) == tid))
        session.execute(sql_delete(Location).where(col(Location.tenant_id) == tid))
        session.execute(sql_delete(ApiKey).where(col(ApiKey.tenant_id) == tid))
        session.execute(
            update(AuditEvent).where(col(AuditEvent.tenant_id) == tid).values(tenant_id=None)
        )
        session.execute(sql_delete(Tenant).where(col(Tenant.id) == tid))
        audit.record(session, actor=caller.actor, action="tenant.deleted", target=tenant.slug)
    forget_tenants(request)


def build_routers() -> tuple[Router, Router]:
    """The collection router (``/tenants``) and the one-tenant router (``/``, mounted
    under ``/tenants/{slug}``)."""
    collection = Router("/tenants", route_handlers=[create_tenant, list_tenants], tags=["tenants"])
    one = Router("/", route_handlers=[get_tenant, patch_tenant, delete_tenant], tags=["tenants"])
    return collection, one
