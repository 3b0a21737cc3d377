"""Per-install state: cursors, bindings (hub id ↔ vendor id) and leases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from hub.core import state, webhooks
from hub.core.errors import NotFound
from hub.core.models import WebhookDelivery
from hub.core.records import InventoryRecord, MatchRule
from tests.core.conftest import Setup, add_products, plugin_context


def test_a_cursor_is_kept_per_install_and_name(setup: Setup) -> None:
    ctx = plugin_context(setup)
    assert ctx.cursor("sales") is None
    ctx.set_cursor("sales", "2026-05-01T00:00:00Z")
    ctx.set_cursor("sales", "2026-05-02T00:00:00Z")
    ctx.set_cursor("items", "42")
    assert ctx.cursor("sales") == "2026-05-02T00:00:00Z"
    assert ctx.cursor("items") == "42"


def test_a_binding_maps_a_hub_id_to_a_vendor_id_and_back(setup: Setup) -> None:
    ctx = plugin_context(setup)
    ctx.bind("product", 7, "V-100", {"etag": "a"})
    ctx.bind("product", 7, "V-101")
    assert ctx.vendor_id("product", 7) == "V-101"
    assert ctx.vendor_id("product", 8) is None
    with setup.hub.db.read() as session:
        assert state.hub_id_of(session, setup.install_id, "product", "V-101") == 7


def test_a_lease_has_one_holder_until_it_expires_or_is_released(setup: Setup) -> None:
    db = setup.hub.db
    assert state.acquire_lease(db, "scheduler", "a", timedelta(minutes=1))
    assert state.acquire_lease(db, "scheduler", "a", timedelta(minutes=1))  # renewed
    assert not state.acquire_lease(db, "scheduler", "b", timedelta(minutes=1))
    state.release_lease(db, "scheduler", "a")
    assert state.acquire_lease(db, "scheduler", "b", timedelta(seconds=-1))  # expires at once
    assert state.acquire_lease(db, "scheduler", "a", timedelta(minutes=1))


def test_applying_through_the_context_raises_inventory_changed_for_changed_products(
    setup: Setup,
) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A-1"}, {"sku": "B-2"}])
    with setup.hub.db.session() as session:
        webhooks.create_subscription(
            session,
            setup.hub.box,
            setup.tenant_id,
            "http://127.0.0.1:9/hook",
            ["inventory.changed"],
            "s" * 20,
            settings=setup.hub.settings,
        )
    ctx = plugin_context(setup)
    ctx.apply_inventory(
        [InventoryRecord("A-1", 2), InventoryRecord("B-2", 0)],
        rule=MatchRule.SKU,
        location_code="main",
    )
    ctx.apply_inventory(
        [InventoryRecord("A-1", 2), InventoryRecord("B-2", 1)],
        rule=MatchRule.SKU,
        location_code="main",
    )
    with setup.hub.db.read() as session:
        payloads = [d.payload for d in session.exec(select(WebhookDelivery))]
    assert len(payloads) == 2
    assert '"skus":["A-1","B-2"]' in payloads[0]
    assert '"skus":["B-2"]' in payloads[1]
    with pytest.raises(NotFound, match="location 'nowhere'"):
        ctx.apply_inventory([], rule=MatchRule.SKU, location_code="nowhere")
