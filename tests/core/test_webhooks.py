"""Outbound webhooks: an outbox written in the changing transaction, signed deliveries,
retries with backoff, failure after the last attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar, Request, Response, post
from sqlalchemy import update
from sqlmodel import col, select

from hub.core import webhooks
from hub.core.errors import Invalid
from hub.core.models import WebhookDelivery
from hub.core.types import utcnow
from hub.serving import serve_in_thread
from tests.core.conftest import Setup, make_tenant, order_body

SECRET = "a-webhook-secret-of-some-length"


@dataclass
class Receiver:
    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A small real HTTP receiver that records what it gets and answers ``status``."""
    state = Receiver(url="")

    @post("/hook")
    async def hook(request: Request[Any, Any, Any]) -> Response[str]:
        state.received.append((dict(request.headers), await request.body()))
        return Response("", status_code=state.status)

    with serve_in_thread(Litestar([hook])) as server:
        state.url = f"{server.url}/hook"
        yield state


def subscribe(setup: Setup, url: str, events: list[str] | None = None) -> None:
    with setup.hub.db.session() as session:
        webhooks.create_subscription(
            session,
            setup.hub.box,
            setup.tenant_id,
            url,
            events or ["order.updated", "run.finished"],
            SECRET,
            settings=setup.hub.settings,
        )


def deliveries(setup: Setup) -> list[WebhookDelivery]:
    with setup.hub.db.read() as session:
        return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def test_a_subscription_needs_a_url_known_events_and_a_long_secret(setup: Setup) -> None:
    with pytest.raises(Invalid) as caught, setup.hub.db.session() as session:
        webhooks.create_subscription(
            session,
            setup.hub.box,
            setup.tenant_id,
            "ftp://x",
            ["nope"],
            "short",
            settings=setup.hub.settings,
        )
    assert set(caught.value.fields or {}) == {"url", "events", "secret"}


def test_an_event_is_queued_in_the_changing_transaction_and_a_rollback_sends_nothing(
    setup: Setup,
) -> None:
    subscribe(setup, "http://127.0.0.1:9/hook")
    with pytest.raises(RuntimeError), setup.hub.db.session() as session:
        assert webhooks.emit(session, setup.tenant_id, "order.updated", {"number": "W-1"}) == 1
        raise RuntimeError("the change failed")
    assert deliveries(setup) == []
    with setup.hub.db.session() as session:
        webhooks.emit(session, setup.tenant_id, "order.updated", {"number": "W-1"})
    assert len(deliveries(setup)) == 1


def test_events_go_only_to_subscriptions_of_the_tenant_that_want_them(setup: Setup) -> None:
    other = make_tenant(setup.hub, "other", plugin_ids=())
    subscribe(setup, "http://127.0.0.1:9/inventory", ["inventory.changed"])
    subscribe(other, "http://127.0.0.1:9/other", ["order.updated"])
    setup.hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert deliveries(setup) == []


def test_a_delivery_is_signed_with_hmac_sha256(setup: Setup, receiver: Receiver) -> None:
    subscribe(setup, receiver.url)
    setup.hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings) == {
        "delivered": 1,
        "retry": 0,
        "failed": 0,
    }
    headers, body = receiver.received[0]
    parts = dict(p.split("=", 1) for p in headers["x-hub-signature"].split(","))
    expected = hmac.new(
        SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert headers["x-hub-event"] == "order.updated"
    payload = json.loads(body)
    assert payload["id"] == headers["x-hub-delivery"]
    assert payload["data"] == {"number": "W-1", "status": "open", "reason": "created"}
    row = deliveries(setup)[0]
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings)["delivered"] == 0


def make_due(setup: Setup) -> None:
    with setup.hub.db.session() as session:
        session.execute(
            update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def test_a_failing_receiver_gets_retries_with_backoff_then_the_delivery_fails(
    setup: Setup, receiver: Receiver
) -> None:
    subscribe(setup, receiver.url)
    setup.hub.intake_order(setup.tenant_id, order_body("W-1"))
    receiver.status = 500
    before = utcnow()
    assert webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings) == {
        "delivered": 0,
        "retry": 1,
        "failed": 0,
    }
    row = deliveries(setup)[0]
    assert (row.state, row.attempts, row.last_status, row.last_error) == (
        "pending",
        1,
        500,
        "HTTP 500",
    )
    delay = (row.next_attempt_at - before).total_seconds()
    assert webhooks.BACKOFF_BASE_SECONDS <= delay < webhooks.BACKOFF_BASE_SECONDS + 5
    # Not due yet: nothing is sent.
    assert webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings) == {
        "delivered": 0,
        "retry": 0,
        "failed": 0,
    }

    make_due(setup)
    before = utcnow()
    webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings)
    row = deliveries(setup)[0]
    assert row.attempts == 2
    assert (row.next_attempt_at - before).total_seconds() >= 2 * webhooks.BACKOFF_BASE_SECONDS

    for _ in range(webhooks.MAX_ATTEMPTS - 2):
        make_due(setup)
        webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings)
    row = deliveries(setup)[0]
    assert (row.state, row.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    # Every attempt carried the same delivery id.
    assert len({h["x-hub-delivery"] for h, _ in receiver.received}) == 1


def test_an_unreachable_receiver_is_retried(setup: Setup) -> None:
    from hub.serving import free_port

    subscribe(setup, f"http://127.0.0.1:{free_port()}/hook")
    setup.hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert webhooks.deliver_due(setup.hub.db, setup.hub.box, setup.hub.settings)["retry"] == 1
    row = deliveries(setup)[0]
    assert row.last_status is None
    assert row.last_error.startswith("ConnectError")
