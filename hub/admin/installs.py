"""An install's page: the config form generated from the plugin's schema, status and warnings,
test connection, connect / disconnect, the plugin's actions, its jobs ("Queue now"), and a
page of its own for each table of the config (DMS supplier codes, POS shops …).

Every operation is the API's (``configure_install``, ``install_view``, ``test_connection``,
``connect``, ``disconnect``, ``run_action``, ``queue_job``): the page only renders and reads
forms. Validation errors come back as the API's ``fields`` and are shown beside their inputs;
nothing is saved then.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from hub.admin import forms
from hub.admin._auth import PageNotFound, hub_of
from hub.admin._render import ADMIN, blocking, page, posted_form, redirect, seg
from hub.api._auth import Caller
from hub.core import catalog, runs, schedule
from hub.core.crypto import SecretDecryptError
from hub.core.errors import HubError, NotFound
from hub.core.hub import Hub
from hub.core.installs import get_install
from hub.core.models import JobRun
from hub.core.records import ActionSpec, PluginManifest, ScheduleSpec
from hub.core.tenants import TenantInfo
from hub.core.types import utcnow
from hub.plugin.manager import describe_manifest

__all__ = [
    "disconnect",
    "install_field_page",
    "install_page",
    "queue_job",
    "run_action_get",
    "run_action_post",
    "save_install",
    "save_install_field",
    "start_connect",
    "test_connection",
]

log = logging.getLogger("hub.admin")

NEXT_SLOTS = 5
PENDING_ACTION = "pending-mappings"  # the items of a stock master that do not sync
OPTIONS_TTL = 60.0  # seconds an x-hub-options answer is reused (the vendor's rate limit)
_OptionKey = tuple[int, str, str, str]
_option_cache: weakref.WeakKeyDictionary[Hub, dict[_OptionKey, tuple[float, forms.Options]]] = (
    weakref.WeakKeyDictionary()
)
_option_lock = threading.Lock()
STATUS_TEXT = {
    "ok": "OK",
    "disabled": "Disabled",
    "setup_incomplete": "Setup incomplete",
    "reconnect_needed": "Reconnect needed",
    "not_connected": "Not connected",
    "secrets_unreadable": "Secrets unreadable",
    "not_installed": "Not set up",
}


@dataclass
class JobPanel:
    """A job as the install page shows it: its effective schedule, the next slots in the
    tenant's time zone (with the disabled days), why it cannot run now, its last runs."""

    name: str
    title: str
    kind: str
    schedule: ScheduleSpec | None
    next_slots: list[tuple[str, str | None]] = field(default_factory=list)
    refusal: str | None = None
    recent: list[JobRun] = field(default_factory=list)
    on_change: bool = False


def _manifest(hub: Hub, plugin_id: str) -> PluginManifest:
    try:
        return hub.plugins.manifest(plugin_id)
    except NotFound:
        raise PageNotFound(f"no plugin {plugin_id!r}") from None


def _view(hub: Hub, tenant_id: int, plugin_id: str) -> dict[str, Any] | None:
    try:
        return hub.install_view(tenant_id, plugin_id)
    except NotFound:
        return None


def _choices(hub: Hub, tenant_id: int) -> dict[str, list[tuple[str, str]]]:
    """Choices a schema may ask for with ``x-choices``."""
    with hub.db.read() as session:
        locations = catalog.locations_of(session, tenant_id)
    return {
        "locations": [
            (loc.code, f"{loc.code} — {loc.name}" if loc.name else loc.code) for loc in locations
        ]
    }


def _option_answers(
    hub: Hub,
    tenant: TenantInfo,
    viewer: Caller,
    manifest: PluginManifest,
    view: dict[str, Any] | None,
    names: list[str],
) -> dict[str, forms.Options]:
    """The answers of the actions the form's ``x-hub-options`` fields name (GET, JSON), run
    as the API runs them (``run_action``). Why there is no answer (not set up, not
    connected, the vendor's refusal) is the answer's ``problem``: the field stays an input
    and says so. Each answer is a vendor call: a connected install's answers are reused for
    ``OPTIONS_TTL`` seconds, and after one failure the page asks no more (the vendor that did
    not answer one list would keep every later one waiting as long)."""
    connection = (view or {}).get("connection") or {}
    if view is None:
        blocked = f"{manifest.title} is not set up yet"
    elif manifest.connects and not connection.get("connected"):
        blocked = f"{manifest.title} is not connected"
    elif not hasattr(hub, "run_action"):
        blocked = "actions cannot be run in this hub"
    else:
        blocked = ""
    account = f"{connection.get('account_id')}@{connection.get('connected_at')}"
    answers: dict[str, forms.Options] = {}
    for name in names:
        spec = manifest.action(name)
        if spec is None or spec.method != "GET" or spec.returns != "json":
            log.warning(
                "%s: x-hub-options names %r, not a GET action answering JSON", manifest.id, name
            )
            answers[name] = forms.Options(problem=f"{name} is not an action that lists records")
            continue
        if blocked:
            answers[name] = forms.Options(problem=blocked)
            continue
        key = (tenant.id, manifest.id, name, account)
        with _option_lock:
            cached = _option_cache.get(hub, {}).get(key)
        if cached is not None and cached[0] > time.monotonic():
            answers[name] = cached[1]
            continue
        try:
            result = hub.run_action(tenant.id, manifest.id, name, {}, actor=viewer.actor)
        except HubError as exc:
            answers[name] = forms.Options(problem=exc.detail)
            blocked = exc.detail
            continue
        except Exception:
            log.exception("%s: the %s action failed", manifest.id, name)
            answers[name] = forms.Options(problem=f"the {spec.title} action failed (logged)")
            blocked = answers[name].problem
            continue
        answers[name] = forms.Options.of(result.data)
        if not answers[name].problem:
            with _option_lock:
                _option_cache.setdefault(hub, {})[key] = (
                    time.monotonic() + OPTIONS_TTL,
                    answers[name],
                )
    return answers


def _secrets_set(manifest: PluginManifest, view: dict[str, Any] | None) -> set[str]:
    shown = (view or {}).get("config") or {}
    return {name for name in manifest.secret_fields() if shown.get(name) not in (None, "")}


def _jobs(hub: Hub, tenant: TenantInfo, manifest: PluginManifest) -> list[JobPanel]:
    """The jobs with the schedule the core runs them on (``job_schedule``) and next slots."""
    with hub.db.read() as session:
        install = get_install(session, tenant.id, manifest.id)
    panels = []
    try:
        ctx = hub.context(install) if install is not None else None
    except SecretDecryptError:
        ctx = None
    now = utcnow()
    for job in manifest.jobs:
        panel = JobPanel(job.name, job.title, job.kind.value, job.default_schedule)
        panel.on_change = job.on_change
        if ctx is not None and install is not None:
            panel.schedule = hub.plugins.job_schedule(ctx, job)
            panel.refusal = hub.plugins.job_refusal(ctx, job.name, {})
            with hub.db.read() as session:
                panel.recent = list(
                    reversed(runs.job_history(session, install.id or 0, job.name, limit=5))
                )
        if panel.schedule is not None and panel.schedule.enabled:
            for slot in schedule.slots_between(
                panel.schedule, tenant.tz, now, now + timedelta(days=15)
            ):
                panel.next_slots.append((f"{slot.at:%a %Y-%m-%d %H:%M}", slot.skipped_reason))
                if len(panel.next_slots) >= NEXT_SLOTS:
                    break
        panels.append(panel)
    return panels


def _table_fields(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """The top-level fields that are tables (each gets an editor page of its own)."""
    out = []
    for item in forms.build_form(schema, {}, is_admin=True):
        if item.kind in ("table", "keyvalue"):
            out.append((item.name, item.label))
    return out


def _install_page(
    request: Request[Any, Any, Any],
    plugin_id: str,
    *,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    enabled: bool | None = None,
    errors: dict[str, str] | None = None,
    banner: list[str] | None = None,
    new_rows: dict[str, int] | None = None,
    only: str | None = None,
) -> Template:
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    manifest = _manifest(hub, plugin_id)
    described = describe_manifest(manifest)
    schema = described["config_schema"]
    view = _view(hub, tenant.id, plugin_id)
    shown = values if values is not None else dict((view or {}).get("config") or {})
    limit = [only] if only else None
    titles = {a.name: a.title for a in manifest.actions}
    fields = forms.build_form(
        schema,
        shown,
        is_admin=viewer.is_admin,
        errors=errors,
        secrets_set=_secrets_set(manifest, view),
        choices=_choices(hub, tenant.id),
        only=limit,
        new_rows=new_rows,
        options=_option_answers(
            hub, tenant, viewer, manifest, view, forms.option_actions(schema, limit)
        ),
        action_titles=titles,
    )
    _placed, loose = forms.errors_by_field(fields, errors or {})
    notice = None
    connected = request.query_params.get("connected")
    if connected == "1":
        notice = ("ok", "Connected.")
    elif connected == "0":
        notice = ("error", f"Not connected: {request.query_params.get('reason') or 'refused'}.")
    context: dict[str, Any] = {
        "manifest": manifest,
        "view": view,
        "status": (view or {}).get("status", "not_installed"),
        "status_text": STATUS_TEXT,
        "fields": fields,
        "enabled": enabled if enabled is not None else bool((view or {}).get("enabled", True)),
        "banner": [*(banner or []), *loose],
        "notice": notice,
        "base": f"{ADMIN}/tenants/{seg(tenant.slug)}/plugins/{seg(plugin_id)}",
        "can_connect": hasattr(hub, "connect") and hasattr(hub, "disconnect"),
        "can_run_actions": hasattr(hub, "run_action"),
        # Sales channels publish products through listings (the API's …/listings).
        "has_listings": any(
            c.value in ("catalog_export", "inventory_export") for c in manifest.capabilities
        ),
        "has_pending": manifest.action(PENDING_ACTION) is not None,
    }
    if only:
        target = next((f for f in fields if f.name == only), None)
        if target is None:
            raise PageNotFound(f"no field {only!r}")
        refresh = [
            spec
            for spec in (manifest.action(n) for n in forms.refresh_actions([target]))
            if spec is not None
        ]
        return page(
            request,
            "install_field.html",
            status_code=status_code,
            title=f"{target.label} — {manifest.title}",
            target=target,
            refresh=refresh,
            here=f"{context['base']}/fields/{seg(only)}",
            **context,
        )
    return page(
        request,
        "install.html",
        status_code=status_code,
        title=manifest.title,
        jobs=_jobs(hub, tenant, manifest) if view is not None else [],
        tables=_table_fields(schema),
        **context,
    )


@get("/plugins/{plugin_id:str}", sync_to_thread=True, include_in_schema=False)
def install_page(request: Request[Any, Any, Any], plugin_id: str) -> Template:
    """The install's page (a plugin not set up yet: its form with the defaults)."""
    return _install_page(request, plugin_id)


@get("/plugins/{plugin_id:str}/fields/{name:str}", sync_to_thread=True, include_in_schema=False)
def install_field_page(request: Request[Any, Any, Any], plugin_id: str, name: str) -> Template:
    """One field of the config on a page of its own (the seed's "Manage Supplier Codes")."""
    return _install_page(request, plugin_id, only=name)


def _add_row_target(form: Any) -> str | None:
    target = form.get("_add_row")
    return str(target) if target else None


async def _save(request: Request[Any, Any, Any], plugin_id: str, only: str | None) -> Response[Any]:
    form = await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    manifest = _manifest(hub, plugin_id)
    schema = describe_manifest(manifest)["config_schema"]
    view = await blocking(lambda: _view(hub, tenant.id, plugin_id))
    current = dict((view or {}).get("config") or {})
    enabled = bool(form.get("enabled")) if only is None else bool((view or {}).get("enabled"))
    config, problems = forms.read_form(
        schema, form, current, is_admin=viewer.is_admin, only=[only] if only else None
    )
    add_row = _add_row_target(form)
    if add_row is not None:
        # "Add a row" without JavaScript: the same form again, one blank row more.
        extra = int(str(form.get(f"{add_row}._extra") or "1") or 1) + 1
        return await blocking(
            lambda: _install_page(
                request,
                plugin_id,
                values=config,
                enabled=enabled,
                new_rows={add_row: min(extra, 20)},
                only=only,
            )
        )
    if problems:
        errors = {p.path: p.message for p in problems}
        return await blocking(
            lambda: _install_page(
                request,
                plugin_id,
                status_code=422,
                values=config,
                enabled=enabled,
                errors=errors,
                only=only,
            )
        )
    try:
        await blocking(
            lambda: hub.configure_install(
                tenant.id,
                plugin_id,
                enabled=enabled,
                config=config,
                actor=viewer.actor,
                admin=viewer.is_admin,
            )
        )
    except HubError as exc:
        errors = {str(k): str(v) for k, v in (exc.fields or {}).items()}
        status, detail = exc.status, exc.detail
        return await blocking(
            lambda: _install_page(
                request,
                plugin_id,
                status_code=status,
                values=config,
                enabled=enabled,
                errors=errors,
                banner=[detail],
                only=only,
            )
        )
    base = f"{ADMIN}/tenants/{seg(tenant.slug)}/plugins/{seg(plugin_id)}"
    return redirect(request, base + (f"/fields/{seg(only)}" if only else ""), ("ok", "Saved."))


@post("/plugins/{plugin_id:str}", include_in_schema=False)
async def save_install(request: Request[Any, Any, Any], plugin_id: str) -> Response[Any]:
    """Save the config form (the API's PUT); errors beside their fields, nothing saved."""
    return await _save(request, plugin_id, None)


@post("/plugins/{plugin_id:str}/fields/{name:str}", include_in_schema=False)
async def save_install_field(
    request: Request[Any, Any, Any], plugin_id: str, name: str
) -> Response[Any]:
    """Save one field of the config; every other field keeps its stored value."""
    return await _save(request, plugin_id, name)


def _back(tenant: TenantInfo, plugin_id: str, anchor: str = "") -> str:
    return f"{ADMIN}/tenants/{seg(tenant.slug)}/plugins/{seg(plugin_id)}" + (
        f"#{anchor}" if anchor else ""
    )


@post("/plugins/{plugin_id:str}/test-connection", include_in_schema=False)
async def test_connection(request: Request[Any, Any, Any], plugin_id: str) -> Redirect:
    """Ask the plugin to reach its vendor with the stored config."""
    await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    try:
        result = await blocking(
            lambda: hub.test_connection(tenant.id, plugin_id, actor=viewer.actor)
        )
    except HubError as exc:
        return redirect(request, _back(tenant, plugin_id), ("error", exc.detail))
    level = "ok" if result.ok else "error"
    word = "Connection OK" if result.ok else "Connection failed"
    return redirect(
        request, _back(tenant, plugin_id, "status"), (level, f"{word}: {result.detail}")
    )


@post("/plugins/{plugin_id:str}/connect", include_in_schema=False)
async def start_connect(request: Request[Any, Any, Any], plugin_id: str) -> Redirect:
    """Start the OAuth connect: off to the vendor's consent page, back here afterwards."""
    await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    try:
        url = await blocking(
            lambda: hub.connect(
                tenant.id, plugin_id, viewer.actor, return_to=_back(tenant, plugin_id)
            )
        )
    except HubError as exc:
        return redirect(request, _back(tenant, plugin_id), ("error", exc.detail))
    return Redirect(path=url, status_code=303)


@post("/plugins/{plugin_id:str}/disconnect", include_in_schema=False)
async def disconnect(request: Request[Any, Any, Any], plugin_id: str) -> Redirect:
    """Drop the install's tokens (status: not connected)."""
    await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    try:
        await blocking(lambda: hub.disconnect(tenant.id, plugin_id, viewer.actor))
    except HubError as exc:
        return redirect(request, _back(tenant, plugin_id), ("error", exc.detail))
    return redirect(request, _back(tenant, plugin_id), ("ok", "Disconnected."))


@post("/plugins/{plugin_id:str}/jobs/{job:str}", include_in_schema=False)
async def queue_job(request: Request[Any, Any, Any], plugin_id: str, job: str) -> Redirect:
    """Queue a run now ("even on a disabled day": ``force``); then watch it run."""
    form = await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    options = {"force": True} if form.get("force") else {}
    try:
        run = await blocking(
            lambda: hub.queue_job(tenant.id, plugin_id, job, options=options, actor=viewer.actor)
        )
    except HubError as exc:
        return redirect(
            request, _back(tenant, plugin_id, "jobs"), ("error", f"Not queued: {exc.detail}")
        )
    return redirect(
        request,
        f"{ADMIN}/tenants/{seg(tenant.slug)}/runs/{run.id}",
        ("ok", f"Run {run.id} queued."),
    )


# -- actions -----------------------------------------------------------------------------


def _action(hub: Hub, plugin_id: str, name: str) -> ActionSpec:
    spec = _manifest(hub, plugin_id).action(name)
    if spec is None:
        raise PageNotFound(f"plugin {plugin_id!r} has no action {name!r}")
    return spec


def _result_table(data: Any) -> tuple[list[str], list[list[str]]] | None:
    """A JSON result as a table: a list of objects (columns: their keys) or one object."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns: list[str] = []
        for row in data:
            columns.extend(k for k in row if k not in columns)
        return columns, [[forms.display(row.get(c)) for c in columns] for row in data]
    if isinstance(data, dict):
        return ["name", "value"], [[str(k), forms.display(v)] for k, v in data.items()]
    return None


def _summary(data: Any) -> str:
    """A JSON answer in a sentence: its plain values (``added=1, updated=0``)."""
    if isinstance(data, dict):
        plain = [f"{k}={v}" for k, v in data.items() if not isinstance(v, (dict, list))]
        return ", ".join(plain) or "done"
    return "done" if data is None or isinstance(data, list) else forms.display(data)


def _run_action(
    request: Request[Any, Any, Any],
    plugin_id: str,
    name: str,
    method: str,
    params: dict[str, Any],
    then: str | None = None,
) -> Response[Any]:
    """Run the action; ``then`` (a page of this install) is where a JSON answer goes, as a
    message, instead of its own page (the field page's "Re-download shops")."""
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    spec = _action(hub, plugin_id, name)
    if spec.method != method:
        raise PageNotFound(f"the {name} action is run with {spec.method}")
    try:
        result = hub.run_action(tenant.id, plugin_id, name, params, actor=viewer.actor)
    except HubError as exc:
        return redirect(
            request,
            then or _back(tenant, plugin_id, "actions"),
            ("error", f"{spec.title}: {exc.detail}"),
        )
    if then and spec.returns == "json":
        return redirect(request, then, ("ok", f"{spec.title}: {_summary(result.data)}."))
    if spec.returns == "redirect" and result.redirect:
        return Redirect(path=result.redirect, status_code=303)
    if spec.returns == "csv" and (text := result.csv_text()) is not None:
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{plugin_id}-{name}.csv"',
                "Cache-Control": "no-store",
            },
        )
    data = result.data
    return page(
        request,
        "action_result.html",
        title=spec.title,
        spec=spec,
        manifest=_manifest(hub, plugin_id),
        table=_result_table(data),
        data=data,
        data_text=forms.display(data) if not isinstance(data, (list, dict)) else "",
        base=_back(tenant, plugin_id),
    )


@get("/plugins/{plugin_id:str}/actions/{name:str}", sync_to_thread=True, include_in_schema=False)
def run_action_get(request: Request[Any, Any, Any], plugin_id: str, name: str) -> Response[Any]:
    """Run a GET action (its parameters from the query); JSON as a table, CSV as a file."""
    params = {k: v for k, v in request.query_params.items() if v != ""}
    return _run_action(request, plugin_id, name, "GET", params)


@post("/plugins/{plugin_id:str}/actions/{name:str}", include_in_schema=False)
async def run_action_post(
    request: Request[Any, Any, Any], plugin_id: str, name: str
) -> Response[Any]:
    """Run a POST action (audited)."""
    form = await posted_form(request)
    params = {k: v for k, v in form.items() if not k.startswith("_") and v != ""}
    then = str(form.get("_next") or "")
    mine = _back(request.state.tenant, plugin_id) + "/"
    if not then.startswith(mine) or any(c in then for c in ("\\", "//", "?", "#")):
        then = ""  # only a page of this install
    return await blocking(
        lambda: _run_action(request, plugin_id, name, "POST", params, then or None)
    )
