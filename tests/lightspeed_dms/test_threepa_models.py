"""Tolerant parsing of 3PA records (pure functions, no HTTP)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from plugins.lightspeed_dms.threepa.models import (
    parse_dealer,
    parse_dealer_datetime,
    parse_decimal,
    parse_part,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-20T13:05:09.50", datetime(2025, 11, 20, 13, 5, 9, 500000)),
        ("2025-11-20T13:05:09", datetime(2025, 11, 20, 13, 5, 9)),
        ("2025-11-20 13:05", datetime(2025, 11, 20, 13, 5)),
        ("2025-11-20", datetime(2025, 11, 20)),
        ("2025-11-20T13:05:09.1234567", datetime(2025, 11, 20, 13, 5, 9, 123456)),
        ("2025-11-20T13:05:09Z", datetime(2025, 11, 20, 13, 5, 9)),  # still the dealer's clock
        ("1900-01-01T00:00:00.00", None),
        ("1000-01-01T00:00:00", None),
        ("2025-13-01T00:00:00", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (20251120, None),
    ],
)
def test_dealer_datetimes_are_naive_and_placeholders_mean_no_date(
    raw: object, expected: datetime | None
) -> None:
    assert parse_dealer_datetime(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3, Decimal(3)),
        (19.99, Decimal("19.99")),
        ("3.000", Decimal("3.000")),
        (" 1,234.50 ", Decimal("1234.50")),
        ("$12", Decimal(12)),
        ("-2", Decimal(-2)),
        ("", None),
        ("n/a", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        ("Infinity", None),
    ],
)
def test_numbers_arrive_as_ints_floats_or_strings(raw: object, expected: Decimal | None) -> None:
    assert parse_decimal(raw) == expected


def test_part_keys_are_matched_whatever_their_case() -> None:
    for key in ("OnHand", "onhand", "ONHAND", "oNhAnD"):
        assert parse_part({"PartNumber": "X", key: 2}).on_hand == 2


def test_missing_and_null_fields_are_tolerated() -> None:
    part = parse_part({}, dealer_id="76014846")
    assert part.part_number == "" and part.supplier_code is None and part.on_hand is None
    assert part.dealer_id == "76014846"
    nulls = parse_part({"PartNumber": None, "DealerId": None, "Cost": None}, dealer_id="1")
    assert nulls.part_number == "" and nulls.dealer_id == "1" and nulls.cost is None


def test_numeric_part_numbers_become_text_and_unknown_fields_are_kept_aside() -> None:
    part = parse_part({"PartNumber": 12345.0, "UPC": 12345678901, "NewField": {"a": 1}})
    assert part.part_number == "12345" and part.upc == "12345678901"
    assert part.extra == {"NewField": {"a": 1}}


def test_dealer_records_need_a_cmf() -> None:
    dealer = parse_dealer({"Cmf": 76014846, "DealerName": "Cycle Country"})
    assert dealer is not None and (dealer.cmf, dealer.dealer_name) == ("76014846", "Cycle Country")
    assert parse_dealer({"CMF": "1"}) is not None
    assert parse_dealer({"DealerName": "no id"}) is None
