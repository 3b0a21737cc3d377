"""How the request models take money and times: strict strings with documented patterns.

The API documents these fields with exactly these patterns (``pattern`` in the OpenAPI
schema, from the ``json_schema_extra`` of the annotated types), and the validators accept
exactly what the patterns allow, so a client generated from the document and the server
agree on every value:

* money: a decimal string (``"24.95"``), never a JSON number (a float does not say which
  cents were meant); order amounts have at most two places, catalog prices four;
* integers and booleans are JSON integers and booleans (not ``"5"`` or ``"true"``);
* strings are checked as sent, then stripped of surrounding white space;
* date-times: RFC 3339 with an offset (``2026-11-20T10:00:00Z``), years 1000-2999, at most
  six fractional digits; a bare number (a Unix time) is refused.

Python callers may pass ``Decimal`` and ``datetime`` objects as they are.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

__all__ = [
    "DATETIME_PATTERN",
    "DATETIME_RE",
    "MONEY_PATTERN",
    "MONEY_RE",
    "NONBLANK_PATTERN",
    "PRICE_PATTERN",
    "PRICE_RE",
    "AwareDateTime",
    "JsonBool",
    "JsonInt",
    "Price",
    "aware_datetime",
    "datetime_string",
    "nonblank",
    "strip_strings",
]

MONEY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
"""An order amount: at most 12 digits before the point and two after (``"-5"``, ``"0.5"``)."""
PRICE_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,4})?$"
"""A catalog price or cost: not negative, at most 10 digits before the point and four after."""
DATETIME_PATTERN = (
    r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 with an offset, years 1000-2999 (their UTC instant always exists)."""


def _fullmatch(pattern: str) -> re.Pattern[str]:
    # JSON Schema's "$" does not match before a final newline; Python's does.
    return re.compile(pattern.removeprefix("^").removesuffix("$"))


MONEY_RE, PRICE_RE, DATETIME_RE = map(_fullmatch, (MONEY_PATTERN, PRICE_PATTERN, DATETIME_PATTERN))


def _decimal_string(regex: re.Pattern[str], example: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, Decimal) or value is None:
            return value
        if isinstance(value, str) and regex.fullmatch(value):
            return value
        raise ValueError(f'must be a decimal string such as "{example}"')

    return check


def datetime_string(value: Any) -> Any:
    """A ``BeforeValidator``: a string matching :data:`DATETIME_PATTERN` (or a datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str) and DATETIME_RE.fullmatch(value):
        return value
    raise ValueError(
        "must be an RFC 3339 date-time with a time zone offset, such as 2026-11-20T10:00:00Z"
    )


def aware_datetime(value: datetime | None) -> datetime | None:
    """An ``AfterValidator``-style check: a time-zone offset is required."""
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a time zone offset")
    if value is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:  # the edges of the calendar
            raise ValueError("is out of range") from None
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(_decimal_string(PRICE_RE, "9.99")),
    Field(json_schema_extra={"pattern": PRICE_PATTERN}),
]
"""A catalog price or cost."""

AwareDateTime = Annotated[
    datetime,
    BeforeValidator(datetime_string),
    Field(json_schema_extra={"pattern": DATETIME_PATTERN}),
]
"""A date-time with an offset, as a string matching :data:`DATETIME_PATTERN`."""


NONBLANK_PATTERN = r"\S"
"""A string with at least one character that is not white space (unanchored)."""


def nonblank(value: str) -> str:
    """A ``field_validator``: refuse a value that is only white space."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def strip_strings(model: BaseModel) -> None:
    """Strip the white space around every string field of ``model`` (in place).

    Called after validation, so lengths and patterns are checked on the strings as sent: the
    limits the document states are the limits of what a client sends."""
    fields = model.__dict__  # a pydantic model keeps its field values (and only them) here
    padded = [
        name
        for name, value in fields.items()
        if isinstance(value, str) and value and (value[0].isspace() or value[-1].isspace())
    ]
    for name in padded:
        fields[name] = fields[name].strip()


def _json_int(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int)]
"""An integer that must be a JSON integer (pydantic alone also takes ``"5"`` and ``5.0``)."""


def _json_bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


JsonBool = Annotated[bool, BeforeValidator(_json_bool)]
"""A boolean that must be a JSON boolean (pydantic alone also takes ``0`` and ``"yes"``)."""
