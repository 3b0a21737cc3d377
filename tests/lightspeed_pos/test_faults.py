"""Faults: 429s wait, 5xx and timeouts end a run ``partial`` and the next run continues from
the cursor, a truncated body is an error on the run — never a crash or a half-applied sale."""

from __future__ import annotations

from typing import Any

from sqlmodel import func, select

from hub.core.models import Order
from plugins.lightspeed_rseries.sandbox import Fault
from tests.lightspeed_pos.conftest import PosWorld


def _count_orders(world: PosWorld) -> int:
    with world.hub.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Order)).one())


def _ring_up(world: PosWorld, n: int) -> list[dict[str, Any]]:
    return [world.state.ring_up(1 + i % 2, [(1, 1, "59.99")]) for i in range(n)]


def test_a_429_waits_for_retry_after_and_the_run_succeeds(world: PosWorld) -> None:
    world.setup()
    _ring_up(world, 3)
    world.state.add_fault(Fault(status=429, path="*/Sale.json", retry_after=1))
    run = world.run("order_download")
    assert run["state"] == "succeeded", run
    assert run["counts"]["orders_created"] == 3 and world.state.count_status(429) == 1


def test_a_5xx_outage_ends_the_run_partial_and_the_next_run_continues(world: PosWorld) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 500), ("HELMET", "W3", 500)])
    _ring_up(world, 150)  # two pages
    world.state.add_fault(Fault(status=503, path="*/Sale.json", skip=1, count=50))
    first = world.run("order_download")
    assert first["state"] == "partial", first
    assert (
        "left for the next run" in first["message"]
        and "continues from the cursor" in first["message"]
    )
    assert first["counts"]["orders_created"] == 100 and _count_orders(world) == 100
    world.state.faults.clear()
    second = world.run("order_download")
    assert second["state"] == "succeeded", second
    assert second["counts"]["orders_created"] == 50 and _count_orders(world) == 150
    assert world.stock("HELMET", "W1") + world.stock("HELMET", "W3") == 1000 - 150


def test_a_truncated_body_is_an_error_on_the_run_never_a_half_applied_sale(
    world: PosWorld,
) -> None:
    world.setup()
    world.set_stock([("HELMET", "W1", 10)])
    _ring_up(world, 2)
    world.state.add_fault(Fault(kind="truncated", path="*/Sale.json", count=50))
    first = world.run("order_download")
    assert first["state"] == "partial", first
    assert any("truncated or invalid JSON" in e for e in first["errors"])
    assert _count_orders(world) == 0 and world.stock("HELMET", "W1") == 10
    world.state.faults.clear()
    assert world.run("order_download")["counts"]["orders_created"] == 2


def test_a_5xx_outage_during_the_stock_upload_leaves_the_rest_for_the_next_run(
    world: PosWorld,
) -> None:
    world.setup()
    world.enable("HELMET", "CHAIN")
    world.bind("HELMET", 1)
    world.bind("CHAIN", 3)
    world.set_stock([("HELMET", "W1", 2), ("CHAIN", "W1", 3)])
    world.state.add_fault(Fault(status=502, method="PUT", path="*/Item/3.json", count=50))
    first = world.run("inventory_upload")
    assert first["state"] == "partial", first
    world.state.faults.clear()
    before = len(world.writes())
    second = world.run("inventory_upload")
    assert second["state"] == "succeeded", second
    # Only what was left is sent: the helmet went up in the first run and is not sent again.
    assert [w.record_id for w in world.writes()[before:]] == [3]
    assert world.state.stock(3, 1) == 3 and world.state.stock(1, 1) == 2
