"""Who is looking at the console, and may they see this tenant.

``console_session`` (guard on every page but the login) reads the signed session cookie and
re-reads its API key: an expired session, or a key revoked or gone since the login, sends the
browser back to the login page. ``console_tenant`` (guard on the ``/admin/tenants/{slug}``
pages) answers 404 for a tenant that does not exist or is not the key's — as the API does.
Handlers read the results as ``request.state.viewer`` (the API's :class:`Caller`),
``request.state.console`` (the session) and ``request.state.tenant``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlmodel import select

from hub.admin._session import SESSION_COOKIE, ConsoleSession, SessionSigner, signer_for
from hub.api._auth import AuthCache, Caller
from hub.core.hub import Hub
from hub.core.models import ApiKey, Tenant
from hub.core.tenants import TenantInfo

__all__ = [
    "CsrfRefused",
    "LoginRequired",
    "PageNotFound",
    "caller_of_session",
    "console_session",
    "console_tenant",
    "hub_of",
    "signer_of",
]


class LoginRequired(Exception):
    """No valid session: the browser goes to the login page (then back to ``next``)."""

    def __init__(self, next_path: str, message: str = "") -> None:
        super().__init__(message or "log in")
        self.next_path = next_path
        self.message = message


class CsrfRefused(Exception):
    """A form posted without this session's CSRF token: 403, nothing done."""


class PageNotFound(Exception):
    """404 — also for another tenant's page, so a key cannot probe for tenants."""


def hub_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Hub:
    hub: Hub = connection.app.state.hub
    return hub


def signer_of(hub: Hub) -> SessionSigner:
    return signer_for(tuple(hub.settings.secret_keys), hub.settings.admin_session_minutes * 60)


def caller_of_session(hub: Hub, signer: SessionSigner, session: ConsoleSession) -> Caller | None:
    """The session's key as a :class:`Caller`, if it still exists, is not revoked and is the
    very key the session was opened with."""
    with hub.db.read() as db:
        row = db.get(ApiKey, session.key_id)
        if row is None or row.revoked_at is not None or row.id is None:
            return None
        if not signer.matches_key(session.key_fingerprint, row.key_hash):
            return None
        tenant = None
        if row.tenant_id is not None:
            tenant_row = db.get(Tenant, row.tenant_id)
            if tenant_row is None:
                return None
            tenant = TenantInfo.of(tenant_row)
        return Caller(key_id=row.id, prefix=row.prefix, label=row.label, tenant=tenant)


def _here(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    path = connection.url.path
    query = connection.url.query
    return quote(path + (f"?{query}" if query else ""), safe="/?=&-_.~%")


async def console_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: a valid, unexpired session whose key is still valid (else to the login)."""
    hub = hub_of(connection)
    signer = signer_of(hub)
    token = connection.cookies.get(SESSION_COOKIE)
    session = signer.load_session(token)
    if session is None:
        raise LoginRequired(
            _here(connection), "Your session has ended; log in again." if token else ""
        )
    caller = await hub.run_on_loop_or_thread(lambda: caller_of_session(hub, signer, session))
    if caller is None:
        raise LoginRequired(_here(connection), "The key of this session is no longer valid.")
    connection.state.viewer = caller
    connection.state.console = session
    connection.state.csrf_token = signer.csrf_token(session.session_id)


def _tenant_by_slug(hub: Hub, slug: str) -> TenantInfo | None:
    with hub.db.read() as session:
        row = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
        return TenantInfo.of(row) if row is not None else None


async def console_tenant(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: the ``{slug}`` tenant, if the viewer may see it (else 404)."""
    caller: Caller = connection.state.viewer
    slug = str(connection.path_params.get("slug", ""))
    if caller.tenant is not None:
        tenant = caller.tenant if caller.tenant.slug == slug else None
    else:
        # The API's per-process cache of tenants (forgotten when a tenant changes).
        cache: AuthCache = connection.app.state.auth_cache
        tenant = cache.tenant(slug)
        if tenant is None:
            hub = hub_of(connection)
            tenant = await hub.run_on_loop_or_thread(lambda: _tenant_by_slug(hub, slug))
            if tenant is not None:
                cache.keep_tenant(tenant)
    if tenant is None:
        raise PageNotFound(f"no tenant {slug!r}")
    connection.state.tenant = tenant
