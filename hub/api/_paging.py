"""Opaque cursors: base64url of the last row's sort key. A malformed cursor answers 400."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from litestar.params import Parameter

from hub.api._errors import ApiError

__all__ = ["MAX_ID", "Cursor", "Limit", "decode_cursor", "encode_cursor", "next_cursor"]

MAX_ID = 2**62
DEFAULT_LIMIT = 100

Cursor = Annotated[
    str | None,
    Parameter(description="Opaque cursor from the previous page's next_cursor", max_length=200),
]
Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size (1-500)")]


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after the row with id ``last_id``."""
    raw = json.dumps({"after": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after; None for the first page; 400 when malformed."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ApiError(
            400, "the cursor is not valid", code="bad_cursor", fields={"cursor": "malformed"}
        ) from None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise ApiError(
            400, "the cursor is not valid", code="bad_cursor", fields={"cursor": "malformed"}
        )
    return value


def next_cursor(ids: list[int], limit: int) -> str | None:
    """The next page's cursor, given the ids of a page fetched with ``limit + 1`` rows."""
    if len(ids) <= limit:
        return None
    return encode_cursor(ids[limit - 1])
