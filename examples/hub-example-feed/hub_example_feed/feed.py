"""The feed's format: ``sku,quantity`` per line, a header line first. Pure functions."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

__all__ = ["FeedError", "FeedRow", "parse_feed"]

MAX_ROWS = 200_000


class FeedError(ValueError):
    """The feed cannot be read; the message names the line."""


@dataclass(frozen=True, slots=True)
class FeedRow:
    line: int
    sku: str
    quantity: int


def parse_feed(text: str) -> list[FeedRow]:
    """Rows of the feed; a quantity that is not a whole number ≥ 0 stops the whole feed
    (half a feed would set the rest of the stock wrong)."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:2]] != ["sku", "quantity"]:
        raise FeedError("line 1: the header must be 'sku,quantity'")
    rows: list[FeedRow] = []
    for number, fields in enumerate(reader, start=2):
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) < 2:
            raise FeedError(f"line {number}: expected 'sku,quantity'")
        sku, raw = fields[0].strip(), fields[1].strip()
        if not sku:
            raise FeedError(f"line {number}: the sku is empty")
        if not raw.isdigit():
            raise FeedError(f"line {number}: quantity {raw!r} is not a whole number ≥ 0")
        rows.append(FeedRow(number, sku, int(raw)))
        if len(rows) > MAX_ROWS:
            raise FeedError(f"the feed has more than {MAX_ROWS} rows")
    return rows
