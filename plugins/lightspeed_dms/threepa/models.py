"""Typed 3PA records and their tolerant parsing.

The Data Warehouse is loose about its JSON: key case varies between records (``OnHand``,
``onhand``, ``ONHAND``), any field may be null or missing, numbers arrive as numbers, floats or
strings, and dates use placeholders (``1900-…``, ``1000-…``) for "no date". Parsing here never
fails on such quirks: a value that cannot be read becomes ``None``, unknown fields land in
``extra``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "Dealer",
    "Part",
    "PartStock",
    "parse_dealer",
    "parse_dealer_datetime",
    "parse_decimal",
    "parse_part",
    "parse_stock",
]


@dataclass(frozen=True)
class Dealer:
    """A dealer the 3PA credentials reach (``GET /Dealer``)."""

    cmf: str
    dealer_name: str | None = None


@dataclass(frozen=True)
class Part:
    """One part record of ``GET /Part/{dealerId}``.

    Quantities and prices are ``Decimal`` (the warehouse may send ``2.000`` or ``"2"``); dates are
    naive datetimes on the dealer's wall clock.
    """

    dealer_id: str | None
    part_number: str
    supplier_code: str | None
    description: str | None = None
    on_hand: Decimal | None = None
    available: Decimal | None = None
    on_order: Decimal | None = None
    cost: Decimal | None = None
    retail: Decimal | None = None
    current_active_price: Decimal | None = None
    upc: str | None = None
    bin1: str | None = None
    superseded_to: str | None = None
    last_sold_date: datetime | None = None
    last_received_date: datetime | None = None
    date_gathered: datetime | None = None
    last_update_date: datetime | None = None
    #: Fields this model does not know, with their original keys (e.g. ``category``).
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


# Lower-cased 3PA key → (Part attribute, kind). One table, so the key list lives in one place.
_PART_FIELDS: dict[str, tuple[str, str]] = {
    "dealerid": ("dealer_id", "text"),
    "partnumber": ("part_number", "text"),
    "suppliercode": ("supplier_code", "text"),
    "description": ("description", "text"),
    "onhand": ("on_hand", "decimal"),
    "avail": ("available", "decimal"),
    "onorder": ("on_order", "decimal"),
    "cost": ("cost", "decimal"),
    "retail": ("retail", "decimal"),
    "currentactiveprice": ("current_active_price", "decimal"),
    "upc": ("upc", "text"),
    "bin1": ("bin1", "text"),
    "supersededto": ("superseded_to", "text"),
    "lastsolddate": ("last_sold_date", "datetime"),
    "lastreceiveddate": ("last_received_date", "datetime"),
    "dategathered": ("date_gathered", "datetime"),
    "lastupdatedate": ("last_update_date", "datetime"),
}

_DATETIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)
# The warehouse writes these years for "never" (e.g. a part never sold).
_PLACEHOLDER_YEARS = ("1900-", "1000-", "0001-")


def parse_text(value: Any) -> str | None:
    """A trimmed string, or ``None`` for null/empty. Numbers (a numeric part number) become text."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def parse_decimal(value: Any) -> Decimal | None:
    """Read a number sent as int, float or string (``"12.50"``, ``"1,234.00"``); else ``None``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Through str() so 19.99 stays 19.99 rather than its binary expansion.
        return Decimal(str(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip().replace(",", "").lstrip("$")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def parse_dealer_datetime(value: Any, *, placeholders_as_none: bool = True) -> datetime | None:
    """Parse ``yyyy-mm-ddThh:mm:ss.nn`` as a naive dealer-local datetime.

    Placeholder dates (``1900-…``, ``1000-…``), nulls and unreadable text give ``None``. A zone
    suffix, if one ever appears, is ignored: the warehouse's times are the dealer's wall clock.

    :param placeholders_as_none: ``False`` reads placeholders as the dates they spell (what the
        warehouse's own ``$filter`` compares against).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or (placeholders_as_none and text.startswith(_PLACEHOLDER_YEARS)):
        return None
    match = _DATETIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            micro,
        )
    except ValueError:  # e.g. month 13
        return None


def parse_part(record: Mapping[str, Any], *, dealer_id: str | None = None) -> Part:
    """Build a :class:`Part` from one JSON record, matching keys case-insensitively.

    :param record: the record as decoded from JSON.
    :param dealer_id: used when the record carries no ``DealerId`` of its own.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in record.items():
        known = _PART_FIELDS.get(str(key).lower())
        if known is None:
            extra[key] = raw
            continue
        attribute, kind = known
        if kind == "decimal":
            values[attribute] = parse_decimal(raw)
        elif kind == "datetime":
            values[attribute] = parse_dealer_datetime(raw)
        else:
            values[attribute] = parse_text(raw)
    values.setdefault("dealer_id", dealer_id)
    if values["dealer_id"] is None:
        values["dealer_id"] = dealer_id
    values["part_number"] = values.get("part_number") or ""
    values.setdefault("supplier_code", None)
    return Part(**values, extra=extra)


def parse_dealer(record: Mapping[str, Any]) -> Dealer | None:
    """Build a :class:`Dealer` from a ``/Dealer`` record; ``None`` if it has no ``Cmf``."""
    lowered = {str(k).lower(): v for k, v in record.items()}
    cmf = parse_text(lowered.get("cmf"))
    if cmf is None:
        return None
    return Dealer(cmf=cmf, dealer_name=parse_text(lowered.get("dealername")))


@dataclass(frozen=True, slots=True)
class PartStock:
    """The few fields an inventory sync reads from a part record (see :func:`parse_stock`)."""

    part_number: str
    on_hand: Decimal | None
    available: Decimal | None
    retail: Decimal | None
    current_active_price: Decimal | None


_STOCK_KEYS = {"partnumber": 0, "onhand": 1, "avail": 2, "retail": 3, "currentactiveprice": 4}


def parse_stock(record: Mapping[str, Any]) -> PartStock:
    """Only the stock fields of one record, keys matched case-insensitively, with the same
    tolerance as :func:`parse_part` but without parsing dates and descriptions (a full
    sync reads hundreds of thousands of records)."""
    found: list[Any] = [None, None, None, None, None]
    for key, raw in record.items():
        index = _STOCK_KEYS.get(key.lower() if isinstance(key, str) else str(key).lower())
        if index is not None:
            found[index] = raw
    return PartStock(
        parse_text(found[0]) or "",
        parse_decimal(found[1]),
        parse_decimal(found[2]),
        parse_decimal(found[3]),
        parse_decimal(found[4]),
    )
