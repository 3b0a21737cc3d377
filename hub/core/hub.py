"""The hub: settings, database, secrets, plugins and the operations that span them.

The REST API, the CLI, the workers and the scheduler all go through one :class:`Hub`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.core import audit, connections, exports, installs, orders, outbound, runs
from hub.core import tenants as core_tenants
from hub.core.crypto import SecretBox, SecretDecryptError
from hub.core.db import Database
from hub.core.direct_sql import DirectSql
from hub.core.errors import AdminOnly, HubError, Invalid, NotFound, Refused
from hub.core.identity import new_boot_id
from hub.core.models import JobRun, Order, PluginInstall, Tenant
from hub.core.records import (
    ActionResult,
    Capability,
    ConnectionInfo,
    ConnectionResult,
    OrderView,
)
from hub.core.schedule import disabled_day_reason
from hub.core.tenants import TenantInfo
from hub.core.types import utcnow
from hub.core.waiting import WouldWait, no_wait
from hub.plugin.context import JobContext, PluginContext, TransientJobError
from hub.plugin.manager import PluginManager
from hub.settings import Settings

__all__ = ["Hub"]

log = logging.getLogger("hub")
T = TypeVar("T")


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
        # The worker's name that survives a restart (set by the process that runs jobs, see
        # hub.core.identity; "" without one) and this incarnation's boot id.
        self.worker_name = ""
        self.boot_id = new_boot_id()
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

    def create_tenant(
        self,
        slug: str,
        name: str,
        *,
        timezone: str = "UTC",
        company_address: dict[str, Any] | None = None,
        actor: str,
    ) -> Tenant:
        """Create a tenant, audited: 409 when the slug is taken, 422 on a bad slug, name
        (1-200 characters) or time zone."""
        if not name.strip() or len(name) > 200:
            raise Invalid("a tenant needs a name", fields={"name": "1 to 200 characters"})
        with self.db.session() as session:
            row = core_tenants.create_tenant(session, slug, name, timezone, company_address)
            audit.record(
                session, actor=actor, action="tenant.created", tenant_id=row.id, target=row.slug
            )
            return row

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
        ctx = PluginContext(
            self,
            tenant or self.tenant_info(install.tenant_id),
            install.id,
            install.plugin_id,
            config,
            enabled=install.enabled,
        )
        _describe_install(ctx, install)
        return ctx

    def context_for(self, tenant_slug: str, plugin_id: str) -> PluginContext | None:
        """The context of a tenant's install, found by slug (for routes vendors call, which
        carry the tenant in their path); None when the tenant or the install does not exist.
        Raises :class:`SecretDecryptError` when its secrets cannot be read.

        A vendor polling every few seconds asks for the same context over and over: it is
        kept per (slug, plugin) and reused while one indexed query finds the install and its
        tenant unchanged (every change to either moves its ``updated_at``)."""
        key = (tenant_slug, plugin_id)
        with self.db.direct_sql() as sql:
            stamp = sql.row(_CONTEXT_STAMP, slug=tenant_slug, plugin=plugin_id)
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
        precondition: Callable[[Session], None] | None = None,
    ) -> PluginInstall:
        """Validate and store an install's config (422 naming the fields), audited.

        ``precondition`` runs first in the writing transaction (the API's ``If-Match``
        check, which locks the row): whatever it raises leaves everything unchanged.

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
            if precondition is not None:
                precondition(session)
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
                "connection": connections.connection_view(manifest, install),
                "updated_at": install.updated_at,
            }
        if status in ("ok", "not_connected"):
            # A plugin may say more than the core knows (``setup_incomplete``: connecting is
            # one of several setup steps); a lost connection stays ``reconnect_needed``.
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
            "connection": connections.connection_view(manifest, install),
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

    # -- connecting (OAuth 2; the rules are hub.core.connections') ------------------------

    def connect(
        self, tenant_id: int, plugin_id: str, actor: str, *, return_to: str | None = None
    ) -> str:
        """Start connecting the tenant's install: the vendor's authorize URL (a single-use
        state, valid 10 minutes). 409 for a plugin without ``connects=True``; 422 for a
        ``return_to`` that is not an ``/admin/…`` path."""
        return connections.start(self, tenant_id, plugin_id, actor, return_to=return_to)

    def finish_connect(
        self,
        state: str | None,
        code: str | None,
        error: str | None = None,
        error_description: str | None = None,
    ) -> connections.ConnectOutcome:
        """The vendor's redirect back (``/oauth/callback``): what it connected, or why not."""
        return connections.finish(self, state, code, error, error_description)

    def disconnect(self, tenant_id: int, plugin_id: str, actor: str) -> None:
        """Drop the install's tokens and connection: status ``not_connected``."""
        connections.disconnect(self, tenant_id, plugin_id, actor)

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
        the run was not ours to take (already taken or finished) or stopped being ours
        midway (requeued meanwhile: its writes were refused, see :mod:`hub.core.runs`).
        Raises :class:`RunBusy` when another run of the same install-job is running, and
        :class:`TransientJobError` (after requeuing the run) for the broker to retry."""
        worker_id = worker_id or f"{self.worker_id}:{threading.get_ident()}"
        run = runs.claim(
            self.db, run_id, worker_id, worker_name=self.worker_name, boot_id=self.boot_id
        )
        if run is None:
            with self.db.read() as session:
                current = session.get(JobRun, run_id)
            if current is not None and current.state == "queued":
                # Another run of its install-job was running when we tried (it may have
                # finished since): come back later rather than drop the message.
                raise RunBusy(run_id)
            return None
        assert run.id is not None
        attempt = run.attempts
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
                attempt=attempt,
                checkpoint=run.checkpoint,
            )
            _describe_install(ctx, install)
            beat = threading.Thread(target=self._heartbeat, args=(ctx, stop), daemon=True)
            beat.start()
            skip = self._disabled_day(ctx)
            if skip and not ctx.options.get("force"):
                runs.finish(self.db, run.id, "skipped", attempt=attempt, message=skip)
                return "skipped"
            if not install.enabled:
                runs.finish(
                    self.db, run.id, "skipped", attempt=attempt, message="the plugin is disabled"
                )
                return "skipped"
            self.plugins.run_job(ctx)
            final = ctx.state or ("partial" if ctx.errors else "succeeded")
            header, rows = ctx.unsaved_report()
            if not runs.finish(
                self.db,
                run.id,
                final,
                attempt=attempt,
                counts=ctx.counts,
                errors=ctx.errors,
                message=ctx.message,
                report=ctx.report,
                report_header=header,
                report_rows=rows,
            ):
                raise runs.RunFenced(run.id, attempt)
            return final
        except runs.RunFenced:
            # Requeued while it ran (its worker looked dead): another attempt owns the run;
            # this one's last write was rolled back.
            log.warning("run %s: attempt %s was superseded; it stops here", run_id, attempt)
            return None
        except TransientJobError as exc:
            runs.requeue(self.db, run.id, f"retrying: {exc}", attempt=attempt)
            raise
        except BaseException as exc:
            log.exception("run %s failed", run_id)
            errors = list(ctx.errors) if ctx else []
            errors.append(f"{type(exc).__name__}: {exc}")
            header, rows = ctx.unsaved_report() if ctx else (None, [])
            runs.finish(
                self.db,
                run.id,
                "failed",
                attempt=attempt,
                counts=ctx.counts if ctx else {},
                errors=errors,
                message=str(exc)[:1000] or type(exc).__name__,
                report=ctx.report if ctx else None,
                report_header=header,
                report_rows=rows,
            )
            if not isinstance(exc, Exception):
                raise
            return "failed"
        finally:
            stop.set()

    def _heartbeat(self, ctx: JobContext, stop: threading.Event) -> None:
        while not stop.wait(self.settings.run_heartbeat_seconds):
            try:
                alive = runs.heartbeat(
                    self.db,
                    ctx.run_id,
                    attempt=ctx.attempt,
                    done=ctx.progress.done,
                    total=ctx.progress.total,
                    counts=dict(ctx.counts),
                )
                if not alive:  # the run was requeued: its next write will be refused
                    ctx._supersede()
                    return
            except Exception:  # the next beat tries again
                log.warning("heartbeat of run %s failed", ctx.run_id, exc_info=True)

    def _disabled_day(self, ctx: JobContext, now: datetime | None = None) -> str | None:
        spec = self.plugins.manifest(ctx.plugin_id).job(ctx.job)
        if spec is None:
            return None
        schedule = self.plugins.job_schedule(ctx, spec)
        if schedule is None or not schedule.disabled_days:
            return None
        return disabled_day_reason(schedule, now or utcnow(), ctx.tenant.tz)

    # -- orders ---------------------------------------------------------------------------

    def intake_order(
        self, tenant_id: int, body: orders.OrderIn, *, source: str = "api"
    ) -> tuple[OrderView, bool]:
        """Store an order (idempotent by number) and open an export for every enabled
        install that exports it; raises ``order.updated``."""
        with self.db.read() as session:
            exporters = self._order_exporters(session, tenant_id, source)
        tenant = self.tenant_info(tenant_id) if exporters else None
        exporting: list[PluginInstall] = []
        with self.db.session() as session:
            order, created = orders.store_order(session, tenant_id, body)
            view = orders.order_view(session, order)
            if created:
                for install in exporters:
                    ctx = self.context(install, tenant=tenant)
                    if self.plugins.order_exportable(ctx, view):
                        assert install.id is not None
                        exports.create_export(session, order, install.id, install.plugin_id)
                        exporting.append(install)
                orders.mark_order_updated(session, order, "created")
        if exporting:
            self._queue_order_exports(exporting)
        return view, created

    def intake_orders_in(
        self,
        session: Session,
        tenant_id: int,
        bodies: Sequence[orders.OrderIn],
        *,
        source: str = "api",
    ) -> tuple[list[orders.StoredOrder], Callable[[], None]]:
        """:meth:`intake_order` for a batch (a page of vendor sales), in the caller's
        transaction: the orders stored (:func:`hub.core.orders.store_orders`), an export
        opened for every enabled install that exports each new one, ``order.updated``
        raised for them. Returns the stored orders and what to call once the transaction
        committed (queueing the exporters' jobs)."""
        exporters = self._order_exporters(session, tenant_id, source)
        stored = orders.store_orders(session, tenant_id, bodies)
        created = [s for s in stored if s.created]
        exporting: dict[int, PluginInstall] = {}
        if created and exporters:
            tenant = self.tenant_info(tenant_id)
            rows = list(
                session.exec(select(Order).where(col(Order.id).in_([s.order_id for s in created])))
            )
            for order, view in zip(rows, orders.order_views(session, rows), strict=True):
                for install in exporters:
                    ctx = self.context(install, tenant=tenant)
                    if self.plugins.order_exportable(ctx, view):
                        assert install.id is not None
                        exports.create_export(session, order, install.id, install.plugin_id)
                        exporting[install.id] = install
        orders.emit_orders_created(session, tenant_id, created)

        def after_commit() -> None:
            if exporting:
                self._queue_order_exports(list(exporting.values()))

        return stored, after_commit

    def _order_exporters(
        self, session: Session, tenant_id: int, source: str
    ) -> list[PluginInstall]:
        """The tenant's enabled installs other than ``source`` whose plugin exports orders
        (looked up by direct SQL: a page of vendor sales asks, and mostly there are none)."""
        wanted = [
            int(install_id)
            for install_id, plugin_id in DirectSql.of(session).rows(
                "SELECT id, plugin_id FROM plugin_installs WHERE tenant_id = :t AND enabled",
                t=tenant_id,
            )
            if plugin_id != source
            and self._known(plugin_id)
            and Capability.ORDER_EXPORT in self.plugins.manifest(plugin_id).capabilities
        ]
        if not wanted:
            return []
        return list(
            session.exec(
                select(PluginInstall)
                .where(col(PluginInstall.id).in_(wanted))
                .order_by(col(PluginInstall.id))
            )
        )

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

    # -- payments and fulfilments (the rules are hub.core.orders') ------------------------

    def add_payment(
        self, tenant_id: int, number: str, body: orders.PaymentAdd, actor: str
    ) -> tuple[dict[str, Any], bool]:
        """Record a payment (idempotent by ``reference``): the order detail with its new
        ``balance_due``, and whether the payment was new. An order it makes balanced is exported without waiting for the
        next schedule slot (see :meth:`_queue_order_exports`)."""
        with self.db.session() as session:
            order = orders.find_order(session, tenant_id, number)
            added = orders.add_payment(session, order, body)
            if added:
                audit.record(
                    session,
                    actor=actor,
                    action="order.payment_added",
                    tenant_id=tenant_id,
                    target=number,
                    details={"amount": str(body.amount), "reference": body.reference},
                )
            detail = orders.order_detail(session, order)
            order_id = order.id
        if added and order_id is not None:
            self._queue_order_exports(self._open_export_installs(order_id))
        return detail, added

    def record_fulfillment(
        self, tenant_id: int, number: str, body: orders.FulfillmentIn, actor: str
    ) -> tuple[dict[str, Any], bool]:
        """Record fulfilled lines (idempotent by ``reference``): the order detail with each
        line's ``fulfilled_quantity``, and whether the fulfilment was new. Queues the order's open exports like a payment."""
        with self.db.session() as session:
            order = orders.find_order(session, tenant_id, number)
            added = orders.record_fulfillment(session, order, body)
            if added:
                audit.record(
                    session,
                    actor=actor,
                    action="order.fulfilled",
                    tenant_id=tenant_id,
                    target=number,
                    details={"source": body.source, "reference": body.reference},
                )
            detail = orders.order_detail(session, order)
            order_id = order.id
        if added and order_id is not None:
            self._queue_order_exports(self._open_export_installs(order_id))
        return detail, added

    def _open_export_installs(self, order_id: int) -> list[PluginInstall]:
        """The enabled installs with an open (pending or offered) export of the order."""
        from hub.core.models import OrderExport

        with self.db.read() as session:
            return list(
                session.exec(
                    select(PluginInstall)
                    .join(OrderExport, col(OrderExport.install_id) == col(PluginInstall.id))
                    .where(
                        OrderExport.order_id == order_id,
                        col(OrderExport.queue_at).is_not(None),
                        col(PluginInstall.enabled),
                    )
                )
            )

    def _queue_order_exports(self, installs_: list[PluginInstall]) -> None:
        """Queue the order-export job of each install that pushes orders (has a job of the
        ``order_export`` kind) unless one is queued already: an order that became exportable
        (entered, paid in full, fulfilled) is taken at once rather than at the next slot.
        Pull plugins (the DMS) have no such job. A refusal (setup incomplete) is the
        plugin's to show; it does not fail the caller."""
        for install in installs_:
            if install.id is None or not self._known(install.plugin_id):
                continue
            manifest = self.plugins.manifest(install.plugin_id)
            for job in manifest.jobs:
                if job.kind is not Capability.ORDER_EXPORT:
                    continue
                with self.db.read() as session:
                    if runs.has_queued_run(session, install.id, job.name):
                        continue
                try:
                    self.queue_job(install.tenant_id, install.plugin_id, job.name, trigger="event")
                except HubError as exc:
                    log.info("order export of %s not queued: %s", install.plugin_id, exc)


def _describe_install(ctx: PluginContext, install: PluginInstall) -> None:
    """What a context says of its install beyond the config: the live connection and when
    the config was last saved."""
    ctx.configured_at = install.configured_at
    if install.connected_at is not None and install.status not in (
        "not_connected",
        "reconnect_needed",
    ):
        ctx.connection = ConnectionInfo(
            install.connected_account_id or "",
            install.connected_account_name or "",
            install.connected_at,
        )


class RunBusy(RuntimeError):
    """Another run of the same install-job is running; try this one later."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} waits for another run of its job")
        self.run_id = run_id
