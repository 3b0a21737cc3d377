"""Tenants: the dealers and shops a hub serves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlmodel import Session, select

from hub.core.errors import Conflict, Invalid, NotFound
from hub.core.models import Tenant
from hub.core.types import utcnow

__all__ = [
    "TenantInfo",
    "create_tenant",
    "get_tenant",
    "list_tenants",
    "time_zones",
    "update_tenant",
]

SLUG_RE = re.compile(r"^[a-z0-9-]{2,40}$")


@dataclass(frozen=True)
class TenantInfo:
    id: int
    slug: str
    name: str
    timezone: str
    company_address: dict[str, Any]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def of(cls, row: Tenant) -> TenantInfo:
        assert row.id is not None
        return cls(row.id, row.slug, row.name, row.timezone, dict(row.company_address or {}))


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA time zone names a tenant may have, sorted (the API documents them as an
    enum). ``ZoneInfo`` also opens aliases such as ``posix/…`` that are not zone names."""
    return tuple(sorted(available_timezones()))


def _check_timezone(value: str) -> None:
    if value not in time_zones():
        raise Invalid(f"unknown time zone {value!r}", fields={"timezone": "unknown time zone"})


def create_tenant(
    session: Session,
    slug: str,
    name: str,
    timezone: str = "UTC",
    company_address: dict[str, Any] | None = None,
) -> Tenant:
    """Create a tenant; 409 when the slug is taken, 422 on a bad slug or time zone."""
    if not SLUG_RE.match(slug):
        raise Invalid(
            "slug must match [a-z0-9-]{2,40}", fields={"slug": "must match [a-z0-9-]{2,40}"}
        )
    _check_timezone(timezone)
    if session.exec(select(Tenant).where(Tenant.slug == slug)).first() is not None:
        raise Conflict(f"tenant {slug!r} exists already")
    tenant = Tenant(slug=slug, name=name, timezone=timezone, company_address=company_address or {})
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(session: Session, slug: str) -> Tenant:
    tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}")
    return tenant


def list_tenants(session: Session, tenant_id: int | None = None) -> list[Tenant]:
    query = select(Tenant).order_by(Tenant.slug)  # type: ignore[arg-type]
    if tenant_id is not None:
        query = query.where(Tenant.id == tenant_id)
    return list(session.exec(query))


def update_tenant(session: Session, tenant: Tenant, changes: dict[str, Any]) -> Tenant:
    if "timezone" in changes and changes["timezone"] is not None:
        _check_timezone(changes["timezone"])
    for key in ("name", "timezone", "company_address"):
        if key in changes and changes[key] is not None:
            setattr(tenant, key, changes[key])
    tenant.updated_at = utcnow()
    session.add(tenant)
    session.flush()
    return tenant
