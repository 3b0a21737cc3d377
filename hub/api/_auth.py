"""Who is calling, and may they reach this tenant: the one place the API checks both.

``authenticate`` (guard on every ``/api/v1`` route) verifies the ``Authorization: Bearer``
key and applies the per-key rate limit; ``tenant_scope`` (guard on the
``/api/v1/tenants/{slug}`` router, so on every tenant route) resolves the tenant and answers
404 when the key belongs to another tenant — the same answer as for a tenant that does not
exist, so a key cannot probe for other tenants. Handlers receive the results through the
``caller`` and ``tenant`` dependencies.

Verified keys and resolved slugs are kept for :data:`CACHE_SECONDS` per process (the
hot path then touches no database): a revoked key or a deleted tenant may be honoured that
long by another process; this process forgets tenants at once when it changes one.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlmodel import select

from hub.api._errors import ApiError
from hub.core.hub import Hub
from hub.core.keys import verify_key
from hub.core.models import Tenant
from hub.core.tenants import TenantInfo

__all__ = [
    "CACHE_SECONDS",
    "AuthCache",
    "Caller",
    "RateLimiter",
    "authenticate",
    "forget_tenants",
    "provide_caller",
    "provide_hub",
    "provide_tenant",
    "require_admin",
    "tenant_scope",
]


@dataclass(frozen=True)
class Caller:
    """The verified key of a request. ``tenant`` is None for an admin key."""

    key_id: int
    prefix: str
    label: str
    tenant: TenantInfo | None

    @property
    def is_admin(self) -> bool:
        return self.tenant is None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (never the key itself)."""
        return f"key:{self.prefix}" + (f" ({self.label})" if self.label else "")


class RateLimiter:
    """A token bucket per key prefix: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``; returns 0 when allowed, else seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, stamp = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


CACHE_SECONDS = 5.0


class AuthCache:
    """Verified keys (by hash) and tenants (by slug), each kept :data:`CACHE_SECONDS`."""

    def __init__(self, ttl: float = CACHE_SECONDS, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._callers: dict[str, tuple[float, Caller]] = {}
        self._tenants: dict[str, tuple[float, TenantInfo]] = {}

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def caller(self, key: str) -> Caller | None:
        hit = self._callers.get(self._digest(key))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def keep_caller(self, key: str, caller: Caller) -> None:
        if len(self._callers) >= self.max_entries:
            self._callers.clear()
        self._callers[self._digest(key)] = (time.monotonic() + self.ttl, caller)

    def tenant(self, slug: str) -> TenantInfo | None:
        hit = self._tenants.get(slug)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def keep_tenant(self, tenant: TenantInfo) -> None:
        if len(self._tenants) >= self.max_entries:
            self._tenants.clear()
        self._tenants[tenant.slug] = (time.monotonic() + self.ttl, tenant)

    def forget_tenants(self) -> None:
        """Drop every cached tenant and tenant key (after a tenant changed)."""
        self._tenants.clear()
        self._callers = {k: v for k, v in self._callers.items() if v[1].tenant is None}


def forget_tenants(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Make this process re-read tenants (call after changing or deleting one)."""
    cache: AuthCache = connection.app.state.auth_cache
    cache.forget_tenants()


def _hub(connection: ASGIConnection[Any, Any, Any, Any]) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


def _verify(hub: Hub, key: str) -> Caller | None:
    with hub.db.read() as session:
        row = verify_key(session, key)
        if row is None or row.id is None:
            return None
        tenant = None
        if row.tenant_id is not None:
            tenant_row = session.get(Tenant, row.tenant_id)
            if tenant_row is None:
                return None
            tenant = TenantInfo.of(tenant_row)
        return Caller(key_id=row.id, prefix=row.prefix, label=row.label, tenant=tenant)


def _tenant_by_slug(hub: Hub, slug: str) -> TenantInfo | None:
    with hub.db.read() as session:
        row = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
        return TenantInfo.of(row) if row is not None else None


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: verify the bearer key (401) and take a token of its rate limit (429)."""
    header = connection.headers.get("authorization", "")
    scheme, _sep, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > 200:
        raise ApiError(
            401,
            "an API key is required: Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache: AuthCache = connection.app.state.auth_cache
    caller = cache.caller(key)
    if caller is None:
        caller = await to_thread.run_sync(_verify, _hub(connection), key)
        if caller is not None:
            cache.keep_caller(key, caller)
    if caller is None:
        raise ApiError(401, "the API key is not valid", headers={"WWW-Authenticate": "Bearer"})
    limiter: RateLimiter = connection.app.state.rate_limiter
    wait = limiter.take(caller.prefix)
    if wait > 0:
        raise ApiError(
            429,
            "too many requests for this key; slow down",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    connection.state.caller = caller


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: only an admin key (403 for a tenant key)."""
    caller: Caller = connection.state.caller
    if not caller.is_admin:
        raise ApiError(403, "this needs an admin key")


async def tenant_scope(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: resolve ``{slug}``; 404 when it does not exist or is not the key's tenant."""
    caller: Caller = connection.state.caller
    slug = str(connection.path_params.get("slug", ""))
    if caller.tenant is not None:
        tenant = caller.tenant if caller.tenant.slug == slug else None
    else:
        cache: AuthCache = connection.app.state.auth_cache
        tenant = cache.tenant(slug)
        if tenant is None:
            tenant = await to_thread.run_sync(_tenant_by_slug, _hub(connection), slug)
            if tenant is not None:
                cache.keep_tenant(tenant)
    if tenant is None:
        raise ApiError(404, f"no tenant {slug!r}")
    connection.state.tenant = tenant


def provide_hub(request: ASGIConnection[Any, Any, Any, Any]) -> Hub:
    """Dependency ``hub``: the app's :class:`Hub`."""
    return _hub(request)


def provide_caller(request: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    """Dependency ``caller``: the verified key (set by :func:`authenticate`)."""
    caller: Caller = request.state.caller
    return caller


def provide_tenant(request: ASGIConnection[Any, Any, Any, Any]) -> TenantInfo:
    """Dependency ``tenant``: the route's tenant (set by :func:`tenant_scope`)."""
    tenant: TenantInfo = request.state.tenant
    return tenant
