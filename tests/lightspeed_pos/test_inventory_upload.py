"""``inventory_upload`` / ``inventory_reconcile``: the hub's stock per shop → ItemShops.qoh."""

from __future__ import annotations

from sqlmodel import col, select

from hub.core.models import JobRun
from hub.core.schedule import tick
from tests.lightspeed_pos.conftest import PosWorld


def _ready(world: PosWorld, **config: object) -> None:
    world.setup(**config)
    world.enable("HELMET", "CHAIN", "LIGHT")
    world.bind("HELMET", 1)
    world.bind("CHAIN", 3)


def test_each_shop_gets_the_sum_of_its_warehouses_in_one_put_per_item(world: PosWorld) -> None:
    _ready(world)
    world.set_stock(
        [("HELMET", "W1", 2), ("HELMET", "W2", 3), ("HELMET", "W3", 4), ("HELMET", "W9", 50)]
    )
    run = world.run("inventory_upload")
    assert run["state"] == "succeeded", run
    assert (world.state.stock(1, 1), world.state.stock(1, 2)) == (5, 4)
    helmet = [w for w in world.writes() if w.record_id == 1]
    assert len(helmet) == 1
    assert helmet[0].payload == {
        "ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 5}, {"shopID": 2, "qoh": 4}]}
    }


def test_only_changed_shops_are_sent(world: PosWorld) -> None:
    _ready(world)
    world.set_stock([("HELMET", "W1", 2), ("HELMET", "W3", 4)])
    world.run("inventory_upload")
    before = len(world.writes())
    world.set_stock([("HELMET", "W3", 1)])
    world.run("inventory_upload")
    writes = world.writes()[before:]
    assert [w.payload for w in writes] == [{"ItemShops": {"ItemShop": [{"shopID": 2, "qoh": 1}]}}]


def test_a_second_inventory_upload_with_no_change_sends_zero_writes(world: PosWorld) -> None:
    _ready(world)
    world.set_stock([("HELMET", "W1", 2), ("CHAIN", "W3", 4)])
    world.run("inventory_upload")
    requests_before = len(world.state.requests)
    writes_before = len(world.state.writes)
    run = world.run("inventory_upload")
    assert run["state"] == "skipped" and "no stock change" in run["message"]
    assert len(world.state.writes) == writes_before
    assert len(world.state.requests) == requests_before  # not even a read
    world.set_stock([("HELMET", "W1", 2)])  # the same value again: no change
    assert world.run("inventory_upload")["counts"].get("writes", 0) == 0
    assert len(world.state.writes) == writes_before


def test_products_without_a_binding_or_an_enabled_listing_are_not_sent(world: PosWorld) -> None:
    world.setup()
    world.enable("HELMET")  # enabled, not bound
    world.bind("CHAIN", 3)  # bound, not enabled
    world.set_stock([("HELMET", "W1", 2), ("CHAIN", "W1", 4)])
    world.run("inventory_upload")
    assert world.writes() == []


def test_a_sale_deducted_in_the_hub_goes_up_as_the_new_quantity(world: PosWorld) -> None:
    _ready(world)
    world.set_stock([("HELMET", "W1", 5)])
    world.run("inventory_upload")
    world.state.ring_up(1, [(1, 2, "59.99")])  # Lightspeed's qoh goes to 3 itself
    world.run("order_download")
    world.run("inventory_upload")
    assert world.state.stock(1, 1) == 3 and world.stock("HELMET", "W1") == 3


def test_without_mapping_all_warehouses_feed_one_shop(world: PosWorld) -> None:
    world.setup(mapping=False)
    world.enable("HELMET")
    world.bind("HELMET", 1)
    world.set_stock([("HELMET", "W1", 2), ("HELMET", "W3", 4), ("HELMET", "RET", 1)])
    world.run("inventory_upload")
    assert [w.payload for w in world.writes()] == [
        {"ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 7}]}}
    ]


def test_the_reconcile_reads_qoh_and_corrects_drift(world: PosWorld) -> None:
    _ready(world)
    world.set_stock([("HELMET", "W1", 5), ("CHAIN", "W3", 2)])
    world.run("inventory_upload")
    with world.state.lock:  # someone counted at the till
        world.state._item_shop(1, 1)["qoh"] = 9
    before = len(world.writes())
    run = world.run("inventory_reconcile")
    assert run["counts"]["drift_corrected"] == 1
    assert [w.payload for w in world.writes()[before:]] == [
        {"ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 5}]}}
    ]
    assert world.state.stock(1, 1) == 5


def _upload_runs(world: PosWorld) -> list[JobRun]:
    with world.hub.db.read() as session:
        return list(
            session.exec(
                select(JobRun).where(JobRun.job == "inventory_upload").order_by(col(JobRun.id))
            )
        )


def _run_queued(world: PosWorld) -> None:
    for run in _upload_runs(world):
        if run.state == "queued":
            assert run.id is not None
            world.hub.execute_run(run.id)


def test_a_stock_change_queues_one_upload_at_the_next_scheduler_pass(world: PosWorld) -> None:
    _ready(world)
    tick(world.hub)  # the settings were just saved: one run compares every listing
    _run_queued(world)
    settled = len(_upload_runs(world))
    tick(world.hub)
    tick(world.hub)
    assert len(_upload_runs(world)) == settled  # idle: no runs at all
    world.set_stock([("HELMET", "W1", 7)])
    world.set_stock([("HELMET", "W3", 2)])
    tick(world.hub)
    new = _upload_runs(world)[settled:]
    assert [(r.trigger, r.state) for r in new] == [("change", "queued")]
    _run_queued(world)
    assert (world.state.stock(1, 1), world.state.stock(1, 2)) == (7, 2)
    tick(world.hub)
    assert len(_upload_runs(world)) == settled + 1


def test_the_change_trigger_waits_while_the_install_cannot_run(world: PosWorld) -> None:
    world.configure()  # not connected: the upload is refused, so nothing is queued
    world.enable("HELMET")
    world.set_stock([("HELMET", "W1", 3)])
    tick(world.hub)
    assert _upload_runs(world) == []
    _ready(world)
    tick(world.hub)
    assert [r.trigger for r in _upload_runs(world)] == ["change"]  # one run, once it can run
    _run_queued(world)
    assert world.state.stock(1, 1) == 3
