"""Jinja filters of the console's templates: times in the tenant's zone, durations, words."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from hub.admin.forms import display, humanize
from hub.core.models import Tenant
from hub.core.tenants import TenantInfo

__all__ = ["FILTERS"]


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def when(value: datetime | None, tenant: TenantInfo | Tenant | None = None) -> str:
    """A stored (UTC) time in the tenant's time zone, to the second."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(_zone(tenant.timezone) if tenant is not None else UTC)
    return f"{local:%Y-%m-%d %H:%M:%S %Z}"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def seg(value: Any) -> str:
    return quote(str(value), safe="")


def query(params: dict[str, Any], **changes: Any) -> str:
    """A query string of ``params`` with ``changes`` (None drops a key)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def counts(value: dict[str, Any] | None) -> str:
    """A run's counts as ``updated=3, unmatched=1``."""
    return ", ".join(f"{k}={v}" for k, v in (value or {}).items())


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "seconds": seconds,
    "seg": seg,
    "query": query,
    "humanize": humanize,
    "display": display,
    "as_json": as_json,
    "counts": counts,
}
