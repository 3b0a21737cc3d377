"""Tenants: the list (each tenant's installs with their status and last run), creating one,
and a tenant's page (locations, installs, webhooks with recent deliveries, audit log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template
from sqlmodel import col, select

from hub.admin._auth import hub_of
from hub.admin._render import ADMIN, blocking, page, posted_form, redirect, seg
from hub.api._auth import Caller
from hub.core import audit, catalog, runs, webhooks
from hub.core import tenants as core_tenants
from hub.core.errors import HubError, Invalid, NotFound
from hub.core.hub import Hub
from hub.core.models import JobRun, PluginInstall, Tenant
from hub.core.tenants import TenantInfo

__all__ = [
    "InstallSummary",
    "create_tenant",
    "put_location",
    "tenant_page",
    "tenants_page",
]

PAGE = 50
AUDIT_PAGE = 25


@dataclass(frozen=True)
class InstallSummary:
    """An install as the lists show it: its status (as the API computes it) and last run."""

    plugin_id: str
    title: str
    enabled: bool
    status: str
    status_detail: str
    warnings: list[str]
    last_run: JobRun | None


def install_summaries(
    hub: Hub, tenant_id: int, installs: list[PluginInstall]
) -> list[InstallSummary]:
    """The installs of a tenant with the status the API shows (``install_view``)."""
    with hub.db.read() as session:
        last = runs.latest_runs(session, [i.id for i in installs if i.id is not None])
    out = []
    for install in installs:
        try:
            manifest = hub.plugins.manifest(install.plugin_id)
        except NotFound:
            continue  # a plugin no longer installed in this hub
        view = hub.install_view(tenant_id, install.plugin_id)
        out.append(
            InstallSummary(
                plugin_id=install.plugin_id,
                title=manifest.title,
                enabled=bool(view["enabled"]),
                status=str(view["status"]),
                status_detail=str(view.get("status_detail") or ""),
                warnings=list(view.get("warnings") or []),
                last_run=last.get(install.id or 0),
            )
        )
    return out


def _installs_by_tenant(hub: Hub, tenant_ids: list[int]) -> dict[int, list[PluginInstall]]:
    with hub.db.read() as session:
        rows = session.exec(
            select(PluginInstall)
            .where(col(PluginInstall.tenant_id).in_(tenant_ids))
            .order_by(col(PluginInstall.plugin_id))
        )
        found: dict[int, list[PluginInstall]] = {}
        for row in rows:
            found.setdefault(row.tenant_id, []).append(row)
        return found


def _tenants(hub: Hub, viewer: Caller, before: int | None) -> tuple[list[Tenant], int | None]:
    query = select(Tenant).order_by(col(Tenant.id).desc()).limit(PAGE + 1)
    if viewer.tenant is not None:
        query = query.where(Tenant.id == viewer.tenant.id)
    if before is not None:
        query = query.where(col(Tenant.id) < before)
    with hub.db.read() as session:
        rows = list(session.exec(query))
    more = rows[PAGE - 1].id if len(rows) > PAGE else None
    return rows[:PAGE], more


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**53 else None


def _tenants_page(
    request: Request[Any, Any, Any],
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    rows, more = _tenants(hub, viewer, _int(request.query_params.get("before")))
    installs = _installs_by_tenant(hub, [r.id for r in rows if r.id is not None])
    listed = [
        (row, install_summaries(hub, row.id or 0, installs.get(row.id or 0, []))) for row in rows
    ]
    return page(
        request,
        "tenants.html",
        status_code=status_code,
        listed=listed,
        more=more,
        time_zones=core_tenants.time_zones(),
        errors=errors or {},
        values=values or {"timezone": hub.settings.default_timezone},
        title="Tenants",
    )


@get("/tenants", sync_to_thread=True, include_in_schema=False)
def tenants_page(request: Request[Any, Any, Any]) -> Template:
    """Every tenant the viewer may see, newest first; each install's status and last run."""
    return _tenants_page(request)


@post("/tenants", include_in_schema=False)
async def create_tenant(request: Request[Any, Any, Any]) -> Response[Any]:
    """Create a tenant (an admin key only); errors beside their fields, nothing created."""
    form = await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    values = {k: str(form.get(k) or "").strip() for k in ("slug", "name", "timezone")}
    if not viewer.is_admin:
        return redirect(
            request, f"{ADMIN}/tenants", ("error", "Only an admin key creates tenants.")
        )
    try:
        row = await blocking(
            lambda: hub.create_tenant(
                values["slug"],
                values["name"],
                timezone=values["timezone"] or "UTC",
                actor=viewer.actor,
            )
        )
    except HubError as exc:
        fields = dict(exc.fields or {}) or {"slug": exc.detail}
        status = exc.status
        return await blocking(
            lambda: _tenants_page(request, status_code=status, errors=fields, values=values)
        )
    return redirect(
        request, f"{ADMIN}/tenants/{seg(row.slug)}", ("ok", f"Tenant {row.slug} created.")
    )


# -- one tenant ------------------------------------------------------------------------


def _tenant_page(
    request: Request[Any, Any, Any],
    *,
    status_code: int = 200,
    location_errors: dict[str, str] | None = None,
    location_values: dict[str, str] | None = None,
) -> Template:
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    audit_before = _int(request.query_params.get("audit_before"))
    with hub.db.read() as session:
        locations = catalog.locations_of(session, tenant.id)
        installs = list(
            session.exec(
                select(PluginInstall)
                .where(PluginInstall.tenant_id == tenant.id)
                .order_by(col(PluginInstall.plugin_id))
            )
        )
        subscriptions = webhooks.page_subscriptions(session, tenant.id, limit=50)[:50]
        deliveries = {
            s.id: webhooks.page_deliveries(session, s.id or 0, limit=5)[:5] for s in subscriptions
        }
        events = audit.page_events(session, tenant.id, before=audit_before, limit=AUDIT_PAGE)
        tenant_row = session.get(Tenant, tenant.id)
    summaries = install_summaries(hub, tenant.id, installs)
    installed = {s.plugin_id for s in summaries}
    available = [m for m in hub.plugins.manifests() if m.id not in installed]
    older = events[AUDIT_PAGE - 1].id if len(events) > AUDIT_PAGE else None
    return page(
        request,
        "tenant.html",
        status_code=status_code,
        title=tenant.name,
        tenant_row=tenant_row,
        locations=locations,
        installs=summaries,
        available=available,
        subscriptions=subscriptions,
        deliveries=deliveries,
        events=events[:AUDIT_PAGE],
        older=older,
        audit_before=audit_before,
        location_errors=location_errors or {},
        location_values=location_values or {},
    )


@get("/", sync_to_thread=True, include_in_schema=False)
def tenant_page(request: Request[Any, Any, Any]) -> Template:
    """A tenant: locations, installs, webhooks with recent deliveries, the audit log."""
    return _tenant_page(request)


@post("/locations", include_in_schema=False)
async def put_location(request: Request[Any, Any, Any]) -> Response[Any]:
    """Add a location, or rename one (the same code again)."""
    form = await posted_form(request)
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    code = str(form.get("code") or "").strip()
    name = str(form.get("name") or "").strip()

    def store() -> bool:
        with hub.db.session() as session:
            _row, created = catalog.put_location(session, tenant.id, code, name)
            return created

    try:
        created = await blocking(store)
    except Invalid as exc:
        values = {"code": code, "name": name}
        location_errors = dict(exc.fields or {})
        return await blocking(
            lambda: _tenant_page(
                request,
                status_code=422,
                location_errors=location_errors,
                location_values=values,
            )
        )
    verb = "added" if created else "renamed"
    return redirect(
        request,
        f"{ADMIN}/tenants/{seg(tenant.slug)}#locations",
        ("ok", f"Location {code} {verb}."),
    )
