"""The plugin manager: built-in plugins, entry points, and a typed facade over ``pm.hook``.

pluggy's manager is process-wide; tenancy is applied at call time: a call for one install
goes to that install's plugin only (a cached ``subset_hook_caller``), so a tenant never
reaches a plugin it has not enabled. This module is the only caller of ``pm.hook``.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import TYPE_CHECKING, Any

import pluggy

from hub.core.errors import NotFound
from hub.core.records import (
    ActionResult,
    ConfigProblem,
    ConnectedAccount,
    ConnectGrant,
    ConnectionResult,
    ConnectRequest,
    JobSpec,
    OrderView,
    PluginManifest,
    ScheduleSpec,
)
from hub.plugin import spec

if TYPE_CHECKING:
    from hub.plugin.context import JobContext, PluginContext

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "JOB_HOOKS",
    "PluginManager",
    "describe_manifest",
    "get_plugin_manager",
]

ENTRY_POINT_GROUP = "hub.plugins"
# Built-in plugins, registered by module name so the core imports no plugin directly.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.lightspeed_dms.plugin",
    "plugins.lightspeed_pos.plugin",
    "plugins.lightspeed_retail.plugin",
)

# The hook that runs a job of each kind.
JOB_HOOKS = {
    "inventory_import": "hub_inventory_import",
    "inventory_export": "hub_inventory_export",
    "order_export": "hub_order_export",
    "order_import": "hub_order_import",
    "catalog_export": "hub_catalog_export",
}


class PluginManager:
    """Typed access to the registered plugins. Core code calls these methods, never
    ``pm.hook`` directly."""

    def __init__(
        self, *, autoload: bool | None = None, builtins: tuple[str, ...] = BUILTIN_PLUGINS
    ):
        self.pm = pluggy.PluginManager("hub")
        self.pm.add_hookspecs(spec)
        self._manifests: dict[str, PluginManifest] = {}
        for module_name in builtins:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name and module_name.startswith(exc.name):
                    continue  # a built-in not shipped in this build
                raise
            self.register(module)
        if autoload is None:
            autoload = os.environ.get("HUB_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0", "false")
        if autoload:
            self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            for plugin in self.pm.get_plugins():
                if plugin not in {self.pm.get_plugin(pid) for pid in self._manifests}:
                    self._adopt(plugin)

    # -- registration -------------------------------------------------------------------

    def register(self, plugin: object) -> PluginManifest:
        """Register a plugin object or module; its manifest id becomes its name."""
        name = self.pm.register(plugin)
        manifest = self._manifest_of(plugin)
        if manifest is None:
            self.pm.unregister(plugin)
            raise ValueError(f"plugin {plugin!r} has no hub_plugin_manifest")
        if manifest.id in self._manifests:
            self.pm.unregister(plugin)
            raise ValueError(f"a plugin with id {manifest.id!r} is registered already")
        if name != manifest.id:
            self.pm.unregister(plugin)
            self.pm.register(plugin, name=manifest.id)
        self._manifests[manifest.id] = manifest
        self._callers.cache_clear()
        return manifest

    def unregister(self, plugin_id: str) -> None:
        plugin = self.pm.get_plugin(plugin_id)
        if plugin is not None:
            self.pm.unregister(plugin)
        self._manifests.pop(plugin_id, None)
        self._callers.cache_clear()

    def _adopt(self, plugin: object) -> None:
        manifest = self._manifest_of(plugin)
        if manifest is not None and manifest.id not in self._manifests:
            self.pm.unregister(plugin)
            self.pm.register(plugin, name=manifest.id)
            self._manifests[manifest.id] = manifest

    @staticmethod
    def _manifest_of(plugin: object) -> PluginManifest | None:
        impl = getattr(plugin, "hub_plugin_manifest", None)
        return impl() if callable(impl) else None

    # -- what is installed --------------------------------------------------------------

    def manifests(self) -> list[PluginManifest]:
        return [self._manifests[k] for k in sorted(self._manifests)]

    def manifest(self, plugin_id: str) -> PluginManifest:
        try:
            return self._manifests[plugin_id]
        except KeyError:
            raise NotFound(f"no plugin {plugin_id!r}") from None

    def describe(self) -> list[dict[str, Any]]:
        """What is installed, for ``hub plugins list`` and ``GET /api/v1/plugins`` alike."""
        return [describe_manifest(m) for m in self.manifests()]

    # -- per-install calls --------------------------------------------------------------

    @cache  # noqa: B019  (one manager per process; cleared on (un)registration)
    def _callers(self, plugin_id: str, hook: str) -> Any:
        others = [p for name, p in self.pm.list_name_plugin() if name != plugin_id]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    def _call(self, plugin_id: str, hook: str, **kwargs: Any) -> Any:
        self.manifest(plugin_id)
        return self._callers(plugin_id, hook)(**kwargs)

    def validate_config(self, ctx: PluginContext) -> list[ConfigProblem]:
        return list(self._call(ctx.plugin_id, "hub_validate_config", ctx=ctx) or [])

    def install_warnings(self, ctx: PluginContext) -> list[str]:
        return list(self._call(ctx.plugin_id, "hub_install_warnings", ctx=ctx) or [])

    def install_status(self, ctx: PluginContext) -> str | None:
        result = self._call(ctx.plugin_id, "hub_install_status", ctx=ctx)
        return str(result) if result is not None else None

    def test_connection(self, ctx: PluginContext) -> ConnectionResult:
        result = self._call(ctx.plugin_id, "hub_test_connection", ctx=ctx)
        if result is None:
            return ConnectionResult(ok=False, detail="this plugin cannot test its connection")
        return result  # type: ignore[no-any-return]

    def job_schedule(self, ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
        result = self._call(ctx.plugin_id, "hub_job_schedule", ctx=ctx, job=job)
        return result if result is not None else job.default_schedule  # type: ignore[no-any-return]

    def job_refusal(self, ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
        result = self._call(ctx.plugin_id, "hub_job_refusal", ctx=ctx, job=job, options=options)
        return str(result) if result else None

    def order_exportable(self, ctx: PluginContext, order: OrderView) -> bool:
        return bool(self._call(ctx.plugin_id, "hub_order_exportable", ctx=ctx, order=order))

    def connect_start(self, ctx: PluginContext, request: ConnectRequest) -> str:
        """The vendor's authorize URL for ``request`` (the plugin must connect)."""
        url = self._call(ctx.plugin_id, "hub_connect_start", ctx=ctx, request=request)
        if not url:
            raise NotFound(f"the {ctx.plugin_id} plugin does not connect through OAuth")
        return str(url)

    def connect_finish(self, ctx: PluginContext, grant: ConnectGrant) -> ConnectedAccount:
        """Exchange the code and check the account; raises ``ConnectRefused`` to refuse."""
        account = self._call(ctx.plugin_id, "hub_connect_finish", ctx=ctx, grant=grant)
        if account is None:
            raise NotFound(f"the {ctx.plugin_id} plugin does not connect through OAuth")
        return account  # type: ignore[no-any-return]

    def disconnect(self, ctx: PluginContext) -> None:
        self._call(ctx.plugin_id, "hub_disconnect", ctx=ctx)

    def run_action(self, ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
        """Run a declared action; 404 for an action the manifest does not declare."""
        if self.manifest(ctx.plugin_id).action(action) is None:
            raise NotFound(f"plugin {ctx.plugin_id!r} has no action {action!r}")
        result = self._call(
            ctx.plugin_id, "hub_plugin_action", ctx=ctx, action=action, params=params
        )
        if result is None:
            raise RuntimeError(f"plugin {ctx.plugin_id!r} did not answer action {action!r}")
        return result  # type: ignore[no-any-return]

    def run_job(self, ctx: JobContext) -> None:
        """Run ``ctx.job`` through the hook of its kind (inventory import, order export …)."""
        spec = self.manifest(ctx.plugin_id).job(ctx.job)
        if spec is None:
            raise NotFound(f"plugin {ctx.plugin_id!r} has no job {ctx.job!r}")
        handled = self._call(ctx.plugin_id, JOB_HOOKS[spec.kind.value], ctx=ctx)
        if not handled:
            raise RuntimeError(f"plugin {ctx.plugin_id!r} did not run job {ctx.job!r}")

    def http_routes(self) -> list[Any]:
        routes: list[Any] = []
        for result in self.pm.hook.hub_http_routes():
            routes.extend(result or [])
        return routes


def describe_manifest(manifest: PluginManifest) -> dict[str, Any]:
    return {
        "id": manifest.id,
        "title": manifest.title,
        "version": manifest.version,
        "description": manifest.description,
        "capabilities": [c.value for c in manifest.capabilities],
        "jobs": [
            {
                "name": j.name,
                "title": j.title,
                "kind": j.kind.value,
                "default_schedule": j.default_schedule.model_dump() if j.default_schedule else None,
                "on_change": j.on_change,
            }
            for j in manifest.jobs
        ],
        "actions": [a.model_dump() for a in manifest.actions],
        "connects": manifest.connects,
        "config_schema": manifest.config_model.model_json_schema(),
    }


_MANAGER: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (built on first use)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER
