"""Outbound webhooks: events written as delivery rows in the changing transaction (an
outbox), then sent signed, with retries and backoff.

Signature: header ``X-Hub-Signature: t=<unix time>,v1=<hex>`` where ``v1`` is
HMAC-SHA256(secret, "<t>.<body>"). Receivers recompute it and reject stale ``t``.
Other headers: ``X-Hub-Event``, ``X-Hub-Delivery`` (the event id, stable across retries).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import Session, col, select

from hub.core.crypto import SecretBox
from hub.core.db import Database
from hub.core.direct_sql import DirectSql
from hub.core.errors import Invalid
from hub.core.models import WebhookDelivery, WebhookSubscription
from hub.core.outbound import OutboundSettings, webhook_url_refusal
from hub.core.types import utcnow

__all__ = [
    "EVENTS",
    "MAX_ATTEMPTS",
    "create_subscription",
    "deliver_due",
    "emit",
    "emit_many",
    "emit_on",
    "page_deliveries",
    "page_subscriptions",
    "sign",
    "update_subscription",
    "wanted",
]

EVENTS = ("install.status_changed", "inventory.changed", "order.updated", "run.finished")
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 5.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def create_subscription(
    session: Session,
    box: SecretBox,
    tenant_id: int,
    url: str,
    events: list[str],
    secret: str,
    *,
    settings: OutboundSettings,
) -> WebhookSubscription:
    """A new subscription (422 naming the fields). ``url`` must pass the outbound rule
    (:func:`hub.core.outbound.webhook_url_refusal`: no loopback, private or link-local
    targets unless ``HUB_ALLOW_PRIVATE_WEBHOOKS``); it is checked again at every delivery."""
    _check_subscription(url, events, secret, settings)
    sub = WebhookSubscription(
        tenant_id=tenant_id, url=url, events=sorted(set(events)), secret=box.encrypt(secret)
    )
    session.add(sub)
    session.flush()
    return sub


def _check_subscription(
    url: str | None, events: list[str] | None, secret: str | None, settings: OutboundSettings
) -> None:
    """422 naming each field that is not valid (None: not given, not checked)."""
    problems: dict[str, str] = {}
    refusal = webhook_url_refusal(url, settings) if url is not None else None
    if refusal:
        problems["url"] = refusal
    if events is not None and (not events or any(e not in EVENTS for e in events)):
        problems["events"] = f"must be a non-empty subset of {', '.join(EVENTS)}"
    if secret is not None and len(secret) < 16:
        problems["secret"] = "must have at least 16 characters"
    if problems:
        raise Invalid("invalid webhook subscription", fields=problems)


def update_subscription(
    sub: WebhookSubscription,
    box: SecretBox,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    secret: str | None = None,
    active: bool | None = None,
    settings: OutboundSettings,
) -> list[str]:
    """Change the given fields of a subscription (None: unchanged; 422 naming the fields,
    nothing changed); returns the names of the fields given."""
    _check_subscription(url, events, secret, settings)
    changed: list[str] = []
    if url is not None:
        sub.url, changed = url, [*changed, "url"]
    if events is not None:
        sub.events, changed = sorted(set(events)), [*changed, "events"]
    if secret is not None:
        sub.secret, changed = box.encrypt(secret), [*changed, "secret"]
    if active is not None:
        sub.active, changed = active, [*changed, "active"]
    return changed


def wanted(session: Session, tenant_id: int, event: str) -> bool:
    """Whether any active subscription of the tenant wants ``event`` (direct SQL: asked by
    every page of stock movements)."""
    return bool(_subscribers(DirectSql.of(session), tenant_id, event))


def _subscribers(sql: DirectSql, tenant_id: int, event: str) -> list[int]:
    return [
        sub_id
        for sub_id, events in sql.rows(_SUBSCRIPTIONS, tenant=tenant_id)
        if event in (json.loads(events) if isinstance(events, str) else events)
    ]


def emit(session: Session, tenant_id: int, event: str, data: dict[str, Any]) -> int:
    """Queue ``event`` for every subscription of the tenant that wants it; returns the
    number of deliveries. Runs inside the caller's transaction, so a rolled-back change
    sends nothing."""
    return emit_many(session, tenant_id, event, [data])


def emit_many(session: Session, tenant_id: int, event: str, items: Iterable[dict[str, Any]]) -> int:
    """:func:`emit` for several events of one kind."""
    return emit_on(DirectSql.of(session), tenant_id, event, items)


# Direct SQL: this runs on every order change, and most tenants subscribe to
# nothing.
_SUBSCRIPTIONS = "SELECT id, events FROM webhook_subscriptions WHERE tenant_id = :tenant AND active"
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (subscription_id, tenant_id, event, event_id, payload,"
    " state, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at)"
    " VALUES (:subscription_id, :tenant_id, :event, :event_id, :payload,"
    " 'pending', 0, :now, NULL, '', :now, NULL)"
)


def emit_on(sql: DirectSql, tenant_id: int, event: str, items: Iterable[dict[str, Any]]) -> int:
    """:func:`emit_many` through direct SQL (in its transaction)."""
    subs = _subscribers(sql, tenant_id, event)
    if not subs:
        return 0
    rows = []
    now = utcnow()
    stored_now = sql.when(now)
    for data in items:
        event_id = uuid.uuid4().hex
        body = json.dumps(
            {"id": event_id, "event": event, "created_at": now.isoformat(), "data": data},
            default=str,
            separators=(",", ":"),
        )
        for sub_id in subs:
            rows.append(
                {
                    "subscription_id": sub_id,
                    "tenant_id": tenant_id,
                    "event": event,
                    "event_id": event_id,
                    "payload": body,
                    "now": stored_now,
                }
            )
    sql.run_many(_INSERT_DELIVERY, rows)
    return len(rows)


def deliver_due(
    db: Database,
    box: SecretBox,
    settings: OutboundSettings,
    *,
    client: httpx.Client | None = None,
    limit: int = 100,
) -> dict[str, int]:
    """Send the deliveries that are due; returns counts by outcome (delivered, retry, failed).

    Each URL passes the outbound rule again first (what its host resolves to may have
    changed since it was stored, or the setting did): a refused one is not sent, and the
    attempt is recorded as failed with the reason. Redirects are not followed."""
    outcome = {"delivered": 0, "retry": 0, "failed": 0}
    own = client is None
    http = client or httpx.Client(timeout=10.0)
    try:
        with db.session() as session:
            now = utcnow()
            due = list(
                session.exec(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now
                    )
                    .order_by(col(WebhookDelivery.id))
                    .limit(limit)
                )
            )
            # Claim them: push next_attempt_at out so another sender skips them meanwhile.
            for d in due:
                d.next_attempt_at = now + timedelta(seconds=60)
                session.add(d)
            claimed = [(d.id, d.subscription_id, d.payload, d.event, d.event_id) for d in due]
            subs = (
                {
                    s.id: s
                    for s in session.exec(
                        select(WebhookSubscription).where(
                            col(WebhookSubscription.id).in_({c[1] for c in claimed})
                        )
                    )
                }
                if claimed
                else {}
            )
        for delivery_id, sub_id, payload, event, event_id in claimed:
            sub = subs.get(sub_id)
            status: int | None = None
            error = ""
            refusal = webhook_url_refusal(sub.url, settings) if sub is not None else None
            if sub is None or not sub.active:
                error = "subscription removed"
            elif refusal:
                error = f"not sent: {refusal}"[:500]
            else:
                body = payload.encode()
                ts = int(time.time())
                try:
                    resp = http.post(
                        sub.url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Hub-Event": event,
                            "X-Hub-Delivery": event_id,
                            "X-Hub-Signature": sign(box.decrypt(sub.secret), ts, body),
                        },
                    )
                    status = resp.status_code
                    if not 200 <= status < 300:
                        error = f"HTTP {status}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
            with db.session() as session:
                row = session.get(WebhookDelivery, delivery_id)
                if row is None:
                    continue
                row.attempts += 1
                row.last_status = status
                row.last_error = error
                if not error:
                    row.state = "delivered"
                    row.delivered_at = utcnow()
                    outcome["delivered"] += 1
                elif row.attempts >= MAX_ATTEMPTS or sub is None:
                    row.state = "failed"
                    outcome["failed"] += 1
                else:
                    delay = BACKOFF_BASE_SECONDS * (2 ** (row.attempts - 1))
                    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
                    outcome["retry"] += 1
                session.add(row)
    finally:
        if own:
            http.close()
    return outcome


def page_subscriptions(
    session: Session, tenant_id: int, *, after: int | None = None, limit: int = 100
) -> list[WebhookSubscription]:
    """A page of the tenant's subscriptions in creation order: up to ``limit + 1`` rows (one
    more than asked: a next page exists) with an id above ``after``."""
    query = select(WebhookSubscription).where(WebhookSubscription.tenant_id == tenant_id)
    if after is not None:
        query = query.where(col(WebhookSubscription.id) > after)
    return list(session.exec(query.order_by(col(WebhookSubscription.id)).limit(limit + 1)))


def page_deliveries(
    session: Session, subscription_id: int, *, before: int | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """A page of a subscription's deliveries, newest first: up to ``limit + 1`` rows (one
    more than asked: a next page exists) with an id below ``before``."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if before is not None:
        query = query.where(col(WebhookDelivery.id) < before)
    return list(session.exec(query.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1)))
