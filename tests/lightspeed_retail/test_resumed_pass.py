"""A full pass stopped midway resumes from the pages it kept: Lightspeed is asked only for
the pages after its checkpoint, and the inventory ends as an undisturbed pass leaves it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.core import catalog, runs
from hub.plugin import TransientJobError
from plugins.lightspeed_rseries.sandbox import Fault
from tests.lightspeed_retail.conftest import PLUGIN, RetailWorld, seed

ITEMS = 250  # three pages of 100


def _items() -> list[dict[str, object]]:
    return [
        {
            "itemID": 1000 + n,
            "customSku": f"BULK-{n}",
            "manufacturerSku": f"BULK-MPN-{n}",
            "upc": f"7{n:011d}",
            "description": f"Bulk {n}",
            "manufacturerID": 2,
            "Prices": [{"amount": "5.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 1 + n % 7}, {"shopID": 2, "qoh": 1 + n % 3}],
        }
        for n in range(ITEMS)
    ]


def _item_pages(world: RetailWorld) -> list[str]:
    return [
        r.query for r in world.state.requests if r.path.endswith("/Item.json") and r.status == 200
    ]


def test_a_stopped_full_pass_resumes_after_its_last_kept_page(
    start_world: Callable[..., RetailWorld],
) -> None:
    world = start_world(seed(*_items()))
    world.products(*(catalog.ProductIn(sku=f"B-{n}", upc=f"7{n:011d}") for n in range(ITEMS)))
    world.setup()
    # Lightspeed goes away after the first two pages: the attempt stops (a transient error).
    world.state.add_fault(Fault(method="GET", path="*/Item.json", status=503, skip=2, count=50))
    run = world.hub.queue_job(world.tenant_id, PLUGIN, "inventory_import_full", actor="test")
    assert run.id is not None
    with pytest.raises(TransientJobError):
        world.hub.execute_run(run.id)
    before = _item_pages(world)
    assert len(before) == 2
    world.state.faults.clear()

    assert world.hub.execute_run(run.id) == "succeeded"
    after = _item_pages(world)[len(before) :]
    assert len(after) == 1 and after[0] not in before  # only the page after the checkpoint
    for n in (0, 99, 100, 199, 249):  # an item of each page, at both shops
        assert world.stock(f"B-{n}", "main") == 1 + n % 7
        assert world.stock(f"B-{n}", "outlet") == 1 + n % 3
    with world.hub.db.read() as session:
        done = runs.get_run(session, world.tenant_id, run.id)
    assert done is not None and done.attempts == 2
    assert done.counts["pages_resumed"] == 2
    assert done.counts["items_read"] == ITEMS + len(seed()["Item"])
