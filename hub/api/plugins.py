"""Plugins and installs: ``GET /api/v1/plugins`` and ``/api/v1/tenants/{slug}/plugins``.

A PUT validates the config against the plugin's model (422 naming ``config.<field>``); a
secret left out (or sent back as ``"********"``) keeps its stored value; a GET shows secrets
as ``"********"``. Fields marked ``x-admin-only`` (vendor base URLs) change only with an
admin key (403 ``admin_only``) and only to an allowed URL (422; see :mod:`hub.core.outbound`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, Router, get, post, put
from litestar.params import Parameter
from sqlmodel import col, select

from hub.api._auth import Caller
from hub.api._concurrency import (
    ETAG_HEADER,
    IfMatch,
    install_etag,
    install_precondition,
    read_install_etag,
)
from hub.api._errors import ERROR_RESPONSES
from hub.api._openapi import TENANT_PATH, Link, errors, links
from hub.core.hub import Hub
from hub.core.models import PluginInstall
from hub.core.tenants import TenantInfo

__all__ = [
    "ActionOut",
    "ConnectionOut",
    "InstallConnection",
    "InstallIn",
    "InstallOut",
    "JobIn",
    "PluginOut",
    "QueuedRun",
    "build_catalog_router",
    "build_installs_router",
]

RUN_PATH = TENANT_PATH + "/runs/{run_id}"
PluginId = Annotated[str, Parameter(max_length=64, description="e.g. lightspeed_dms")]
JobName = Annotated[str, Parameter(max_length=64)]


class JobOut(msgspec.Struct):
    name: str
    title: str
    kind: str
    default_schedule: dict[str, Any] | None
    on_change: bool = False
    """Queued by the core after a change of the tenant's catalog, inventory or listings, or
    of the install's settings (debounced by the scheduler pass)."""


class ActionOut(msgspec.Struct):
    """A plugin action (``ActionSpec``), run at
    ``/api/v1/tenants/{slug}/plugins/{plugin_id}/actions/{name}`` with ``method``."""

    name: str
    title: str
    method: Literal["GET", "POST"]
    returns: Literal["json", "csv", "redirect"]
    description: str
    params: dict[str, str]
    needs_connection: bool


class PluginOut(msgspec.Struct):
    """An available plugin (``PluginManager.describe()``)."""

    id: str
    title: str
    version: str
    description: str
    capabilities: list[str]
    jobs: list[JobOut]
    config_schema: dict[str, Any]
    actions: list[ActionOut] = msgspec.field(default_factory=list)
    connects: bool = False


class PluginList(msgspec.Struct):
    items: list[PluginOut]
    next_cursor: str | None = None


class InstallIn(msgspec.Struct, forbid_unknown_fields=True):
    """An install's settings: the config is validated against the plugin's model."""

    enabled: bool = False
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class InstallConnection(msgspec.Struct):
    """The OAuth connection of an install (``POST …/connect``): the account it reaches,
    when and by whom it was connected. ``connected`` is false when never connected, after
    ``disconnect``, and once the vendor refused its refresh (``reconnect_needed``)."""

    connected: bool
    account_id: str | None
    account_name: str | None
    connected_at: datetime | None
    connected_by: str | None


class InstallOut(msgspec.Struct):
    """An install as the API shows it (secrets masked). ``connection`` is null for a
    plugin that does not connect through OAuth."""

    plugin_id: str
    enabled: bool
    config: dict[str, Any]
    status: str
    status_detail: str
    warnings: list[str]
    updated_at: datetime | None
    connection: InstallConnection | None = None


class InstallList(msgspec.Struct):
    items: list[InstallOut]
    next_cursor: str | None = None


class ConnectionOut(msgspec.Struct):
    ok: bool
    detail: str


class JobIn(msgspec.Struct, forbid_unknown_fields=True):
    """Options for a manual run, e.g. ``{"force": true}``."""

    options: dict[str, Any] = msgspec.field(default_factory=dict)


class QueuedRun(msgspec.Struct):
    run_id: int


@get(
    "/plugins",
    sync_to_thread=False,
    responses=ERROR_RESPONSES,
    tags=["plugins"],
    summary="Available plugins",
)
def list_plugins(hub: Hub) -> PluginList:
    """Every registered plugin: id, title, version, capabilities, jobs, actions, whether it
    connects through OAuth (``connects``) and its config schema."""
    return PluginList(msgspec.convert(hub.plugins.describe(), list[PluginOut]))


def _install_out(hub: Hub, tenant_id: int, plugin_id: str) -> InstallOut:
    return msgspec.convert(hub.install_view(tenant_id, plugin_id), InstallOut)


@get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="This tenant's installs")
def list_installs(hub: Hub, tenant: TenantInfo) -> InstallList:
    """Every plugin configured for the tenant (registered plugins only)."""
    with hub.db.read() as session:
        ids = list(
            session.exec(
                select(PluginInstall.plugin_id)
                .where(PluginInstall.tenant_id == tenant.id)
                .order_by(col(PluginInstall.plugin_id))
            )
        )
    known = {m.id for m in hub.plugins.manifests()}
    return InstallList([_install_out(hub, tenant.id, pid) for pid in ids if pid in known])


@put(
    "/{plugin_id:str}",
    sync_to_thread=True,
    responses={**ERROR_RESPONSES, **errors(412)},
    response_headers=[ETAG_HEADER],
    summary="Configure an install",
)
def put_install(
    data: InstallIn,
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: PluginId,
    if_match: IfMatch = None,
) -> Response[InstallOut]:
    """Store ``{enabled, config}``: 422 naming the fields; a secret or an admin-only field
    left out is kept. Changing an admin-only field (``x-admin-only`` in the schema: vendor
    URLs) takes an admin key (else 403 ``admin_only``), and the URL must be allowed by
    ``HUB_VENDOR_URL_ALLOWLIST`` (else 422). With ``If-Match``: only while the install has
    that ETag (else 412, nothing stored); without it the last write wins."""
    install = hub.configure_install(
        tenant.id,
        plugin_id,
        enabled=data.enabled,
        config=data.config,
        actor=caller.actor,
        admin=caller.is_admin,
        precondition=install_precondition(hub, tenant.id, plugin_id, if_match),
    )
    etag = install_etag(install, hub.plugins.manifest(plugin_id).secret_fields())
    return Response(_install_out(hub, tenant.id, plugin_id), headers={"ETag": etag})


@get(
    "/{plugin_id:str}",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    response_headers=[ETAG_HEADER],
    summary="An install",
)
def get_install(hub: Hub, tenant: TenantInfo, plugin_id: PluginId) -> Response[InstallOut]:
    """``{plugin_id, enabled, config, status, warnings}``; secrets as ``"********"``. The
    ETag is read first: if an edit lands in between, the next ``If-Match`` fails (412)
    rather than overwrite what this answer does not show."""
    etag = read_install_etag(hub, tenant.id, plugin_id)
    out = _install_out(hub, tenant.id, plugin_id)
    return Response(out, headers={"ETag": etag} if etag else None)


@post(
    "/{plugin_id:str}/test-connection",
    status_code=200,
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    summary="Test an install's connection",
)
def test_connection(
    hub: Hub, tenant: TenantInfo, caller: Caller, plugin_id: PluginId
) -> ConnectionOut:
    """Ask the plugin to reach its vendor with the stored config: ``{ok, detail}``."""
    result = hub.test_connection(tenant.id, plugin_id, actor=caller.actor)
    return ConnectionOut(ok=result.ok, detail=result.detail)


@post(
    "/{plugin_id:str}/jobs/{job:str}",
    status_code=202,
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    opt=links(
        Link(f"GET {RUN_PATH}", {"slug": "$request.path.slug", "run_id": "$response.body#/run_id"}),
        Link(
            f"GET {RUN_PATH}/report",
            {"slug": "$request.path.slug", "run_id": "$response.body#/run_id"},
        ),
    ),
    summary="Queue a run now",
)
def queue_job(
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: PluginId,
    job: JobName,
    data: JobIn | None = None,
) -> Response[QueuedRun]:
    """Queue a manual run: 202 ``{run_id}``, or 409 with the reason it cannot run."""
    options = data.options if data is not None else {}
    run = hub.queue_job(tenant.id, plugin_id, job, options=options, actor=caller.actor)
    assert run.id is not None
    return Response(QueuedRun(run_id=run.id), status_code=202)


def build_catalog_router() -> Router:
    """``GET /plugins`` (mounted under ``/api/v1``)."""
    return Router("/", route_handlers=[list_plugins])


def build_installs_router() -> Router:
    """``/plugins`` under ``/api/v1/tenants/{slug}``."""
    return Router(
        "/plugins",
        route_handlers=[list_installs, put_install, get_install, test_connection, queue_job],
        tags=["installs"],
    )
