"""The $filter builder (what the client sends) and the sandbox's evaluator (what it means)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from plugins.lightspeed_dms.threepa.odata import (
    full_pull_filter,
    incremental_filter,
    literal,
    parts_filter,
    string_literal,
)
from plugins.lightspeed_dms.threepa.sandbox import FilterError, evaluate, parse_filter


def test_full_pull_filter_reads_like_the_seed() -> None:
    assert full_pull_filter(
        "TR", updated_since=datetime(2025, 11, 23), quantity_column="on_hand"
    ) == (
        "SupplierCode eq 'TR' and lastupdatedate ge datetime'2025-11-23T00:00:00' and OnHand gt 0"
    )
    assert full_pull_filter(
        "KA", updated_since=datetime(2025, 11, 23), quantity_column="available"
    ) == ("SupplierCode eq 'KA' and lastupdatedate ge datetime'2025-11-23T00:00:00' and Avail gt 0")


def test_incremental_filter_keeps_the_date_and_drops_the_quantity() -> None:
    assert incremental_filter("WPS", updated_since=datetime(2025, 11, 23, 6, 30, 15, 999)) == (
        "SupplierCode eq 'WPS' and lastupdatedate ge datetime'2025-11-23T06:30:15'"
    )
    assert parts_filter("WPS", updated_since=None, quantity_column=None) == "SupplierCode eq 'WPS'"


def test_embedded_quotes_are_doubled() -> None:
    assert string_literal("O'NEAL") == "'O''NEAL'"
    assert string_literal("''") == "''''''"


def test_aware_datetimes_are_refused_because_3pa_times_are_dealer_local() -> None:
    with pytest.raises(ValueError, match="dealer-local"):
        incremental_filter("TR", updated_since=datetime(2025, 11, 23, tzinfo=UTC))


def test_literals_of_other_types() -> None:
    assert literal(None) == "null"
    assert literal(True) == "true"
    assert literal(Decimal("2.50")) == "2.50"
    with pytest.raises(ValueError):
        parts_filter("TR", updated_since=None, quantity_column="shelf")  # type: ignore[arg-type]


RECORD: dict[str, Any] = {
    "suppliercode": "TR",
    "onhand": "3.000",
    "avail": 0,
    "partnumber": "12-345",
    "lastupdatedate": "2025-11-20T13:05:09.50",
    "lastsolddate": "1900-01-01T00:00:00.00",
    "description": None,
    "category": "O'NEAL",
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("SupplierCode eq 'TR'", True),
        ("suppliercode EQ 'TR'", True),  # field names and keywords are case-insensitive
        ("SUPPLIERCODE eq 'tr'", False),  # values are not
        ("OnHand gt 0 and Avail gt 0", False),
        ("OnHand gt 0 and not (Avail gt 0)", True),
        ("OnHand ge 3 and OnHand le 3.0", True),  # "3.000" compared as a number
        ("Avail gt 0 or SupplierCode eq 'TR' and OnHand lt 0", False),  # and binds tighter
        ("(Avail gt 0 or SupplierCode eq 'TR') and OnHand gt 0", True),
        ("lastupdatedate ge datetime'2025-11-20T00:00:00'", True),
        ("lastupdatedate ge datetime'2025-11-21T00:00:00'", False),
        # The warehouse stores "no date" as a real 1900 date and its query engine compares it so.
        ("LastSoldDate lt datetime'1901-01-01T00:00:00'", True),
        ("LastSoldDate ge datetime'1000-01-01T00:00:00'", True),
        ("LastSoldDate eq null", False),
        ("Description eq null and Description ne 'x'", True),
        ("Description gt 'a'", False),  # null compares false
        ("category eq 'O''NEAL'", True),
        ("PartNumber ne '12345'", True),
    ],
)
def test_sandbox_evaluates_filters_like_the_service(expression: str, expected: bool) -> None:
    assert evaluate(parse_filter(expression), RECORD) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "SupplierCode eq",
        "SupplierCode = 'TR'",
        "SupplierCode eq 'TR",
        "(OnHand gt 0",
        "OnHand gt 0 and",
        "lastupdatedate ge datetime'yesterday'",
        "OnHand gt 0 OnHand",
    ],
)
def test_sandbox_rejects_malformed_filters(expression: str) -> None:
    with pytest.raises(FilterError):
        parse_filter(expression)


def test_sandbox_rejects_unknown_fields() -> None:
    with pytest.raises(FilterError, match="Bogus"):
        parse_filter("Bogus eq 1", fields=["SupplierCode"])


@pytest.mark.parametrize(
    "hostile",
    ["O'NEAL", "X' or SupplierCode ne '", "TR') or (1 eq 1", "'", "a''b", "x' or 1 eq 1 or 'y"],
)
def test_built_filter_matches_exactly_the_supplier_code_given(hostile: str) -> None:
    node = parse_filter(parts_filter(hostile, updated_since=None, quantity_column="on_hand"))
    assert evaluate(node, {"suppliercode": hostile, "onhand": 1})
    assert not evaluate(node, {"suppliercode": "TR", "onhand": 1})
    assert not evaluate(node, {"suppliercode": "X", "onhand": 1})
