"""Webhook subscriptions of a tenant. The secret is write-only: it is never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Router, delete, get, post
from litestar.params import Parameter
from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from hub.api._auth import Caller
from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import MAX_ID, Cursor, Limit, decode_cursor, next_cursor
from hub.core import audit
from hub.core.errors import NotFound
from hub.core.hub import Hub
from hub.core.models import WebhookDelivery, WebhookSubscription
from hub.core.tenants import TenantInfo
from hub.core.webhooks import EVENTS, create_subscription

__all__ = ["DeliveryOut", "SubscriptionIn", "SubscriptionOut", "build_router"]

SubscriptionId = Annotated[int, Parameter(ge=1, le=MAX_ID)]


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new subscription; ``secret`` (≥ 16 characters) signs every delivery."""

    url: Annotated[str, msgspec.Meta(max_length=2000)]
    events: Annotated[list[str], msgspec.Meta(description=", ".join(EVENTS), max_length=10)]
    secret: Annotated[str, msgspec.Meta(max_length=1000, extra_json_schema={"writeOnly": True})]


class SubscriptionOut(msgspec.Struct):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookSubscription) -> SubscriptionOut:
        assert row.id is not None
        return cls(row.id, row.url, list(row.events), row.active, row.created_at)


class SubscriptionPage(msgspec.Struct):
    items: list[SubscriptionOut]
    next_cursor: str | None


class DeliveryOut(msgspec.Struct):
    id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(msgspec.Struct):
    items: list[DeliveryOut]
    next_cursor: str | None


def _subscription(session: Session, tenant_id: int, subscription_id: int) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return row


@post("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Subscribe to events")
def create_webhook(
    data: SubscriptionIn, hub: Hub, tenant: TenantInfo, caller: Caller
) -> SubscriptionOut:
    """Subscribe ``url`` to ``events`` (422 naming the fields); 201 without the secret.

    The URL must reach a public address: loopback, private and link-local targets are
    refused (422 on ``url``) unless the hub sets ``HUB_ALLOW_PRIVATE_WEBHOOKS``."""
    with hub.db.session() as session:
        row = create_subscription(
            session,
            hub.box,
            tenant.id,
            data.url,
            data.events,
            data.secret,
            settings=hub.settings,
        )
        audit.record(
            session,
            actor=caller.actor,
            action="webhook.created",
            tenant_id=tenant.id,
            target=data.url,
            details={"id": row.id, "events": row.events},
        )
        return SubscriptionOut.of(row)


@get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List subscriptions")
def list_webhooks(
    hub: Hub, tenant: TenantInfo, cursor: Cursor = None, limit: Limit = 100
) -> SubscriptionPage:
    """The tenant's subscriptions (never their secrets)."""
    after = decode_cursor(cursor)
    query = select(WebhookSubscription).where(WebhookSubscription.tenant_id == tenant.id)
    if after is not None:
        query = query.where(col(WebhookSubscription.id) > after)
    with hub.db.read() as session:
        rows = list(session.exec(query.order_by(col(WebhookSubscription.id)).limit(limit + 1)))
    return SubscriptionPage(
        [SubscriptionOut.of(r) for r in rows[:limit]], next_cursor([r.id or 0 for r in rows], limit)
    )


@delete(
    "/{subscription_id:int}",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    summary="Delete a subscription",
)
def delete_webhook(
    hub: Hub, tenant: TenantInfo, caller: Caller, subscription_id: SubscriptionId
) -> None:
    """Remove a subscription and its deliveries (204)."""
    with hub.db.session() as session:
        row = _subscription(session, tenant.id, subscription_id)
        session.execute(
            sql_delete(WebhookDelivery).where(
                col(WebhookDelivery.subscription_id) == subscription_id
            )
        )
        session.delete(row)
        audit.record(
            session,
            actor=caller.actor,
            action="webhook.deleted",
            tenant_id=tenant.id,
            target=row.url,
            details={"id": subscription_id},
        )


@get(
    "/{subscription_id:int}/deliveries",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    summary="A subscription's deliveries",
)
def list_deliveries(
    hub: Hub,
    tenant: TenantInfo,
    subscription_id: SubscriptionId,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> DeliveryPage:
    """Deliveries of a subscription, newest first."""
    before = decode_cursor(cursor)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if before is not None:
        query = query.where(col(WebhookDelivery.id) < before)
    with hub.db.read() as session:
        _subscription(session, tenant.id, subscription_id)
        rows = list(session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1)))
    items = [
        DeliveryOut(
            id=d.id or 0,
            event=d.event,
            event_id=d.event_id,
            state=d.state,
            attempts=d.attempts,
            last_status=d.last_status,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d in rows[:limit]
    ]
    return DeliveryPage(items, next_cursor([d.id or 0 for d in rows], limit))


def build_router() -> Router:
    """``/webhooks`` under ``/api/v1/tenants/{slug}``."""
    return Router(
        "/webhooks",
        route_handlers=[create_webhook, list_webhooks, delete_webhook, list_deliveries],
        tags=["webhooks"],
    )
