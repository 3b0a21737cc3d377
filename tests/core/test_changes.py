"""What changed, for exporters: change numbers written in the changing transaction, read in
batches after a cursor — on SQLite and PostgreSQL, with writers committing concurrently."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from hub.core import catalog
from hub.core.catalog import ProductIn
from hub.core.changes import high_water, parse_cursor
from hub.core.errors import Invalid
from hub.core.inventory import apply_inventory, set_quantities
from hub.core.models import InventoryLevel, Product
from hub.core.records import ClearScope, InventoryRecord, MatchRule
from tests.core.conftest import Setup, add_products, plugin_context, wait_until


def upsert(setup: Setup, *products: dict[str, Any]) -> None:
    with setup.hub.db.session() as session:
        catalog.upsert_products(session, setup.tenant_id, [ProductIn(**p) for p in products])


def apply(setup: Setup, quantities: dict[str, int], *, clear: bool = False) -> None:
    records = [InventoryRecord(key=sku, quantity=q) for sku, q in quantities.items()]
    with setup.hub.db.session() as session:
        apply_inventory(
            session,
            tenant_id=setup.tenant_id,
            install_id=setup.install_id,
            location_id=setup.location_id,
            records=records,
            rule=MatchRule.SKU,
            clear=(ClearScope(),) if clear else (),
        )


def counter(setup: Setup) -> int:
    with setup.hub.db.read() as session:
        return high_water(session, setup.tenant_id)


class Exporter:
    """An exporter as a plugin writes one: keeps a cursor, reads what changed after it in
    small batches (so batch boundaries fall inside one transaction's rows), remembers the
    latest values it saw."""

    def __init__(self, ctx: Any, batch: int = 3) -> None:
        self.ctx = ctx
        self.batch = batch
        self.products: str | None = None
        self.inventory: str | None = None
        self.prices: dict[str, Decimal | None] = {}
        self.quantities: dict[str, int] = {}
        self.went_back = False

    def _advance(self, old: str | None, new: str) -> str:
        if old is not None and parse_cursor(new) <= parse_cursor(old):
            self.went_back = True
        return new

    def poll(self) -> None:
        for batch in self.ctx.changed_products(self.products, batch=self.batch):
            for product in batch.items:
                self.prices[product.sku] = product.price
            self.products = self._advance(self.products, batch.cursor)
        for level_batch in self.ctx.changed_inventory(self.inventory, batch=self.batch):
            for level in level_batch.items:
                self.quantities[level.sku] = level.quantity
            self.inventory = self._advance(self.inventory, level_batch.cursor)


def stored(setup: Setup) -> tuple[dict[str, Decimal | None], dict[str, int]]:
    with setup.hub.db.read() as session:
        prices = {p.sku: p.price for p in session.exec(select(Product))}
        quantities = {
            sku: qty
            for sku, qty in session.exec(
                select(Product.sku, InventoryLevel.quantity).join(
                    InventoryLevel,
                    InventoryLevel.product_id == Product.id,  # type: ignore[arg-type]
                )
            )
        }
    return prices, quantities


def test_a_change_sequence_read_by_two_exporters_while_writers_commit_out_of_order_misses_nothing(
    setup: Setup,
) -> None:
    db = setup.hub.db
    upsert(setup, *({"sku": f"P{i}", "price": "1.00"} for i in range(12)))
    exporters = [Exporter(plugin_context(setup)), Exporter(plugin_context(setup), batch=5)]
    for exporter in exporters:
        exporter.poll()
        assert len(exporter.prices) == 12

    # 1. A writer holds its transaction open after changing P0; a second writer (P1) is
    # started meanwhile. Exporters polling in between see neither, and lose neither.
    a_wrote, a_may_commit = threading.Event(), threading.Event()
    b_done = threading.Event()

    def writer_a() -> None:
        with db.session() as session:
            catalog.upsert_products(session, setup.tenant_id, [ProductIn(sku="P0", price="2.00")])
            a_wrote.set()
            assert a_may_commit.wait(30)

    def writer_b() -> None:
        upsert(setup, {"sku": "P1", "price": "3.00"})
        b_done.set()

    thread_a = threading.Thread(target=writer_a)
    thread_a.start()
    assert a_wrote.wait(30)
    thread_b = threading.Thread(target=writer_b)
    thread_b.start()
    for _ in range(5):
        for exporter in exporters:
            exporter.poll()
            assert exporter.prices["P0"] == Decimal("1.00")
        time.sleep(0.05)
    # The second writer of the tenant cannot commit while the first holds its number.
    assert not b_done.is_set()
    a_may_commit.set()
    thread_a.join(30)
    thread_b.join(30)
    for exporter in exporters:
        exporter.poll()
        assert exporter.prices["P0"] == Decimal("2.00")
        assert exporter.prices["P1"] == Decimal("3.00")

    # 2. PostgreSQL: a transaction that began first and commits last (the case that defeats
    # timestamps and plain sequences) is still seen after the other's commit was read.
    if not db.is_sqlite:
        began, other_read = threading.Event(), threading.Event()

        def late_writer() -> None:
            with db.session() as session:
                session.exec(select(Product.id).limit(1)).all()  # the transaction is open
                began.set()
                assert other_read.wait(30)
                catalog.upsert_products(
                    session, setup.tenant_id, [ProductIn(sku="P2", price="4.00")]
                )

        late = threading.Thread(target=late_writer)
        late.start()
        assert began.wait(30)
        upsert(setup, {"sku": "P3", "price": "5.00"})
        for exporter in exporters:
            wait_until(lambda e=exporter: (e.poll(), e.prices["P3"] == Decimal("5.00"))[1])
        other_read.set()
        late.join(30)
        for exporter in exporters:
            exporter.poll()
            assert exporter.prices["P2"] == Decimal("4.00")

    # 3. Many writers at once (catalog and inventory in one transaction, held open a little
    # while after writing), exporters polling all along: afterwards every exporter holds
    # exactly what is stored.
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for round_ in range(12):
                skus = rng.sample([f"P{i}" for i in range(12)], 4)
                with db.session() as session:
                    catalog.upsert_products(
                        session,
                        setup.tenant_id,
                        [ProductIn(sku=s, price=f"{n}.{round_:02d}") for s in skus],
                    )
                    apply_inventory(
                        session,
                        tenant_id=setup.tenant_id,
                        install_id=setup.install_id,
                        location_id=setup.location_id,
                        records=[InventoryRecord(key=s, quantity=n * 100 + round_) for s in skus],
                        rule=MatchRule.SKU,
                    )
                    time.sleep(rng.random() * 0.02)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def reader(exporter: Exporter) -> None:
        try:
            while not stop.is_set():
                exporter.poll()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    writers = [threading.Thread(target=writer, args=(n,)) for n in (1, 2, 3)]
    readers = [threading.Thread(target=reader, args=(e,)) for e in exporters]
    for thread in [*readers, *writers]:
        thread.start()
    for thread in writers:
        thread.join(120)
    stop.set()
    for thread in readers:
        thread.join(120)
    assert failures == []
    prices, quantities = stored(setup)
    for exporter in exporters:
        exporter.poll()
        assert not exporter.went_back
        assert exporter.prices == prices
        assert exporter.quantities == quantities


def test_price_change_shows_in_changed_products_after_the_cursor(setup: Setup) -> None:
    add_products(
        setup.hub.db,
        setup.tenant_id,
        [{"sku": "A", "price": "10.00", "cost": "6.00"}, {"sku": "B", "price": "20.00"}],
    )
    ctx = plugin_context(setup)
    batches = list(ctx.changed_products())
    assert sorted(p.sku for b in batches for p in b.items) == ["A", "B"]
    cursor = batches[-1].cursor

    upsert(setup, {"sku": "A", "price": "10.00", "cost": "6.00"}, {"sku": "B", "price": "19.50"})
    changed = [p for b in ctx.changed_products(cursor) for p in b.items]
    assert [(p.sku, p.price) for p in changed] == [("B", Decimal("19.50"))]
    cursor = list(ctx.changed_products(cursor))[-1].cursor

    upsert(setup, {"sku": "A", "price": "10.00", "cost": "6.50"})
    changed = [p for b in ctx.changed_products(cursor) for p in b.items]
    assert [(p.sku, p.cost) for p in changed] == [("A", Decimal("6.50"))]
    assert list(ctx.changed_products(list(ctx.changed_products(cursor))[-1].cursor)) == []


def test_unchanged_inventory_apply_writes_no_new_sequence(setup: Setup) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A"}, {"sku": "B"}])
    apply(setup, {"A": 3, "B": 5})
    ctx = plugin_context(setup)
    cursor = [b for b in ctx.changed_inventory()][-1].cursor
    number = counter(setup)

    apply(setup, {"A": 3, "B": 5})
    apply(setup, {"A": 3, "B": 5}, clear=True)

    assert counter(setup) == number
    assert list(ctx.changed_inventory(cursor)) == []
    with setup.hub.db.read() as session:
        assert {lvl.change_seq for lvl in session.exec(select(InventoryLevel))} <= {number}


def test_levels_cleared_by_clear_previous_show_in_changed_inventory(setup: Setup) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A"}, {"sku": "B"}])
    apply(setup, {"A": 3, "B": 5})
    ctx = plugin_context(setup)
    cursor = [b for b in ctx.changed_inventory(location="main")][-1].cursor

    apply(setup, {"A": 3}, clear=True)

    changed = [lvl for b in ctx.changed_inventory(cursor, location="main") for lvl in b.items]
    assert [(lvl.sku, lvl.quantity, lvl.location, lvl.source) for lvl in changed] == [
        ("B", 0, "main", "sample")
    ]
    products = {p.sku: p.product_id for b in ctx.changed_products() for p in b.items}
    assert ctx.stock([products["A"], products["B"]]) == {
        products["A"]: {"main": 3},
        products["B"]: {"main": 0},
    }


def test_one_transaction_of_many_rows_is_read_in_batches_without_loss(setup: Setup) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": f"S{i:03d}"} for i in range(25)])
    ctx = plugin_context(setup)
    batches = list(ctx.changed_products(0, batch=7))
    assert [len(b.items) for b in batches] == [7, 7, 7, 4]
    assert len({p.seq for b in batches for p in b.items}) == 1  # one transaction, one number
    assert sorted(p.sku for b in batches for p in b.items) == [f"S{i:03d}" for i in range(25)]
    # Starting from a batch's cursor continues exactly after it.
    rest = [p.sku for b in ctx.changed_products(batches[1].cursor, batch=7) for p in b.items]
    assert rest == [p.sku for b in batches[2:] for p in b.items]


def test_a_malformed_change_cursor_is_refused(setup: Setup) -> None:
    ctx = plugin_context(setup)
    with pytest.raises(Invalid):
        list(ctx.changed_products("yesterday"))


def test_listing_changes_are_enabling_decisions_not_the_exporters_own_records(
    setup: Setup,
) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}])
    ctx = plugin_context(setup)
    assert ctx.set_listing_enabled(["A", "B"]) == {"created": 2, "updated": 0}
    cursor = list(ctx.changed_listings())[-1].cursor

    # record_pushed merges its keys and does not count as a change of the listing.
    assert ctx.record_pushed({"A": {"qoh": {"1": 3}}}, vendor_ids={"A": "item-7"}) == 1
    assert ctx.record_pushed({"A": {"price": Decimal("9.99")}}) == 1
    assert list(ctx.changed_listings(cursor)) == []
    (listing,) = [row for batch in ctx.listings(["A"]) for row in batch]
    assert listing.last_pushed == {"qoh": {"1": 3}, "price": "9.99"}
    assert listing.vendor_id == "item-7"

    # Auto-enabling creates only missing listings: one the integrator disabled stays so.
    ctx.set_listing_enabled(["B"], False)
    assert ctx.set_listing_enabled(["B", "C"], only_missing=True) == {"created": 1, "updated": 0}
    changed = [row for batch in ctx.changed_listings(cursor) for row in batch.items]
    assert [(row.sku, row.enabled) for row in changed] == [("B", False), ("C", True)]
    enabled = sorted(row.sku for batch in ctx.listings(enabled=True, batch=1) for row in batch)
    assert enabled == ["A", "C"]

    with pytest.raises(Invalid) as refused:
        ctx.record_pushed({"A": {"qoh": 1}, "NOPE": {"qoh": 1}})
    assert refused.value.fields == {"NOPE": "no product with sku 'NOPE'"}
    (listing,) = [row for batch in ctx.listings(["A"]) for row in batch]
    assert listing.last_pushed["qoh"] == {"1": 3}  # nothing recorded


def test_quantities_the_integrator_sets_show_in_changed_inventory_once(setup: Setup) -> None:
    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A"}])
    ctx = plugin_context(setup)
    with setup.hub.db.session() as session:
        set_quantities(session, setup.tenant_id, [("A", "main", 4)])
    (batch,) = list(ctx.changed_inventory())
    assert [(lvl.sku, lvl.quantity, lvl.source) for lvl in batch.items] == [("A", 4, "api")]
    number = counter(setup)
    with setup.hub.db.session() as session:
        result = set_quantities(session, setup.tenant_id, [("A", "main", 4)])
    assert (result.updated, result.unchanged) == (0, 1)
    assert counter(setup) == number
    assert list(ctx.changed_inventory(batch.cursor)) == []
