"""Building 3PA ``$filter`` expressions safely.

The Data Warehouse speaks a small OData dialect: ``eq ne lt le gt ge and or not``, string
literals in single quotes (an embedded quote is written twice), and datetimes as
``datetime'YYYY-MM-DDTHH:MM:SS'``. Every value that reaches a filter goes through
:func:`literal`, so a supplier code such as ``O'NEAL`` — or a hostile one — stays one string
literal and can never change the shape of the expression.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Literal

__all__ = [
    "QUANTITY_FIELDS",
    "QuantityColumn",
    "and_",
    "comparison",
    "datetime_literal",
    "full_pull_filter",
    "incremental_filter",
    "literal",
    "parts_filter",
    "string_literal",
]

QuantityColumn = Literal["on_hand", "available"]

#: The 3PA field tested by the "quantity > 0" clause for each install setting.
QUANTITY_FIELDS: dict[str, str] = {"on_hand": "OnHand", "available": "Avail"}

Operator = Literal["eq", "ne", "lt", "le", "gt", "ge"]
_OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
# Field names are written by us, never by users; still, refuse anything that is not a bare
# identifier so a typo cannot smuggle an operator into the expression.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def string_literal(value: str) -> str:
    """Quote ``value`` as an OData string literal (``'`` doubled inside)."""
    return "'" + value.replace("'", "''") + "'"


def datetime_literal(value: datetime) -> str:
    """Format a naive dealer-local datetime as ``datetime'YYYY-MM-DDTHH:MM:SS'``.

    3PA dates carry no zone: they are wall-clock times of the dealer. An aware datetime is
    refused rather than silently shifted, because the client does not know the dealer's zone.
    """
    if value.tzinfo is not None:
        raise ValueError("3PA datetimes are dealer-local: pass a naive datetime")
    return f"datetime'{value.strftime('%Y-%m-%dT%H:%M:%S')}'"


def literal(value: str | datetime | int | Decimal | bool | None) -> str:
    """Render a Python value as an OData literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, str):
        return string_literal(value)
    if isinstance(value, datetime):
        return datetime_literal(value)
    if isinstance(value, int | Decimal):
        if isinstance(value, Decimal) and not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        return str(value)
    raise TypeError(f"cannot render {type(value).__name__} as an OData literal")


def comparison(
    field: str, operator: Operator, value: str | datetime | int | Decimal | bool | None
) -> str:
    """``field operator literal(value)``, e.g. ``SupplierCode eq 'TR'``."""
    if not _IDENTIFIER.match(field):
        raise ValueError(f"not a field name: {field!r}")
    if operator not in _OPERATORS:
        raise ValueError(f"not an OData comparison operator: {operator!r}")
    return f"{field} {operator} {literal(value)}"


def and_(*clauses: str) -> str:
    """Join clauses with ``and``; each clause is parenthesised only if it contains ``or``."""
    parts = [f"({c})" if " or " in c else c for c in clauses if c]
    return " and ".join(parts)


def parts_filter(
    supplier_code: str,
    *,
    updated_since: datetime | None,
    quantity_column: QuantityColumn | None,
) -> str:
    """The ``$filter`` for one supplier code's parts.

    ``updated_since`` adds ``lastupdatedate ge datetime'…'``; ``quantity_column`` adds
    ``OnHand gt 0`` or ``Avail gt 0``.
    """
    clauses = [comparison("SupplierCode", "eq", supplier_code)]
    if updated_since is not None:
        clauses.append(comparison("lastupdatedate", "ge", updated_since))
    if quantity_column is not None:
        try:
            field = QUANTITY_FIELDS[quantity_column]
        except KeyError:
            raise ValueError(
                f"quantity column must be on_hand or available: {quantity_column!r}"
            ) from None
        clauses.append(comparison(field, "gt", 0))
    return and_(*clauses)


def full_pull_filter(
    supplier_code: str, *, updated_since: datetime, quantity_column: QuantityColumn
) -> str:
    """Filter of a full pull: the code's parts updated since the cutoff with quantity > 0.

    >>> full_pull_filter("TR", updated_since=datetime(2025, 11, 23), quantity_column="on_hand")
    "SupplierCode eq 'TR' and lastupdatedate ge datetime'2025-11-23T00:00:00' and OnHand gt 0"
    """
    return parts_filter(supplier_code, updated_since=updated_since, quantity_column=quantity_column)


def incremental_filter(supplier_code: str, *, updated_since: datetime) -> str:
    """Filter of an incremental pull: no quantity clause, so parts that dropped to zero are seen.

    >>> incremental_filter("TR", updated_since=datetime(2025, 11, 23, 6, 30))
    "SupplierCode eq 'TR' and lastupdatedate ge datetime'2025-11-23T06:30:00'"
    """
    return parts_filter(supplier_code, updated_since=updated_since, quantity_column=None)
