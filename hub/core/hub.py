"""The hub: settings, database, secrets, plugins and the operations that span them.

The REST API, the CLI, the workers and the scheduler all go through one :class:`Hub`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel
from sqlmodel import col, select

from hub.core import audit, exports, installs, orders, outbound, runs
from hub.core.crypto import SecretBox, SecretDecryptError
from hub.core.db import Database
from hub.core.errors import AdminOnly, HubError, Invalid, NotFound, Refused
from hub.core.models import JobRun, PluginInstall, Tenant
from hub.core.records import ActionResult, Capability, ConnectionResult, OrderView
from hub.core.tenants import TenantInfo
from hub.core.types import utcnow
from hub.core.waiting import WouldWait, no_wait
from hub.plugin.context import JobContext, PluginContext, TransientJobError
from hub.plugin.manager import PluginManager
from hub.settings import Settings

__all__ = ["Hub"]

log = logging.getLogger("hub")
T = TypeVar("T")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# What identifies the stored state of an install and its tenant: every change to either moves
# its updated_at. Plain SQL, compared as stored: it runs on every request a vendor makes.
_CONTEXT_STAMP = (
    "SELECT i.id, i.updated_at, i.enabled, t.id, t.updated_at"
    " FROM plugin_installs i JOIN tenants t ON t.id = i.tenant_id"
    " WHERE t.slug = :slug AND i.plugin_id = :plugin"
)


class Hub:
    """Everything a process of the hub needs, built from the settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        plugins: PluginManager | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or Database(settings.effective_database_url)
        self.box = SecretBox(settings.secret_keys)
        self.plugins = plugins or PluginManager(autoload=not settings.disable_plugin_autoload)
        self.enqueue: Callable[[int], None] = lambda run_id: None
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self._configs: dict[tuple[Any, ...], BaseModel] = {}
        self._contexts: dict[tuple[str, str], tuple[tuple[Any, ...], PluginContext]] = {}

    async def run_on_loop_or_thread(self, fn: Callable[[], T]) -> T:
        """``fn()`` for an async request handler: run at once on the event loop when it never
        has to wait, else in a worker thread (see :mod:`hub.core.waiting`). On SQLite a
        short request costs about half the CPU this way; on PostgreSQL every query is
        network I/O, so ``fn`` always goes to a thread. ``fn`` may run twice (the first run
        stopped by ``WouldWait`` before it changed anything)."""
        if self.db.is_sqlite:
            try:
                with no_wait():
                    return fn()
            except WouldWait:
                pass
        return await anyio.to_thread.run_sync(fn)

    # -- tenants --------------------------------------------------------------------------

    def tenant_info(self, tenant_id: int) -> TenantInfo:
        with self.db.read() as session:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                raise NotFound(f"no tenant {tenant_id}")
            return TenantInfo.of(tenant)

    # -- installs -------------------------------------------------------------------------

    def context(
        self,
        install: PluginInstall,
        *,
        config: BaseModel | None = None,
        tenant: TenantInfo | None = None,
    ) -> PluginContext:
        manifest = self.plugins.manifest(install.plugin_id)
        assert install.id is not None
        if config is None:
            # Decrypting and validating a config costs about a millisecond: remember it per
            # stored version (every config or secret change moves updated_at).
            key = (install.id, install.updated_at, tuple(sorted(install.secrets or {})))
            config = self._configs.get(key)
            if config is None:
                config = installs.config_model_of(manifest, install, self.box)
                if len(self._configs) > 1000:
                    self._configs.clear()
                self._configs[key] = config
        return PluginContext(
            self,
            tenant or self.tenant_info(install.tenant_id),
            install.id,
            install.plugin_id,
            config,
            enabled=install.enabled,
        )

    def context_for(self, tenant_slug: str, plugin_id: str) -> PluginContext | None:
        """The context of a tenant's install, found by slug (for routes vendors call, which
        carry the tenant in their path); None when the tenant or the install does not exist.
        Raises :class:`SecretDecryptError` when its secrets cannot be read.

        A vendor polling every few seconds asks for the same context over and over: it is
        kept per (slug, plugin) and reused while one indexed query finds the install and its
        tenant unchanged (every change to either moves its ``updated_at``)."""
        key = (tenant_slug, plugin_id)
        with self.db.lane() as lane:
            stamp = lane.row(_CONTEXT_STAMP, slug=tenant_slug, plugin=plugin_id)
        if stamp is None:
            self._contexts.pop(key, None)
            return None
        cached = self._contexts.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        # Read after the stamp: should the install change in between, the context is newer
        # than its stamp, and the next request builds it again.
        with self.db.read() as session:
            install = session.get(PluginInstall, stamp[0])
            tenant = session.get(Tenant, stamp[3])
        if install is None or tenant is None:  # deleted meanwhile
            return None
        ctx = self.context(install, tenant=TenantInfo.of(tenant))
        if len(self._contexts) > 10_000:
            self._contexts.clear()
        self._contexts[key] = (stamp, ctx)
        return ctx

    def configure_install(
        self,
        tenant_id: int,
        plugin_id: str,
        *,
        enabled: bool,
        config: dict[str, Any],
        actor: str,
        admin: bool = False,
    ) -> PluginInstall:
        """Validate and store an install's config (422 naming the fields), audited.

        ``admin`` says the caller may change admin-only fields (``x-admin-only``: vendor
        base URLs); otherwise changing one is refused (403 ``admin_only``; sending the
        stored value again or leaving it out is fine). A changed value, and every value an
        admin saves, must pass the outbound rule (:mod:`hub.core.outbound`), else 422.
        Nothing is stored when either refuses."""
        manifest = self.plugins.manifest(plugin_id)
        with self.db.read() as session:
            existing = installs.get_install(session, tenant_id, plugin_id)
        model = installs.parse_config(manifest, existing, config, self.box)
        changed_admin_only = installs.admin_only_changes(manifest, existing, model)
        if changed_admin_only and not admin:
            names = ", ".join(changed_admin_only)
            raise AdminOnly(
                f"only an admin key may change {names} of the {plugin_id} config",
                fields={f"config.{name}": "admin only" for name in changed_admin_only},
            )
        refused = {}
        for name in manifest.admin_only_fields():
            value = getattr(model, name, None)
            if value and (admin or name in changed_admin_only):
                reason = outbound.vendor_url_refusal(str(value), self.settings)
                if reason:
                    refused[f"config.{name}"] = reason
        if refused:
            raise Invalid(f"the {plugin_id} config is not valid", fields=refused)
        probe = existing or PluginInstall(id=0, tenant_id=tenant_id, plugin_id=plugin_id)
        ctx = self.context(probe, config=model)
        problems = self.plugins.validate_config(ctx)
        if problems:
            raise Invalid(
                f"the {plugin_id} config is not valid",
                fields={f"config.{p.field}": p.message for p in problems},
            )
        with self.db.session() as session:
            current = installs.get_install(session, tenant_id, plugin_id)
            install, changed = installs.save_install(
                session, self.box, manifest, tenant_id, current, enabled, model
            )
            audit.record(
                session,
                actor=actor,
                action="install.configured",
                tenant_id=tenant_id,
                target=plugin_id,
                details={"changed": changed, "enabled": enabled},
            )
        return install

    def install_view(self, tenant_id: int, plugin_id: str) -> dict[str, Any]:
        manifest = self.plugins.manifest(plugin_id)
        with self.db.read() as session:
            install = installs.require_install(session, tenant_id, plugin_id)
        status = install.status
        try:
            ctx = self.context(install)
        except SecretDecryptError as exc:
            return {
                "plugin_id": plugin_id,
                "enabled": install.enabled,
                "config": installs.masked_config(manifest, install),
                "status": "secrets_unreadable",
                "status_detail": exc.detail,
                "warnings": [exc.detail + "; enter the secrets again"],
                "updated_at": install.updated_at,
            }
        if status == "ok":
            status = self.plugins.install_status(ctx) or status
        if not install.enabled:
            status = "disabled"
        return {
            "plugin_id": plugin_id,
            "enabled": install.enabled,
            "config": installs.masked_config(manifest, install),
            "status": status,
            "status_detail": install.status_detail,
            "warnings": self.plugins.install_warnings(ctx),
            "updated_at": install.updated_at,
        }

    def test_connection(self, tenant_id: int, plugin_id: str, actor: str) -> ConnectionResult:
        with self.db.read() as session:
            install = installs.require_install(session, tenant_id, plugin_id)
        ctx = self.context(install)
        try:
            result = self.plugins.test_connection(ctx)
        except Exception as exc:  # a plugin bug must not leak a secret through a 500
            log.exception("test-connection of %s failed", plugin_id)
            result = ConnectionResult(False, f"the connection test failed ({type(exc).__name__})")
        with self.db.session() as session:
            audit.record(
                session,
                actor=actor,
                action="install.test_connection",
                tenant_id=tenant_id,
                target=plugin_id,
                details={"ok": result.ok},
            )
        return result

    # -- actions --------------------------------------------------------------------------

    def run_action(
        self, tenant_id: int, plugin_id: str, action: str, params: dict[str, Any], actor: str
    ) -> ActionResult:
        """Run a plugin's declared action for a tenant's install.

        404 for an unknown plugin, action or install; 409 when the install is disabled or the
        action needs a connection the install does not have; 422 naming ``params.<name>`` for
        a parameter the action does not declare (nothing runs). The plugin may refuse (409)
        or reject its parameters (422) itself. A POST action (one that may change something)
        is audited, run or refused. The HTTP method is the API's to check."""
        spec = self.plugins.manifest(plugin_id).action(action)
        if spec is None:
            raise NotFound(f"plugin {plugin_id!r} has no action {action!r}")
        unknown = sorted(set(params) - set(spec.params))
        if unknown:
            raise Invalid(
                f"the {action} action takes no parameter {', '.join(unknown)}",
                fields={f"params.{name}": "not a parameter of this action" for name in unknown},
            )
        with self.db.read() as session:
            install = installs.require_install(session, tenant_id, plugin_id)
        if not install.enabled:
            raise Refused(f"the {plugin_id} plugin is disabled for this tenant")
        # The install's status says whether it is connected (the connect flow sets
        # not_connected / reconnect_needed).
        if spec.needs_connection and install.status in ("not_connected", "reconnect_needed"):
            raise Refused(f"the {action} action needs a connection: connect {plugin_id} first")
        ctx = self.context(install)
        outcome = "ok"
        try:
            return self.plugins.run_action(ctx, action, params)
        except HubError as exc:
            outcome = exc.code
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            if spec.method == "POST":
                with self.db.session() as session:
                    audit.record(
                        session,
                        actor=actor,
                        action="action.run",
                        tenant_id=tenant_id,
                        target=f"{plugin_id}/{action}",
                        # Parameter names only: a value may be anything the caller typed.
                        details={"params": sorted(params), "outcome": outcome},
                    )

    # -- jobs -----------------------------------------------------------------------------

    def queue_job(
        self,
        tenant_id: int,
        plugin_id: str,
        job: str,
        *,
        options: dict[str, Any] | None = None,
        trigger: str = "manual",
        actor: str = "",
        slot_key: str | None = None,
    ) -> JobRun:
        """Queue a run now (the row first, then the message). 409 with the reason when the
        job cannot run."""
        options = dict(options or {})
        manifest = self.plugins.manifest(plugin_id)
        if manifest.job(job) is None:
            raise NotFound(f"plugin {plugin_id!r} has no job {job!r}")
        with self.db.read() as session:
            install = installs.require_install(session, tenant_id, plugin_id)
        if not install.enabled:
            raise Refused(f"the {plugin_id} plugin is disabled for this tenant")
        if install.status == "reconnect_needed":
            raise Refused(f"the {plugin_id} connection was lost: reconnect it first")
        reason = self.plugins.job_refusal(self.context(install), job, options)
        if reason:
            raise Refused(reason)
        assert install.id is not None
        run = runs.create_run(
            self.db,
            tenant_id=tenant_id,
            install_id=install.id,
            plugin_id=plugin_id,
            job=job,
            trigger=trigger,
            options=options,
            slot_key=slot_key,
        )
        if run is None:
            raise Refused("this slot was queued already")
        if actor:
            with self.db.session() as session:
                audit.record(
                    session,
                    actor=actor,
                    action="run.queued",
                    tenant_id=tenant_id,
                    target=f"{plugin_id}/{job}",
                    details={"run_id": run.id, "options": options},
                )
        assert run.id is not None
        self.enqueue(run.id)
        return run

    def execute_run(self, run_id: int, *, worker_id: str | None = None) -> str | None:
        """Run a queued run to its end in this thread. Returns the final state, or None when
        the run was not ours to take (already taken or finished). Raises
        :class:`RunBusy` when another run of the same install-job is running, and
        :class:`TransientJobError` (after requeuing the run) for the broker to retry."""
        worker_id = worker_id or f"{self.worker_id}:{threading.get_ident()}"
        run = runs.claim(self.db, run_id, worker_id)
        if run is None:
            with self.db.read() as session:
                current = session.get(JobRun, run_id)
            if current is not None and current.state == "queued":
                # Another run of its install-job was running when we tried (it may have
                # finished since): come back later rather than drop the message.
                raise RunBusy(run_id)
            return None
        assert run.id is not None
        stop = threading.Event()
        ctx: JobContext | None = None
        try:
            with self.db.read() as session:
                install = session.get(PluginInstall, run.install_id)
                assert install is not None
            base = self.context(install)
            ctx = JobContext(
                self,
                base.tenant,
                base.install_id,
                base.plugin_id,
                base.config,
                run_id=run.id,
                job=run.job,
                options=dict(run.options),
                trigger=run.trigger,
            )
            beat = threading.Thread(target=self._heartbeat, args=(ctx, stop), daemon=True)
            beat.start()
            skip = self._disabled_day(ctx)
            if skip and not ctx.options.get("force"):
                runs.finish(self.db, run.id, "skipped", message=skip)
                return "skipped"
            if not install.enabled:
                runs.finish(self.db, run.id, "skipped", message="the plugin is disabled")
                return "skipped"
            self.plugins.run_job(ctx)
            final = ctx.state or ("partial" if ctx.errors else "succeeded")
            runs.finish(
                self.db,
                run.id,
                final,
                counts=ctx.counts,
                errors=ctx.errors,
                message=ctx.message,
                report=ctx.report,
            )
            return final
        except TransientJobError as exc:
            runs.requeue(self.db, run.id, f"retrying: {exc}")
            raise
        except BaseException as exc:
            log.exception("run %s failed", run_id)
            errors = list(ctx.errors) if ctx else []
            errors.append(f"{type(exc).__name__}: {exc}")
            runs.finish(
                self.db,
                run.id,
                "failed",
                counts=ctx.counts if ctx else {},
                errors=errors,
                message=str(exc)[:1000] or type(exc).__name__,
                report=ctx.report if ctx else None,
            )
            if not isinstance(exc, Exception):
                raise
            return "failed"
        finally:
            stop.set()

    def _heartbeat(self, ctx: JobContext, stop: threading.Event) -> None:
        while not stop.wait(self.settings.run_heartbeat_seconds):
            try:
                runs.heartbeat(
                    self.db,
                    ctx.run_id,
                    done=ctx.progress.done,
                    total=ctx.progress.total,
                    counts=dict(ctx.counts),
                )
            except Exception:  # the next beat tries again
                log.warning("heartbeat of run %s failed", ctx.run_id, exc_info=True)

    def _disabled_day(self, ctx: JobContext, now: datetime | None = None) -> str | None:
        spec = self.plugins.manifest(ctx.plugin_id).job(ctx.job)
        if spec is None:
            return None
        schedule = self.plugins.job_schedule(ctx, spec)
        if schedule is None or not schedule.disabled_days:
            return None
        local = (now or utcnow()).astimezone(ctx.tenant.tz)
        day = DAYS[local.weekday()]
        if day in schedule.disabled_days:
            return f"skipped: {day} is a disabled day ({local:%Y-%m-%d} {ctx.tenant.timezone})"
        return None

    # -- orders ---------------------------------------------------------------------------

    def intake_order(
        self, tenant_id: int, body: orders.OrderIn, *, source: str = "api"
    ) -> tuple[OrderView, bool]:
        """Store an order (idempotent by number) and open an export for every enabled
        install that exports it; raises ``order.updated``."""
        with self.db.read() as session:
            candidates = list(
                session.exec(
                    select(PluginInstall).where(
                        PluginInstall.tenant_id == tenant_id, col(PluginInstall.enabled)
                    )
                )
            )
        exporters = [
            i
            for i in candidates
            if self._known(i.plugin_id)
            and i.plugin_id != source
            and Capability.ORDER_EXPORT in self.plugins.manifest(i.plugin_id).capabilities
        ]
        tenant = self.tenant_info(tenant_id) if exporters else None
        with self.db.session() as session:
            order, created = orders.store_order(session, tenant_id, body)
            view = orders.order_view(session, order)
            if created:
                for install in exporters:
                    ctx = self.context(install, tenant=tenant)
                    if self.plugins.order_exportable(ctx, view):
                        assert install.id is not None
                        exports.create_export(session, order, install.id, install.plugin_id)
                orders.touch(session, order, "created")
        return view, created

    def _known(self, plugin_id: str) -> bool:
        try:
            self.plugins.manifest(plugin_id)
            return True
        except NotFound:
            return False

    def order_detail(self, tenant_id: int, number: str) -> dict[str, Any]:
        with self.db.read() as session:
            return orders.order_detail(session, orders.find_order(session, tenant_id, number))

    def cancel_order(self, tenant_id: int, number: str, reason: str, actor: str) -> dict[str, Any]:
        with self.db.session() as session:
            order = orders.find_order(session, tenant_id, number)
            orders.cancel_order(session, order, reason)
            audit.record(
                session,
                actor=actor,
                action="order.canceled",
                tenant_id=tenant_id,
                target=number,
                details={"reason": reason},
            )
            return orders.order_detail(session, order)

    def retry_export(
        self, tenant_id: int, number: str, plugin_id: str, actor: str
    ) -> dict[str, Any]:
        with self.db.session() as session:
            order = orders.find_order(session, tenant_id, number)
            exports.retry(session, order, plugin_id, actor=actor)
            audit.record(
                session,
                actor=actor,
                action="order.export_retried",
                tenant_id=tenant_id,
                target=number,
                details={"plugin_id": plugin_id},
            )
            return orders.order_detail(session, order)


class RunBusy(RuntimeError):
    """Another run of the same install-job is running; try this one later."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} waits for another run of its job")
        self.run_id = run_id
