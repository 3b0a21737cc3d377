"""The inventory apply engine: matching, outcomes, clear-previous and its scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select

from hub.core.db import Database
from hub.core.inventory import apply_inventory
from hub.core.models import InventoryLevel
from hub.core.records import (
    ApplyOutcome,
    ApplyResult,
    ClearScope,
    InventoryRecord,
    MatchRule,
)
from tests.core.conftest import Setup, add_products

PRODUCTS = [
    {"sku": "TR-12-345", "catalog": "aftermarket", "brand": "Tusk Racing", "part_number": "12-345"},
    {"sku": "TR-99", "catalog": "aftermarket", "brand": "Tusk Racing", "part_number": "99"},
    {"sku": "OEM-12345", "catalog": "oem", "brand": "Tusk Racing", "part_number": "12.345"},
    {"sku": "MX-12345", "catalog": "aftermarket", "brand": "Moose", "part_number": "12 345"},
]


def apply(
    setup: Setup,
    records: list[InventoryRecord],
    *,
    rule: MatchRule = MatchRule.SKU,
    clear: tuple[ClearScope, ...] = (),
) -> ApplyResult:
    with setup.hub.db.session() as session:
        return apply_inventory(
            session,
            tenant_id=setup.tenant_id,
            install_id=setup.install_id,
            location_id=setup.location_id,
            records=records,
            rule=rule,
            clear=clear,
        )


def levels(db: Database, setup: Setup) -> dict[int, InventoryLevel]:
    with db.read() as session:
        return {
            lvl.product_id: lvl
            for lvl in session.exec(
                select(InventoryLevel).where(
                    InventoryLevel.install_id == setup.install_id,
                    InventoryLevel.location_id == setup.location_id,
                )
            )
        }


def outcomes(result: ApplyResult) -> dict[str, ApplyOutcome]:
    return {o.ref: o.outcome for o in result.outcomes}


@pytest.fixture
def products(setup: Setup) -> dict[str, int]:
    return add_products(setup.hub.db, setup.tenant_id, PRODUCTS)


def test_first_import_updates_and_a_repeat_is_unchanged(
    setup: Setup, products: dict[str, int]
) -> None:
    records = [InventoryRecord("TR-12-345", 4, ref="a"), InventoryRecord("tr 99", 0, ref="b")]
    first = apply(setup, records)
    assert outcomes(first) == {"a": ApplyOutcome.UPDATED, "b": ApplyOutcome.UPDATED}
    assert first.changed_product_ids == {products["TR-12-345"], products["TR-99"]}
    stored = levels(setup.hub.db, setup)
    assert stored[products["TR-12-345"]].quantity == 4
    assert stored[products["TR-99"]].quantity == 0

    again = apply(setup, records)
    assert outcomes(again) == {"a": ApplyOutcome.UNCHANGED, "b": ApplyOutcome.UNCHANGED}
    assert again.changed_product_ids == set()
    changed = apply(setup, [InventoryRecord("TR-12-345", 7, ref="a")])
    assert changed.outcomes[0].outcome is ApplyOutcome.UPDATED
    assert (changed.outcomes[0].old_quantity, changed.outcomes[0].new_quantity) == (4, 7)


def test_catalog_brand_part_rule_matches_normalised_part_numbers(
    setup: Setup, products: dict[str, int]
) -> None:
    result = apply(
        setup,
        [
            InventoryRecord(
                "12345", 3, catalog="aftermarket", brand="  TUSK   racing ", ref="tusk"
            ),
            InventoryRecord("12/345", 5, catalog="oem", brand="Tusk Racing", ref="oem"),
            InventoryRecord("12-345", 6, catalog="aftermarket", brand="Nobody", ref="nobody"),
        ],
        rule=MatchRule.CATALOG_BRAND_PART,
    )
    assert outcomes(result) == {
        "tusk": ApplyOutcome.UPDATED,
        "oem": ApplyOutcome.UPDATED,
        "nobody": ApplyOutcome.UNMATCHED,
    }
    stored = levels(setup.hub.db, setup)
    assert stored[products["TR-12-345"]].quantity == 3
    assert stored[products["OEM-12345"]].quantity == 5
    assert products["MX-12345"] not in stored


def test_an_unknown_part_is_unmatched_and_stores_nothing(
    setup: Setup, products: dict[str, int]
) -> None:
    result = apply(setup, [InventoryRecord("NOPE-1", 9, ref="nope")])
    assert result.counts["unmatched"] == 1
    assert result.outcomes[0].sku is None
    assert levels(setup.hub.db, setup) == {}


def test_a_record_matching_two_products_is_ambiguous_and_changes_nothing(setup: Setup) -> None:
    ids = add_products(
        setup.hub.db,
        setup.tenant_id,
        [
            {"sku": "A-1", "upc": "0001"},
            {"sku": "A-2", "upc": "0001"},
            {"sku": "B-1", "upc": "0002"},
        ],
    )
    apply(setup, [InventoryRecord("A-1", 5, ref="x"), InventoryRecord("A-2", 6, ref="y")])
    result = apply(
        setup,
        [InventoryRecord("0001", 1, ref="upc"), InventoryRecord("0002", 2, ref="b")],
        rule=MatchRule.UPC,
        clear=(ClearScope(),),
    )
    assert outcomes(result) == {"upc": ApplyOutcome.AMBIGUOUS, "b": ApplyOutcome.UPDATED}
    stored = levels(setup.hub.db, setup)
    # Neither candidate moved: not set to 1, and not cleared although clear-previous is on.
    assert stored[ids["A-1"]].quantity == 5
    assert stored[ids["A-2"]].quantity == 6
    assert result.count(ApplyOutcome.CLEARED) == 0


def test_two_records_matching_one_product_are_both_ambiguous_and_keep_the_quantity(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-99", 8, ref="seed")])
    result = apply(
        setup,
        [InventoryRecord("TR-99", 1, ref="one"), InventoryRecord("tr.99", 2, ref="two")],
        clear=(ClearScope(),),
    )
    assert outcomes(result) == {"one": ApplyOutcome.AMBIGUOUS, "two": ApplyOutcome.AMBIGUOUS}
    assert levels(setup.hub.db, setup)[products["TR-99"]].quantity == 8
    assert result.count(ApplyOutcome.CLEARED) == 0


def test_clear_previous_sets_products_no_longer_reported_to_zero(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-12-345", 4), InventoryRecord("TR-99", 3)])
    result = apply(setup, [InventoryRecord("TR-12-345", 4, ref="kept")], clear=(ClearScope(),))
    assert outcomes(result) == {"kept": ApplyOutcome.UNCHANGED, "TR-99": ApplyOutcome.CLEARED}
    cleared = next(o for o in result.outcomes if o.outcome is ApplyOutcome.CLEARED)
    assert (cleared.old_quantity, cleared.new_quantity) == (3, 0)
    assert products["TR-99"] in result.changed_product_ids
    assert levels(setup.hub.db, setup)[products["TR-99"]].quantity == 0
    # A product at zero already is not cleared again.
    assert (
        apply(setup, [InventoryRecord("TR-12-345", 4)], clear=(ClearScope(),)).count(
            ApplyOutcome.CLEARED
        )
        == 0
    )


def test_without_clear_previous_unreported_products_keep_their_quantity(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-12-345", 4), InventoryRecord("TR-99", 3)])
    result = apply(setup, [InventoryRecord("TR-12-345", 4)])
    assert result.count(ApplyOutcome.CLEARED) == 0
    assert levels(setup.hub.db, setup)[products["TR-99"]].quantity == 3


def test_clear_scope_is_limited_to_its_catalog_and_brand(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(
        setup, [InventoryRecord(sku, 5) for sku in ("TR-12-345", "TR-99", "OEM-12345", "MX-12345")]
    )
    result = apply(
        setup,
        [InventoryRecord("TR-12-345", 5)],
        clear=(ClearScope(catalog="aftermarket", brand="TUSK RACING"),),
    )
    assert {o.sku for o in result.outcomes if o.outcome is ApplyOutcome.CLEARED} == {"TR-99"}
    stored = levels(setup.hub.db, setup)
    assert stored[products["TR-99"]].quantity == 0
    assert stored[products["OEM-12345"]].quantity == 5  # other catalog
    assert stored[products["MX-12345"]].quantity == 5  # other brand


def test_clear_previous_leaves_other_installs_and_locations_alone(
    setup: Setup, products: dict[str, int]
) -> None:
    from hub.core import catalog
    from tests.core.sample_plugin import SamplePlugin

    hub = setup.hub
    hub.plugins.register(SamplePlugin("other"))
    other = hub.configure_install(setup.tenant_id, "other", enabled=True, config={}, actor="test")
    with hub.db.session() as session:
        back, _ = catalog.put_location(session, setup.tenant_id, "back", "Back room")
        back_id = back.id
    apply(setup, [InventoryRecord("TR-99", 3)])
    with hub.db.session() as session:
        for install_id, location_id in ((other.id, setup.location_id), (setup.install_id, back_id)):
            apply_inventory(
                session,
                tenant_id=setup.tenant_id,
                install_id=install_id,  # type: ignore[arg-type]
                location_id=location_id,
                records=[InventoryRecord("TR-99", 7)],  # type: ignore[arg-type]
                rule=MatchRule.SKU,
            )
    apply(setup, [], clear=(ClearScope(),))
    with hub.db.read() as session:
        quantities = {
            (lvl.install_id, lvl.location_id): lvl.quantity
            for lvl in session.exec(select(InventoryLevel))
        }
    assert quantities == {
        (setup.install_id, setup.location_id): 0,
        (other.id, setup.location_id): 7,
        (setup.install_id, back_id): 7,
    }


def test_a_sale_price_of_none_leaves_the_stored_price_alone(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-99", 3, sale_price=Decimal("12.50"), lead_time_days=4)])
    stored = levels(setup.hub.db, setup)[products["TR-99"]]
    assert (stored.sale_price, stored.lead_time_days) == (Decimal("12.50"), 4)

    same = apply(setup, [InventoryRecord("TR-99", 3, sale_price=Decimal("12.5"), lead_time_days=4)])
    assert same.outcomes[0].outcome is ApplyOutcome.UNCHANGED

    result = apply(setup, [InventoryRecord("TR-99", 2)])
    assert result.outcomes[0].outcome is ApplyOutcome.UPDATED
    stored = levels(setup.hub.db, setup)[products["TR-99"]]
    assert (stored.quantity, stored.sale_price, stored.lead_time_days) == (2, Decimal("12.50"), 4)


def test_a_new_sale_price_or_lead_time_alone_is_an_update(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-99", 3, sale_price=Decimal("12.50"))])
    price = apply(setup, [InventoryRecord("TR-99", 3, sale_price=Decimal("11.00"))])
    assert price.outcomes[0].outcome is ApplyOutcome.UPDATED
    lead = apply(setup, [InventoryRecord("TR-99", 3, lead_time_days=10)])
    assert lead.outcomes[0].outcome is ApplyOutcome.UPDATED
    stored = levels(setup.hub.db, setup)[products["TR-99"]]
    assert (stored.quantity, stored.sale_price, stored.lead_time_days) == (3, Decimal("11.00"), 10)


def test_the_whole_batch_applies_in_one_transaction(setup: Setup, products: dict[str, int]) -> None:
    apply(setup, [InventoryRecord("TR-99", 3)])
    with pytest.raises(RuntimeError, match="boom"), setup.hub.db.session() as session:
        apply_inventory(
            session,
            tenant_id=setup.tenant_id,
            install_id=setup.install_id,
            location_id=setup.location_id,
            rule=MatchRule.SKU,
            clear=(ClearScope(),),
            records=[InventoryRecord("TR-12-345", 4)],
        )
        raise RuntimeError("boom")
    stored = levels(setup.hub.db, setup)
    assert stored[products["TR-99"]].quantity == 3
    assert products["TR-12-345"] not in stored


def test_the_apply_tables_are_per_connection_and_leave_nothing_behind(
    setup: Setup, products: dict[str, int]
) -> None:
    apply(setup, [InventoryRecord("TR-99", 3)])
    # A second batch must not see the first one's records (e.g. clear them by mistake).
    second = apply(setup, [InventoryRecord("TR-12-345", 1)], clear=(ClearScope(),))
    assert outcomes(second) == {"": ApplyOutcome.UPDATED, "TR-99": ApplyOutcome.CLEARED}
    with setup.hub.db.read() as session:
        assert session.execute(text("SELECT COUNT(*) FROM inventory_levels")).scalar() == 2


def test_thousands_of_records_apply_in_one_call(setup: Setup) -> None:
    n = 2_500
    products = [{"sku": f"P-{i:05d}", "brand": "Bulk", "part_number": f"P{i}"} for i in range(n)]
    add_products(setup.hub.db, setup.tenant_id, products)
    records = [
        InventoryRecord(f"P{i}", i % 7, catalog="aftermarket", brand="bulk", ref=str(i))
        for i in range(n)
    ] + [InventoryRecord("MISSING", 1, catalog="aftermarket", brand="bulk")]
    result = apply(setup, records, rule=MatchRule.CATALOG_BRAND_PART)
    assert result.count(ApplyOutcome.UPDATED) == n
    assert result.count(ApplyOutcome.UNMATCHED) == 1
    # Half of them again, with clear-previous: the other half is cleared (unless at 0 already).
    result = apply(
        setup,
        records[: n // 2],
        rule=MatchRule.CATALOG_BRAND_PART,
        clear=(ClearScope(catalog="aftermarket", brand="Bulk"),),
    )
    assert result.count(ApplyOutcome.UNCHANGED) == n // 2
    assert result.count(ApplyOutcome.CLEARED) == sum(1 for i in range(n // 2, n) if i % 7)
    assert sum(lvl.quantity for lvl in levels(setup.hub.db, setup).values()) == sum(
        i % 7 for i in range(n // 2)
    )
