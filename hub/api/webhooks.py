"""Webhook subscriptions of a tenant. The secret is write-only: it is never returned.

A subscription's reads and its PATCH answer an ``ETag``; a PATCH with ``If-Match`` applies
only to that version (else 412, see :mod:`hub.api._concurrency`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
from litestar import Response, Router, delete, get, patch, post
from litestar.params import Parameter
from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col, select

from hub.api._auth import Caller
from hub.api._concurrency import (
    ETAG_HEADER,
    IfMatch,
    check_if_match,
    last_recorded_change,
    lock,
    webhook_etag,
)
from hub.api._errors import ERROR_RESPONSES
from hub.api._openapi import TENANT_PATH, Link, errors, links
from hub.api._paging import MAX_ID, Cursor, Limit, decode_cursor, next_cursor
from hub.core import audit
from hub.core import webhooks as core_webhooks
from hub.core.errors import NotFound
from hub.core.hub import Hub
from hub.core.models import WebhookDelivery, WebhookSubscription
from hub.core.tenants import TenantInfo
from hub.core.webhooks import EVENTS, create_subscription, update_subscription

__all__ = [
    "DeliveryOut",
    "SubscriptionIn",
    "SubscriptionOut",
    "SubscriptionPatch",
    "build_router",
]

SubscriptionId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
WEBHOOK_PATH = TENANT_PATH + "/webhooks/{subscription_id}"

if TYPE_CHECKING:
    Event = str
else:  # the server's own list, so the document's enum is what create_subscription checks
    Event = Literal[EVENTS]

_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_H16 = "[0-9A-Fa-f]{1,4}"
_V4 = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV6 = "|".join(  # the textual forms of RFC 4291 (no zone id)
    [
        f"(?:{_H16}:){{7}}{_H16}",
        f"(?:{_H16}:){{1,7}}:",
        f"(?:{_H16}:){{1,6}}:{_H16}",
        f"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}",
        f"(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}",
        f"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}",
        f"(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}",
        f"{_H16}:(?::{_H16}){{1,6}}",
        f":(?:(?::{_H16}){{1,7}}|:)",
        f"(?:{_H16}:){{6}}{_V4}",
        f"::(?:ffff(?::0{{1,4}})?:)?{_V4}",
        f"(?:{_H16}:){{1,4}}:{_V4}",
    ]
)
URL_PATTERN = (
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[(?:" + _IPV6 + r")\])"
    r"(?::" + _PORT + r")?(?:[/?#][!-~]*)?$"
)
"""An http(s) URL with a host name, an IPv4 or a bracketed IPv6 address (no user info, no
spaces; an international name in its punycode form): every URL it matches is one the
server can parse, so what is refused beyond it is only the outbound rule."""

Url = Annotated[
    str,
    msgspec.Meta(
        max_length=2000,
        pattern=URL_PATTERN,
        description="http:// or https:// URL of a public address",
    ),
]
Events = Annotated[list[Event], msgspec.Meta(min_length=1, max_length=10)]
Secret = Annotated[
    str,
    msgspec.Meta(
        min_length=16,
        max_length=1000,
        description="Signs every delivery (X-Hub-Signature); never returned",
        extra_json_schema={"extra": {"write_only": True}},
    ),
]


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new subscription; ``secret`` (≥ 16 characters) signs every delivery."""

    url: Url
    events: Events
    secret: Secret


class SubscriptionPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Changes to a subscription (a field left out or null is unchanged)."""

    url: Url | None = None
    events: Events | None = None
    secret: Secret | None = None
    active: bool | None = None


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


_SUBSCRIPTION = {"slug": "$request.path.slug", "subscription_id": "$response.body#/id"}


@post(
    "/",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    response_headers=[ETAG_HEADER],
    summary="Subscribe to events",
    opt=links(
        Link(f"GET {WEBHOOK_PATH}", _SUBSCRIPTION),
        Link(f"PATCH {WEBHOOK_PATH}", _SUBSCRIPTION),
        Link(f"DELETE {WEBHOOK_PATH}", _SUBSCRIPTION),
        Link(f"GET {WEBHOOK_PATH}/deliveries", _SUBSCRIPTION),
    ),
)
def create_webhook(
    data: SubscriptionIn, hub: Hub, tenant: TenantInfo, caller: Caller
) -> Response[SubscriptionOut]:
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
        return Response(
            SubscriptionOut.of(row), status_code=201, headers={"ETag": webhook_etag(row)}
        )


@get(
    "/{subscription_id:int}",
    sync_to_thread=True,
    response_headers=[ETAG_HEADER],
    summary="A subscription",
)
def get_webhook(
    hub: Hub, tenant: TenantInfo, subscription_id: SubscriptionId
) -> Response[SubscriptionOut]:
    """One subscription (never its secret), with its ``ETag``."""
    with hub.db.read() as session:
        row = _subscription(session, tenant.id, subscription_id)
        return Response(SubscriptionOut.of(row), headers={"ETag": webhook_etag(row)})


@patch(
    "/{subscription_id:int}",
    sync_to_thread=True,
    responses=errors(412),
    response_headers=[ETAG_HEADER],
    summary="Change a subscription",
)
def patch_webhook(
    data: SubscriptionPatch,
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    subscription_id: SubscriptionId,
    if_match: IfMatch = None,
) -> Response[SubscriptionOut]:
    """Change the url, events, secret or ``active`` (422 naming the fields, as at creation).

    With ``If-Match``: only while the subscription has that ETag (else 412 naming the latest
    change, nothing changed); without it the last write wins."""
    with hub.db.session() as session:
        row = lock(
            session, select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
        )
        if row is None or row.tenant_id != tenant.id:
            raise NotFound(f"no webhook subscription {subscription_id}")
        check_if_match(
            if_match,
            webhook_etag(row),
            what=f"the webhook subscription {subscription_id}",
            last_change=lambda: last_recorded_change(
                session,
                tenant_id=tenant.id,
                actions=("webhook.created", "webhook.updated"),
                detail_id=subscription_id,
            ),
        )
        changed = update_subscription(
            row,
            hub.box,
            url=data.url,
            events=list(data.events) if data.events is not None else None,
            secret=data.secret,
            active=data.active,
            settings=hub.settings,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=caller.actor,
            action="webhook.updated",
            tenant_id=tenant.id,
            target=row.url,
            details={"id": subscription_id, "changed": changed},
        )
        return Response(SubscriptionOut.of(row), headers={"ETag": webhook_etag(row)})


@get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List subscriptions")
def list_webhooks(
    hub: Hub, tenant: TenantInfo, cursor: Cursor = None, limit: Limit = 100
) -> SubscriptionPage:
    """The tenant's subscriptions (never their secrets)."""
    after = decode_cursor(cursor)
    with hub.db.read() as session:
        rows = core_webhooks.page_subscriptions(session, tenant.id, after=after, limit=limit)
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
    with hub.db.read() as session:
        _subscription(session, tenant.id, subscription_id)
        rows = core_webhooks.page_deliveries(session, subscription_id, before=before, limit=limit)
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
        route_handlers=[
            create_webhook,
            list_webhooks,
            get_webhook,
            patch_webhook,
            delete_webhook,
            list_deliveries,
        ],
        tags=["webhooks"],
    )
