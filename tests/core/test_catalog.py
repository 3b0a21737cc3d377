"""Catalog upsert: created and updated counts, normalised part numbers, locations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlmodel import select

from hub.core import catalog
from hub.core.catalog import ProductIn
from hub.core.models import Product
from hub.core.records import normalise_brand, normalise_part_number
from tests.core.conftest import Setup


def upsert(setup: Setup, *items: dict[str, object]) -> dict[str, object]:
    with setup.hub.db.session() as session:
        return catalog.upsert_products(session, setup.tenant_id, [ProductIn(**i) for i in items])  # type: ignore[arg-type]


def products(setup: Setup) -> dict[str, Product]:
    with setup.hub.db.read() as session:
        return {
            p.sku: p
            for p in session.exec(select(Product).where(Product.tenant_id == setup.tenant_id))
        }


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("12-345", "12345"),
        (" ab.12/34_x ", "AB1234X"),
        ("", ""),
        (None, ""),
        ("a b-c", "ABC"),
    ],
)
def test_part_numbers_are_normalised(raw: str | None, normal: str) -> None:
    assert normalise_part_number(raw) == normal


def test_brands_compare_ignoring_case_and_spaces() -> None:
    assert normalise_brand("  Tusk   RACING ") == normalise_brand("tusk racing") == "tusk racing"


def test_upsert_counts_created_and_updated_products(setup: Setup) -> None:
    first = upsert(
        setup,
        {"sku": "A-1", "brand": "Tusk Racing", "part_number": "12-345", "price": "9.99"},
        {"sku": "b 2"},
    )
    assert (first["created"], first["updated"]) == (2, 0)
    assert len(first["product_ids"]) == 2  # type: ignore[arg-type]
    same = upsert(
        setup, {"sku": "A-1", "brand": "Tusk Racing", "part_number": "12-345", "price": "9.99"}
    )
    assert (same["created"], same["updated"]) == (0, 0)
    changed = upsert(
        setup,
        {"sku": "A-1", "brand": "Tusk Racing", "part_number": "12-345", "price": "8.50"},
        {"sku": "C-3"},
    )
    assert (changed["created"], changed["updated"]) == (1, 1)
    stored = products(setup)
    assert stored["A-1"].part_norm == "12345"
    assert stored["A-1"].brand_norm == "tusk racing"
    assert str(stored["A-1"].price) == "8.50"
    # Without a part number the SKU is the part number.
    assert (stored["b 2"].part_norm, stored["b 2"].sku_norm) == ("B2", "B2")


def test_the_last_occurrence_of_a_sku_in_one_call_wins(setup: Setup) -> None:
    result = upsert(setup, {"sku": "A-1", "title": "first"}, {"sku": "A-1", "title": "second"})
    assert result["created"] == 1
    assert products(setup)["A-1"].title == "second"


def test_an_unknown_catalog_or_a_naive_sale_date_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be one of"):
        ProductIn(sku="A", catalog="used")
    with pytest.raises(ValidationError, match="time zone offset"):
        ProductIn(sku="A", sale_starts_at="2026-05-01T00:00:00")  # type: ignore[arg-type]


def test_a_location_is_created_then_renamed(setup: Setup) -> None:
    with setup.hub.db.session() as session:
        _, created = catalog.put_location(session, setup.tenant_id, "north", "North")
        _, again = catalog.put_location(session, setup.tenant_id, "north", "North store")
    assert (created, again) == (True, False)
    from tests.core.conftest import plugin_context

    assert plugin_context(setup).location_codes() == ["main", "north"]
    assert plugin_context(setup).location("north").name == "North store"
