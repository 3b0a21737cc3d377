"""Query-parameter helpers for R-Series filters: the operator goes in the value.

``params={"timeStamp": gt(since), "itemID": in_([1, 2]), "load_relations":
load_relations("ItemShops", "Prices"), "sort": sort("timeStamp")}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

__all__ = [
    "MAX_IN_VALUES",
    "between",
    "eq",
    "gt",
    "gte",
    "in_",
    "like",
    "load_relations",
    "lt",
    "lte",
    "ne",
    "query_value",
    "sort",
]

MAX_IN_VALUES = 100
"""The API refuses ``IN`` lists longer than this."""

Scalar = str | int | float | Decimal | bool | datetime


def query_value(value: Scalar) -> str:
    """Format one value as the API expects it in a query string.

    Datetimes are sent in ISO 8601 with an offset (naive ones are taken as UTC), booleans as
    ``true``/``false``.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat()
    return str(value)


def eq(value: Scalar) -> str:
    """Equality (the plain value)."""
    return query_value(value)


def gt(value: Scalar) -> str:
    """``>,value``: strictly greater (``timeStamp=>,2026-11-01T00:00:00+00:00``)."""
    return f">,{query_value(value)}"


def gte(value: Scalar) -> str:
    """``>=,value``."""
    return f">=,{query_value(value)}"


def lt(value: Scalar) -> str:
    """``<,value``."""
    return f"<,{query_value(value)}"


def lte(value: Scalar) -> str:
    """``<=,value``."""
    return f"<=,{query_value(value)}"


def ne(value: Scalar) -> str:
    """``!=,value``."""
    return f"!=,{query_value(value)}"


def in_(values: Iterable[Scalar]) -> str:
    """``IN,[1,2]``; at most :data:`MAX_IN_VALUES` values (split larger sets yourself)."""
    items = [query_value(v) for v in values]
    if not items:
        raise ValueError("IN needs at least one value")
    if len(items) > MAX_IN_VALUES:
        raise ValueError(f"IN takes at most {MAX_IN_VALUES} values, got {len(items)}")
    return f"IN,[{','.join(items)}]"


def like(pattern: str) -> str:
    """``~,pattern``: SQL LIKE, ``%`` matches any run of characters."""
    return f"~,{pattern}"


def between(low: Scalar, high: Scalar) -> str:
    """``><,low,high``: inclusive range."""
    return f"><,{query_value(low)},{query_value(high)}"


def load_relations(*relations: str) -> str:
    """``load_relations=["ItemShops","Prices"]`` (a JSON array in the value)."""
    return json.dumps(list(relations), separators=(",", ":"))


def sort(field: str, *, descending: bool = False) -> str:
    """``sort=timeStamp`` / ``sort=-timeStamp``."""
    return f"-{field}" if descending else field
