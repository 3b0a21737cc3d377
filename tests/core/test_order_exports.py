"""The order-export state machine (:mod:`hub.core.exports`): its events, what each may move,
and what is refused."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from hub.core import webhooks
from hub.core.direct_sql import DirectSql
from hub.core.errors import Conflict
from hub.core.exports import TRANSITIONS, IllegalTransition, move
from hub.core.models import OrderExport, WebhookDelivery
from tests.core.conftest import Setup, order_body, plugin_context


def place(setup: Setup, *numbers: str) -> None:
    start = datetime(2026, 5, 1, 8, tzinfo=UTC)
    for i, number in enumerate(numbers):
        setup.hub.intake_order(
            setup.tenant_id, order_body(number, placed_at=start + timedelta(minutes=i))
        )


def export_states(setup: Setup) -> dict[int, str]:
    with setup.hub.db.read() as session:
        return {e.order_id: e.state for e in session.exec(select(OrderExport))}


def test_offers_are_oldest_first_and_at_most_the_limit(setup: Setup) -> None:
    hub = setup.hub
    # Placed out of order: the offer follows placed_at, not the insertion order.
    hub.intake_order(setup.tenant_id, order_body("W-3", placed_at=datetime(2026, 5, 3, tzinfo=UTC)))
    hub.intake_order(setup.tenant_id, order_body("W-1", placed_at=datetime(2026, 5, 1, tzinfo=UTC)))
    hub.intake_order(setup.tenant_id, order_body("W-2", placed_at=datetime(2026, 5, 2, tzinfo=UTC)))
    ctx = plugin_context(setup)
    assert [o.number for o in ctx.offer_orders(limit=2)] == ["W-1", "W-2"]
    assert sorted(export_states(setup).values()) == ["offered", "offered", "pending"]


def test_an_offered_order_is_offered_again_until_acknowledged(setup: Setup) -> None:
    place(setup, "W-1", "W-2")
    ctx = plugin_context(setup)
    assert [o.number for o in ctx.offer_orders()] == ["W-1", "W-2"]
    assert [o.number for o in ctx.offer_orders()] == ["W-1", "W-2"]
    assert ctx.acknowledge_export("W-1", external_ref="DMS-77", notes=[("OK", "taken")])
    assert [o.number for o in ctx.offer_orders()] == ["W-2"]
    detail = setup.hub.order_detail(setup.tenant_id, "W-1")
    assert detail["exports"][0]["state"] == "acknowledged"
    assert detail["exports"][0]["external_ref"] == "DMS-77"
    assert detail["exports"][0]["attempts"] >= 1
    assert any(n["code"] == "OK" and n["source"] == "sample" for n in detail["notes"])


def test_acknowledging_twice_is_a_no_op(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    ctx.offer_orders()
    assert ctx.acknowledge_export("W-1", external_ref="A")
    assert not ctx.acknowledge_export("W-1", external_ref="B")
    assert setup.hub.order_detail(setup.tenant_id, "W-1")["exports"][0]["external_ref"] == "A"


def test_rejected_order_leaves_the_outstanding_list_until_retried(setup: Setup) -> None:
    place(setup, "W-1", "W-2")
    ctx = plugin_context(setup)
    ctx.offer_orders()
    assert ctx.reject_export("W-1", "unknown customer")
    assert [o.number for o in ctx.offer_orders()] == ["W-2"]
    detail = setup.hub.retry_export(setup.tenant_id, "W-1", "sample", actor="integrator")
    assert detail["exports"][0]["state"] == "pending"
    assert detail["exports"][0]["message"] == ""
    assert [o.number for o in ctx.offer_orders()] == ["W-1", "W-2"]


def test_a_failed_export_can_be_retried(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    assert ctx.fail_export("W-1", "the sale could not be created")
    detail = setup.hub.order_detail(setup.tenant_id, "W-1")
    assert (detail["exports"][0]["state"], detail["exports"][0]["message"]) == (
        "failed",
        "the sale could not be created",
    )
    assert ctx.offer_orders() == []
    setup.hub.retry_export(setup.tenant_id, "W-1", "sample", actor="integrator")
    assert [o.number for o in ctx.offer_orders()] == ["W-1"]


def test_retrying_an_acknowledged_export_is_a_conflict(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    ctx.acknowledge_export("W-1")
    with pytest.raises(Conflict, match="only a rejected or failed export can be retried"):
        setup.hub.retry_export(setup.tenant_id, "W-1", "sample", actor="integrator")


def test_cancel_after_acknowledge_lists_a_pending_cancellation_until_acknowledged(
    setup: Setup,
) -> None:
    place(setup, "W-1", "W-2")
    ctx = plugin_context(setup)
    ctx.offer_orders()
    ctx.acknowledge_export("W-1")
    setup.hub.cancel_order(setup.tenant_id, "W-1", "customer called", actor="shop")
    assert [o.number for o in ctx.pending_cancellations()] == ["W-1"]
    assert ctx.pending_cancellations()[0].cancel_reason == "customer called"
    assert ctx.acknowledge_cancellation("W-1")
    assert not ctx.acknowledge_cancellation("W-1")
    assert ctx.pending_cancellations() == []
    assert (
        setup.hub.order_detail(setup.tenant_id, "W-1")["exports"][0]["cancellation"]
        == "acknowledged"
    )


def test_an_order_canceled_before_download_is_never_offered(setup: Setup) -> None:
    place(setup, "W-1", "W-2")
    setup.hub.cancel_order(setup.tenant_id, "W-1", "fraud", actor="shop")
    ctx = plugin_context(setup)
    assert [o.number for o in ctx.offer_orders()] == ["W-2"]
    assert ctx.pending_cancellations() == []


def test_a_cancellation_by_the_vendor_itself_is_not_sent_back(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    ctx.acknowledge_export("W-1")
    assert ctx.cancel_order("W-1", "out of stock")
    assert ctx.pending_cancellations() == []


def test_two_pollers_acknowledging_the_same_orders_acknowledge_each_once(setup: Setup) -> None:
    numbers = [f"W-{i}" for i in range(12)]
    with setup.hub.db.session() as session:
        webhooks.create_subscription(
            session,
            setup.hub.box,
            setup.tenant_id,
            "http://127.0.0.1:9/hook",
            ["order.updated"],
            "s" * 20,
            settings=setup.hub.settings,
        )
    place(setup, *numbers)
    contexts = [plugin_context(setup), plugin_context(setup)]
    contexts[0].offer_orders(limit=100)
    results: list[list[bool]] = [[], []]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def poller(index: int) -> None:
        try:
            barrier.wait()
            for number in numbers:
                results[index].append(contexts[index].acknowledge_export(number))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=poller, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert [a or b for a, b in zip(*results, strict=True)] == [True] * len(numbers)
    assert sum(results[0]) + sum(results[1]) == len(numbers)
    assert set(export_states(setup).values()) == {"acknowledged"}
    with setup.hub.db.read() as session:
        acknowledged_events = [
            d
            for d in session.exec(select(WebhookDelivery))
            if '"sample: acknowledged"' in d.payload
        ]
    assert len(acknowledged_events) == len(numbers)


def order_notes(setup: Setup, number: str) -> list[str]:
    return [n["message"] for n in setup.hub.order_detail(setup.tenant_id, number)["notes"]]


def test_rejecting_an_acknowledged_export_is_refused_and_records_nothing(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    assert ctx.acknowledge_export("W-1")
    before = setup.hub.order_detail(setup.tenant_id, "W-1")
    with pytest.raises(
        IllegalTransition,
        match="the sample export of order 'W-1' is acknowledged; "
        "only a pending or offered export can be rejected",
    ):
        ctx.reject_export("W-1", "unknown customer", notes=[("1301", "too late")])
    after = setup.hub.order_detail(setup.tenant_id, "W-1")
    assert after["exports"] == before["exports"]
    assert after["notes"] == before["notes"]


def test_a_rejected_export_cannot_be_marked_failed(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    assert ctx.reject_export("W-1", "unknown customer")
    assert not ctx.reject_export("W-1", "unknown customer")  # a repeat changes nothing
    with pytest.raises(IllegalTransition, match="only a pending or offered export can be marked"):
        ctx.fail_export("W-1", "the sale could not be created")
    assert list(export_states(setup).values()) == ["rejected"]


def test_retrying_a_pending_export_is_a_conflict(setup: Setup) -> None:
    place(setup, "W-1")
    with pytest.raises(Conflict, match="is pending; only a rejected or failed export can be"):
        setup.hub.retry_export(setup.tenant_id, "W-1", "sample", actor="integrator")
    assert order_notes(setup, "W-1") == []


def test_a_cancellation_never_sent_cannot_be_acknowledged(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    ctx.acknowledge_export("W-1")
    with pytest.raises(IllegalTransition, match="has none; only a pending cancellation"):
        ctx.acknowledge_cancellation("W-1", notes=[("7001", "confirmed")])
    assert "confirmed" not in order_notes(setup, "W-1")


def test_an_order_canceled_while_on_offer_leaves_the_queue_without_a_cancellation(
    setup: Setup,
) -> None:
    place(setup, "W-1", "W-2")
    ctx = plugin_context(setup)
    ctx.offer_orders()
    setup.hub.cancel_order(setup.tenant_id, "W-1", "fraud", actor="shop")
    assert [o.number for o in ctx.offer_orders()] == ["W-2"]
    assert ctx.pending_cancellations() == []


def test_an_order_canceled_on_offer_then_acknowledged_by_the_vendor_gets_a_cancellation(
    setup: Setup,
) -> None:
    place(setup, "W-1", "W-2")
    ctx = plugin_context(setup)
    ctx.offer_orders()  # the vendor downloads W-1 …
    setup.hub.cancel_order(setup.tenant_id, "W-1", "fraud", actor="shop")
    assert ctx.acknowledge_export("W-1")  # … and takes it after the hub canceled it
    assert [o.number for o in ctx.pending_cancellations()] == ["W-1"]
    assert ctx.acknowledge_cancellation("W-1")
    assert ctx.pending_cancellations() == []


def test_an_offer_counts_one_attempt_however_often_the_order_is_listed(setup: Setup) -> None:
    place(setup, "W-1")
    ctx = plugin_context(setup)
    for _ in range(3):
        ctx.offer_orders()
    assert setup.hub.order_detail(setup.tenant_id, "W-1")["exports"][0]["attempts"] == 1
    ctx.reject_export("W-1", "unknown customer")
    setup.hub.retry_export(setup.tenant_id, "W-1", "sample", actor="integrator")
    ctx.offer_orders()
    assert setup.hub.order_detail(setup.tenant_id, "W-1")["exports"][0]["attempts"] == 2


@pytest.mark.parametrize("event", sorted(TRANSITIONS))
@pytest.mark.parametrize(
    ("state", "cancel_state"),
    [(s, "") for s in ("pending", "offered", "acknowledged", "rejected", "failed")]
    + [("acknowledged", "pending"), ("acknowledged", "acknowledged")],
)
def test_an_event_moves_exactly_the_exports_its_table_row_allows(
    setup: Setup, event: str, state: str, cancel_state: str
) -> None:
    place(setup, "W-1")
    with setup.hub.db.session() as session:
        export = session.exec(select(OrderExport)).one()
        export.state, export.cancel_state = state, cancel_state
        session.add(export)
        session.flush()
        assert export.id is not None
        moved = move(DirectSql.of(session), event, [export.id])
    transition = TRANSITIONS[event]
    with setup.hub.db.read() as session:
        after = session.exec(select(OrderExport)).one()
    before = state if transition.column == "state" else cancel_state
    allowed = before in transition.sources and (
        not transition.on_states or state in transition.on_states
    )
    assert moved == int(allowed)
    now = after.state if transition.column == "state" else after.cancel_state
    assert now == (transition.target if allowed else before)


def test_an_unknown_event_or_column_is_a_programming_error(setup: Setup) -> None:
    place(setup, "W-1")
    with setup.hub.db.session() as session:
        sql = DirectSql.of(session)
        with pytest.raises(ValueError, match="no event 'ship'"):
            move(sql, "ship", [1])
        with pytest.raises(ValueError, match="reject cannot set state"):
            move(sql, "reject", [1], state="acknowledged")
