"""One batch applied at several locations in one call: matched once, each location getting
what a call of its own would have done."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from hub.core import catalog
from hub.core.inventory import LocationsResult, apply_inventory, apply_inventory_locations
from hub.core.models import InventoryLevel
from hub.core.records import (
    ApplyOutcome,
    ApplyResult,
    ClearScope,
    InventoryRecord,
    MatchRule,
)
from tests.core.conftest import Setup, add_products
from tests.core.sample_plugin import SamplePlugin

PRODUCTS = [
    {"sku": "UPC-1", "upc": "000000000001", "mpn": "M-1", "brand": "Acme"},
    {"sku": "EAN-2", "ean": "4000000000002", "mpn": "M-2", "brand": "Acme"},
    {"sku": "MPN-3", "mpn": "M-3", "brand": "Acme"},
    {"sku": "MPN-3-OTHER", "mpn": "M-3", "brand": "Other"},
    {"sku": "TWIN-A", "upc": "000000000009"},
    {"sku": "TWIN-B", "upc": "000000000009"},
    {"sku": "CLAIMED", "upc": "000000000007"},
    {"sku": "GONE", "upc": "000000000005"},
]


def records() -> list[InventoryRecord]:
    return [
        InventoryRecord("u1", 0, brand="Acme", ref="upc", upc="000000000001"),
        InventoryRecord("e2", 0, brand="Acme", ref="ean", upc="999", ean="4000000000002"),
        InventoryRecord("m3", 0, brand="acme", ref="mpn", mpn="M-3"),
        InventoryRecord("x", 0, ref="unknown", upc="123456789012"),
        InventoryRecord("twin", 0, ref="twins", upc="000000000009"),
        InventoryRecord("c1", 0, ref="claim-1", upc="000000000007"),
        InventoryRecord("c2", 0, ref="claim-2", upc="000000000007"),
    ]


QUANTITIES = {"main": [4, 0, 2, 1, 5, 6, 7], "back": [1, 3, 2, 8, 5, 6, 7]}


@pytest.fixture
def world(setup: Setup) -> dict[str, Any]:
    """Two installs (the sample one and ``other``) of one tenant, locations ``main`` and
    ``back``, and levels from an earlier pass of each install at both locations."""
    hub = setup.hub
    hub.plugins.register(SamplePlugin("other"))
    other = hub.configure_install(setup.tenant_id, "other", enabled=True, config={}, actor="test")
    with hub.db.session() as session:
        back, _ = catalog.put_location(session, setup.tenant_id, "back", "Back room")
    products = add_products(hub.db, setup.tenant_id, PRODUCTS)
    locations = {"main": setup.location_id, "back": int(back.id or 0)}
    installs = [setup.install_id, int(other.id or 0)]
    earlier = [
        InventoryRecord("u1", 4, ref="upc", upc="000000000001"),  # unchanged at main
        InventoryRecord("g", 9, ref="gone", upc="000000000005"),  # not reported: cleared
    ]
    with hub.db.session() as session:
        for install_id in installs:
            for location_id in locations.values():
                apply_inventory(
                    session,
                    tenant_id=setup.tenant_id,
                    install_id=install_id,
                    location_id=location_id,
                    records=earlier,
                    rule=MatchRule.UPC_EAN_MPN,
                )
    return {"setup": setup, "installs": installs, "locations": locations, "products": products}


def comparable(result: ApplyResult) -> list[tuple[Any, ...]]:
    return [
        (o.outcome, o.ref, o.sku, o.old_quantity, o.new_quantity, o.product_id)
        for o in result.outcomes
    ]


def levels(world: dict[str, Any], install_id: int) -> dict[tuple[str, int], int]:
    setup: Setup = world["setup"]
    code_of = {lid: code for code, lid in world["locations"].items()}
    with setup.hub.db.read() as session:
        return {
            (code_of[lvl.location_id], lvl.product_id): lvl.quantity
            for lvl in session.exec(
                select(InventoryLevel).where(InventoryLevel.install_id == install_id)
            )
        }


def apply_both(world: dict[str, Any], **kwargs: Any) -> LocationsResult:
    setup: Setup = world["setup"]
    ids = world["locations"]
    with setup.hub.db.session() as session:
        return apply_inventory_locations(
            session,
            tenant_id=setup.tenant_id,
            install_id=world["installs"][0],
            records=records(),
            quantities={ids[code]: values for code, values in QUANTITIES.items()},
            rule=MatchRule.UPC_EAN_MPN,
            **kwargs,
        )


def test_each_location_gets_what_a_call_of_its_own_would_do(world: dict[str, Any]) -> None:
    setup: Setup = world["setup"]
    ids = world["locations"]
    together = apply_both(world, clear=(ClearScope(),))
    alone: dict[str, ApplyResult] = {}
    with setup.hub.db.session() as session:
        for code, values in QUANTITIES.items():
            alone[code] = apply_inventory(
                session,
                tenant_id=setup.tenant_id,
                install_id=world["installs"][1],
                location_id=ids[code],
                records=[
                    InventoryRecord(
                        r.key, q, brand=r.brand, ref=r.ref, upc=r.upc, ean=r.ean, mpn=r.mpn
                    )
                    for r, q in zip(records(), values, strict=True)
                ],
                rule=MatchRule.UPC_EAN_MPN,
                clear=(ClearScope(),),
            )
    for code, location_id in ids.items():
        assert comparable(together.result(location_id)) == comparable(alone[code])
        assert together.changed_product_ids[location_id] == alone[code].changed_product_ids
        assert together.counts(location_id) == alone[code].counts
    assert levels(world, world["installs"][0]) == levels(world, world["installs"][1])


def test_the_match_is_the_same_everywhere_and_the_outcomes_are_by_location(
    world: dict[str, Any],
) -> None:
    products = world["products"]
    ids = world["locations"]
    result = apply_both(world, clear=(ClearScope(),))
    # UPC, then EAN (its UPC names nothing), then MPN with the brand; none; two products;
    # two records for one product.
    assert result.skus == ["UPC-1", "EAN-2", "MPN-3", None, None, "CLAIMED", "CLAIMED"]
    assert result.product_ids[0] == products["UPC-1"]
    main, back = result.outcomes[ids["main"]], result.outcomes[ids["back"]]
    assert main[0] is ApplyOutcome.UNCHANGED  # 4 before, 4 now
    assert back[0] is ApplyOutcome.UPDATED  # 4 before, 1 now
    assert result.old_quantities[ids["back"]][0] == 4
    assert main[3:] == [ApplyOutcome.UNMATCHED] + [ApplyOutcome.AMBIGUOUS] * 3
    assert [o.sku for o in result.cleared[ids["main"]]] == ["GONE"]
    assert [o.sku for o in result.cleared[ids["back"]]] == ["GONE"]
    stored = levels(world, world["installs"][0])
    assert stored[("main", products["EAN-2"])] == 0
    assert stored[("back", products["EAN-2"])] == 3
    assert stored[("back", products["GONE"])] == 0
    assert ("main", products["CLAIMED"]) not in stored  # ambiguous: nothing applied


def test_all_locations_share_one_change_number_and_a_repeat_takes_none(
    world: dict[str, Any],
) -> None:
    setup: Setup = world["setup"]
    apply_both(world)

    def numbers() -> set[int]:
        with setup.hub.db.read() as session:
            return {
                lvl.change_seq
                for lvl in session.exec(
                    select(InventoryLevel).where(InventoryLevel.install_id == world["installs"][0])
                )
                if lvl.quantity != 9  # the earlier pass's untouched level
            }

    first = numbers()
    again = apply_both(world)
    assert len(first) == 2  # the earlier pass's, and this call's for both locations
    assert numbers() == first
    assert all(
        kind in (ApplyOutcome.UNCHANGED, ApplyOutcome.UNMATCHED, ApplyOutcome.AMBIGUOUS)
        for kinds in again.outcomes.values()
        for kind in kinds
    )


def test_quantities_that_do_not_fit_the_records_apply_nothing(world: dict[str, Any]) -> None:
    setup: Setup = world["setup"]
    before = levels(world, world["installs"][0])
    with pytest.raises(ValueError, match="quantities"), setup.hub.db.session() as session:
        apply_inventory_locations(
            session,
            tenant_id=setup.tenant_id,
            install_id=world["installs"][0],
            records=records(),
            quantities={world["locations"]["main"]: [1, 2]},
            rule=MatchRule.UPC_EAN_MPN,
        )
    assert levels(world, world["installs"][0]) == before
