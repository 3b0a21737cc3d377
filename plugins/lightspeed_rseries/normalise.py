"""The one place where Lightspeed R-Series payload quirks are undone (and redone for writes).

The R-Series API returns every scalar as a string (``"qoh":"33"``, ``"archived":"false"``),
uses ``"0"`` for "no foreign key", returns a one-element list as a bare object
(``"SaleLines":{"SaleLine":{…}}``), an empty container as ``""`` and an empty result without
the entity key at all. Everything that reads or writes API payloads goes through the functions
below, so each quirk has exactly one fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "as_list",
    "from_container",
    "number_for_json",
    "records",
    "to_bool",
    "to_container",
    "to_datetime",
    "to_decimal",
    "to_foreign_key",
    "to_int",
    "to_optional_int",
    "to_str",
]


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def as_list(value: Any) -> list[Any]:
    """Return ``value`` as a real list: ``""``/``None`` → ``[]``, a bare object → ``[object]``."""
    if _is_empty(value):
        return []
    if isinstance(value, list):
        return value
    return [value]


def from_container(value: Any, child: str) -> list[Any]:
    """Flatten a nested container such as ``{"ItemShop": {…}}`` to a list of records.

    Accepts the three shapes the API produces (``""``, ``{child: {…}}``, ``{child: [...]}``)
    and, for convenience when building models by hand, an already flat list.
    """
    if _is_empty(value):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        if child in value:
            return as_list(value[child])
        # A bare record (no wrapping key) is treated as a one-element list.
        return [value] if value else []
    raise ValueError(f"expected a {child} container, got {type(value).__name__}")


def to_container(items: list[Any], child: str) -> dict[str, list[Any]]:
    """Re-wrap a list of records for a write: ``[…]`` → ``{child: […]}``."""
    return {child: list(items)}


def records(body: Mapping[str, Any], entity: str) -> list[dict[str, Any]]:
    """Return the records of ``entity`` in a response body, always as a list.

    An empty result has no entity key at all, a single hit is a bare object. The records
    are the body's own dicts (a decoded body is not shared), other mappings are copied.
    """
    return [r if r.__class__ is dict else dict(r) for r in as_list(body.get(entity))]


def to_str(value: Any) -> Any:
    """Pass strings through; ``None`` stays ``None``; other scalars become strings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def to_int(value: Any) -> Any:
    """``"33"`` → ``33``; ``""`` → ``None`` (left to the field type to accept or reject)."""
    if type(value) is str:  # the API's every integer: the common case first
        try:
            return int(value)
        except ValueError:
            pass
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            # "3.000" style quantities: accept when integral, else let pydantic complain.
            try:
                number = Decimal(text)
            except InvalidOperation:
                return value
            if number.is_finite() and number == number.to_integral_value():
                return int(number)
            return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    return value


def to_optional_int(value: Any) -> Any:
    """Like :func:`to_int`; kept as a separate name for fields where ``""`` means unknown."""
    return to_int(value)


def to_foreign_key(value: Any) -> Any:
    """A foreign key: ``"0"``, ``0`` and ``""`` mean "none" and become ``None``."""
    number = to_int(value)
    if number == 0:
        return None
    return number


def to_decimal(value: Any) -> Any:
    """Money and quantities: ``"19.99"`` → ``Decimal("19.99")``; floats via their repr."""
    if type(value) is str and value:
        try:
            return Decimal(value)  # white space around it is allowed, as by strip()
        except InvalidOperation:
            pass
    if _is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int | str):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal: {value!r}") from exc
    return value


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def to_bool(value: Any) -> Any:
    """``"true"``/``"false"`` (and ``"1"``/``"0"``, ``""`` = false) → ``bool``."""
    if value == "true" or value == "false":
        return value == "true"
    if value is None or isinstance(value, bool):
        return False if value is None else value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"not a boolean: {value!r}")


def to_datetime(value: Any) -> Any:
    """ISO 8601 text → aware ``datetime``; naive values are taken as UTC; ``""`` → ``None``."""
    if type(value) is str and value[-6:-5] == "+":  # the API's own "…+00:00" form
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    if _is_empty(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def number_for_json(value: Decimal) -> int | float:
    """Write payloads take real JSON numbers: integral amounts as ints, others as floats.

    ``float(Decimal("19.99"))`` prints back as ``19.99`` (shortest round-trip repr), so no
    precision is lost for money-sized values.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)
