"""Seedable, realistic 3PA part records for the sandbox, with the quirks of the real warehouse."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

__all__ = ["CANONICAL_PART_KEYS", "SUPPLIER_CODES", "format_dealer_datetime", "generate_parts"]

#: The keys as the developer guide spells them (mixed case, not consistent — e.g. lastupdatedate).
CANONICAL_PART_KEYS = (
    "DealerId",
    "PartNumber",
    "SupplierCode",
    "Description",
    "OnHand",
    "Avail",
    "OnOrder",
    "Cost",
    "Retail",
    "CurrentActivePrice",
    "UPC",
    "Bin1",
    "SupersededTo",
    "LastSoldDate",
    "LastReceivedDate",
    "DateGathered",
    "lastupdatedate",
    "category",
    "saleprice",
)

#: Supplier code → (weight, description words, part number style).
SUPPLIER_CODES: dict[str, tuple[int, tuple[str, ...], str]] = {
    "TR": (30, ("HELMET", "GLOVE", "GOGGLE", "JACKET", "BOOT"), "dash"),
    "WPS": (25, ("CHAIN", "SPROCKET", "BRAKE PAD", "FILTER", "GRIP"), "plain"),
    "KA": (15, ("GASKET", "O-RING", "BOLT", "SEAL", "BEARING"), "oem"),
    "HO": (12, ("WASHER", "CLIP", "COLLAR", "SPRING", "COVER"), "honda"),
    "PU": (10, ("TIRE", "TUBE", "LEVER", "MIRROR", "CABLE"), "dash"),
    "YA": (8, ("PLUG", "BELT", "PISTON", "RING SET", "VALVE"), "oem"),
}

_PLACEHOLDERS = ("1900-01-01T00:00:00.00", "1000-01-01T00:00:00")


def format_dealer_datetime(value: datetime) -> str:
    """``yyyy-mm-ddThh:mm:ss.nn``, the warehouse's date format (hundredths of a second)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 10_000:02d}"


def _part_number(rng: random.Random, style: str) -> str:
    if style == "dash":
        return f"{rng.randint(10, 99)}-{rng.randint(100, 99999)}"
    if style == "oem":
        return f"{rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}"
    if style == "honda":
        model = rng.choice(["KZ3", "MEN", "GC4", "KRN"])
        return f"{rng.randint(90000, 99999)}-{model}-{rng.randint(0, 999):03d}"
    return f"{rng.randint(100, 999)}{rng.randint(1000, 9999)}"


def _number(rng: random.Random, value: float | int) -> Any:
    """The same number the ways the warehouse sends it: int, float or string."""
    roll = rng.random()
    if roll < 0.1:
        return f"{value:.3f}"
    if roll < 0.2:
        return float(value)
    return value


def generate_parts(
    n: int,
    seed: int = 0,
    dealer_id: str = "76014846",
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``n`` part records for ``dealer_id``, the same for the same seed.

    Quirks, in roughly these shares: ~40 % not updated for more than 365 days; ~25 % with zero
    and ~3 % with negative quantity; nulls in descriptive fields and prices; placeholder
    ``1900-``/``1000-`` dates; ~5 % lower-case and ~5 % upper-case keys; ~5 % missing keys;
    numbers as ints, floats or strings; and ~1 % part numbers repeated without their
    punctuation ("12-345" and "12345").

    :param now: the dealer's wall clock at generation (default: now).
    """
    rng = random.Random(seed)
    now = (now or datetime.now()).replace(microsecond=0)
    codes = list(SUPPLIER_CODES)
    weights = [SUPPLIER_CODES[c][0] for c in codes]
    records: list[dict[str, Any]] = []
    while len(records) < n:
        code = rng.choices(codes, weights)[0]
        _, words, style = SUPPLIER_CODES[code]
        part_number = _part_number(rng, style)
        roll = rng.random()
        on_hand = 0 if roll < 0.25 else (-rng.randint(1, 3) if roll < 0.28 else rng.randint(1, 40))
        available = max(on_hand - rng.choice([0, 0, 0, 1, 2]), min(on_hand, 0))
        cost = round(rng.uniform(0.5, 400), 2)
        retail = round(cost * rng.uniform(1.25, 1.8), 2)
        age_days = rng.randint(0, 900)
        updated = now - timedelta(
            days=age_days, seconds=rng.randint(0, 86_399), microseconds=rng.randint(0, 99) * 10_000
        )
        record: dict[str, Any] = {
            "DealerId": dealer_id,
            "PartNumber": part_number,
            "SupplierCode": code,
            "Description": None
            if rng.random() < 0.05
            else f"{rng.choice(words)} {rng.randint(1, 99)}",
            "OnHand": _number(rng, on_hand),
            "Avail": _number(rng, available),
            "OnOrder": _number(rng, rng.choice([0, 0, 0, 1, 2, 5])),
            "Cost": None if rng.random() < 0.03 else _number(rng, cost),
            "Retail": None if rng.random() < 0.03 else _number(rng, retail),
            "CurrentActivePrice": None
            if rng.random() < 0.3
            else _number(rng, round(retail * rng.uniform(0.8, 1.0), 2)),
            "UPC": rng.choice([None, "", f"{rng.randint(10**11, 10**12 - 1)}"]),
            "Bin1": None
            if rng.random() < 0.2
            else f"{rng.choice('ABCDEFG')}-{rng.randint(1, 30):02d}-{rng.randint(1, 9)}",
            "SupersededTo": f"{part_number}A" if rng.random() < 0.02 else None,
            "LastSoldDate": rng.choice(_PLACEHOLDERS)
            if rng.random() < 0.3
            else format_dealer_datetime(updated - timedelta(days=rng.randint(0, 60))),
            "LastReceivedDate": rng.choice(_PLACEHOLDERS)
            if rng.random() < 0.2
            else format_dealer_datetime(updated - timedelta(days=rng.randint(0, 120))),
            "DateGathered": format_dealer_datetime(now - timedelta(minutes=rng.randint(0, 90))),
            "lastupdatedate": rng.choice(_PLACEHOLDERS)
            if rng.random() < 0.01
            else format_dealer_datetime(updated),
            "category": rng.choice([None, "P&A", "OEM", "APPAREL"]),
            "saleprice": None,
        }
        style_roll = rng.random()
        if style_roll < 0.05:
            record = {k.lower(): v for k, v in record.items()}
        elif style_roll < 0.10:
            record = {k.upper(): v for k, v in record.items()}
        if rng.random() < 0.05:
            # Keys are sometimes simply absent (never the identifying ones, which would make
            # the record useless to everybody, the sandbox included).
            for key in rng.sample(["Bin1", "UPC", "SupersededTo", "OnOrder", "category"], 2):
                for variant in (key, key.lower(), key.upper()):
                    record.pop(variant, None)
        records.append(record)
        if rng.random() < 0.01 and len(records) < n:
            twin = dict(record)
            for key in ("PartNumber", "partnumber", "PARTNUMBER"):
                if key in twin:
                    twin[key] = part_number.replace("-", "").replace(" ", "")
            records.append(twin)
    return records
