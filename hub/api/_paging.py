"""Cursors: the last row's id (at most ``MAX_ID``) in lowercase hex. Anything else answers 400.

The format is exactly the documented pattern (:data:`CURSOR_PATTERN`; empty for the first
page), so every cursor the document allows is one the server takes: a client should still
treat it as opaque and pass back the ``next_cursor`` it got. Ids stay below 2**53 (they are
exact in a JSON number too).
"""

from __future__ import annotations

import re
from typing import Annotated

from litestar.params import Parameter

from hub.api._errors import ApiError

__all__ = [
    "CURSOR_PATTERN",
    "MAX_ID",
    "Cursor",
    "Limit",
    "decode_cursor",
    "encode_cursor",
    "next_cursor",
]

MAX_ID = 2**53 - 1
DEFAULT_LIMIT = 100
CURSOR_PATTERN = "^(?:[0-9a-f]{0,13}|1[0-9a-f]{13})$"
"""0 to 2**53 - 1 in lowercase hex (``1fffffffffffff`` is the largest)."""
_CURSOR = re.compile(r"(?:[0-9a-f]{0,13}|1[0-9a-f]{13})")  # fullmatch: no trailing newline

# The pattern is documented, not enforced by Litestar: a malformed cursor is a 400
# (``bad_cursor``), as the contract says, not a 422.
Cursor = Annotated[
    str | None,
    Parameter(
        description="The previous page's `next_cursor` (empty or left out: the first page)",
        schema_extra={"pattern": CURSOR_PATTERN},
    ),
]
Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size (1-500)")]


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after the row with id ``last_id``."""
    return f"{last_id:x}"


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after; None for the first page; 400 when malformed."""
    if cursor is None or cursor == "":
        return None
    if not _CURSOR.fullmatch(cursor):
        raise ApiError(
            400,
            "the cursor is not valid: pass back the next_cursor of the previous page",
            code="bad_cursor",
            fields={"cursor": f"must match {CURSOR_PATTERN}"},
        )
    return int(cursor, 16)


def next_cursor(ids: list[int], limit: int) -> str | None:
    """The next page's cursor, given the ids of a page fetched with ``limit + 1`` rows."""
    if len(ids) <= limit:
        return None
    return encode_cursor(ids[limit - 1])
