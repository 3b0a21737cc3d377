"""A small plugin the core tests register inline (and the contract tests fall back to).

It declares one inventory-import job with a default schedule, three actions (``greet``: POST,
JSON; ``locations``: GET, CSV; ``open-vendor``: a redirect that needs a connection), exports
orders, keeps a secret in its config, and does what a run's options ask: apply records,
sleep, fail transiently for the first N attempts, or fail for good.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel, Field

from hub.plugin import (
    ActionResult,
    ActionSpec,
    Capability,
    Invalid,
    InventoryRecord,
    JobContext,
    JobSpec,
    MatchRule,
    OrderView,
    PluginContext,
    PluginManifest,
    ScheduleSpec,
    TransientJobError,
    hookimpl,
    report_csv,
    secret_field,
)

__all__ = ["ACTIONS", "INVENTORY_JOB", "SampleConfig", "SamplePlugin"]

INVENTORY_JOB = "inventory"
DEFAULT_SCHEDULE = ScheduleSpec(cron="0 1,7 * * *")
ACTIONS = (
    ActionSpec(
        name="greet",
        title="Greet someone",
        method="POST",
        returns="json",
        params={"name": "whom to greet"},
    ),
    ActionSpec(
        name="locations",
        title="The tenant's locations",
        method="GET",
        returns="csv",
        params={"prefix": "only codes starting with this"},
    ),
    ActionSpec(
        name="open-vendor",
        title="Open the vendor's back office",
        returns="redirect",
        needs_connection=True,
    ),
)


class SampleConfig(BaseModel):
    """The sample vendor's settings."""

    location: str = "main"
    username: str = ""
    password: str | None = secret_field(None, description="The vendor account's password.")
    disabled_days: list[str] = Field(default_factory=list)
    export_orders: bool = True


class SamplePlugin:
    """Records every hook call in ``calls`` so tests can see which plugin was reached."""

    def __init__(self, plugin_id: str = "sample", *, exports_orders: bool = True) -> None:
        self.plugin_id = plugin_id
        self.exports_orders = exports_orders
        self.calls: list[tuple[str, Any]] = []
        self.attempts: dict[int, int] = {}
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    @hookimpl
    def hub_plugin_manifest(self) -> PluginManifest:
        return PluginManifest(
            id=self.plugin_id,
            title=f"Sample vendor ({self.plugin_id})",
            version="1.0.0",
            config_model=SampleConfig,
            jobs=(
                JobSpec(
                    name=INVENTORY_JOB,
                    title="Inventory import",
                    kind=Capability.INVENTORY_IMPORT,
                    default_schedule=DEFAULT_SCHEDULE,
                ),
            ),
            capabilities=(Capability.INVENTORY_IMPORT,)
            + ((Capability.ORDER_EXPORT,) if self.exports_orders else ()),
            actions=ACTIONS,
        )

    @hookimpl
    def hub_plugin_action(
        self, ctx: PluginContext, action: str, params: dict[str, Any]
    ) -> ActionResult | None:
        self.calls.append(("action", (action, dict(params))))
        if action == "greet":
            name = str(params.get("name") or "").strip()
            if not name:
                raise Invalid("say whom to greet", fields={"params.name": "required"})
            return ActionResult(data={"greeting": f"Hello {name}", "tenant": ctx.tenant.slug})
        if action == "locations":
            codes = ctx.location_codes()
            prefix = str(params.get("prefix", ""))
            rows = [(code,) for code in codes if code.startswith(prefix)]
            return ActionResult(csv=report_csv(["code"], rows))
        if action == "open-vendor":
            user = getattr(ctx.config, "username", "")
            return ActionResult(redirect=f"https://vendor.example/login?user={user}")
        return None

    @hookimpl
    def hub_job_schedule(self, ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
        days = tuple(getattr(ctx.config, "disabled_days", ()) or ())
        if job.default_schedule is not None and days:
            return job.default_schedule.model_copy(update={"disabled_days": days})
        return None

    @hookimpl
    def hub_order_exportable(self, ctx: PluginContext, order: OrderView) -> bool:
        self.calls.append(("order_exportable", order.number))
        return bool(getattr(ctx.config, "export_orders", True))

    @hookimpl
    def hub_inventory_import(self, ctx: JobContext) -> bool:
        with self._lock:
            self.calls.append(("inventory_import", ctx.run_id))
            attempt = self.attempts[ctx.run_id] = self.attempts.get(ctx.run_id, 0) + 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            options = ctx.options
            if options.get("sleep"):
                time.sleep(float(options["sleep"]))
            if attempt <= int(options.get("transient_failures", 0)):
                raise TransientJobError(f"the vendor is busy (attempt {attempt})")
            if options.get("fail"):
                raise ValueError(options["fail"])
            records = [
                InventoryRecord(key=k, quantity=q, ref=k) for k, q in options.get("records", [])
            ]
            result = ctx.apply_inventory(
                records,
                rule=MatchRule.SKU,
                location_code=ctx.config.location,  # type: ignore[attr-defined]
            )
            for name, n in result.counts.items():
                ctx.set_count(name, n)
            ctx.attach_report(
                report_csv(
                    ["ref", "outcome", "old_quantity", "new_quantity"],
                    [
                        (o.ref, o.outcome.value, o.old_quantity, o.new_quantity)
                        for o in result.outcomes
                    ],
                )
            )
            return True
        finally:
            with self._lock:
                self.active -= 1

    def runs_of(self, hook: str) -> list[Any]:
        return [arg for name, arg in self.calls if name == hook]
