"""The ``lightspeed_dms`` plugin's hooks."""

from __future__ import annotations

from typing import Any

from hub.plugin import (
    Capability,
    ConfigProblem,
    ConnectionResult,
    JobContext,
    JobSpec,
    OrderView,
    PluginContext,
    PluginManifest,
    ScheduleSpec,
    hookimpl,
)
from plugins.lightspeed_dms.config import DEFAULT_SCHEDULE, DmsConfig

__all__ = ["MANIFEST"]

NO_CODES = "There are currently no supplier codes configured"

MANIFEST = PluginManifest(
    id="lightspeed_dms",
    title="Lightspeed DMS",
    version="1.0.0",
    description="Web Orders endpoints the DMS polls, and the 3PA parts inventory import.",
    config_model=DmsConfig,
    capabilities=(Capability.ORDER_EXPORT, Capability.INVENTORY_IMPORT),
    jobs=(
        JobSpec(
            name="inventory_sync",
            title="3PA inventory sync (full)",
            kind=Capability.INVENTORY_IMPORT,
            default_schedule=DEFAULT_SCHEDULE,
        ),
        JobSpec(
            name="inventory_sync_incremental",
            title="3PA inventory sync (changes only)",
            kind=Capability.INVENTORY_IMPORT,
            default_schedule=ScheduleSpec(cron="*/10 * * * *", enabled=False),
        ),
    ),
)


def _config(ctx: PluginContext) -> DmsConfig:
    assert isinstance(ctx.config, DmsConfig)
    return ctx.config


@hookimpl
def hub_plugin_manifest() -> PluginManifest:
    return MANIFEST


@hookimpl
def hub_http_routes() -> list[Any]:
    from plugins.lightspeed_dms.endpoints import routes

    return routes()


@hookimpl
def hub_validate_config(ctx: PluginContext) -> list[ConfigProblem]:
    config = _config(ctx)
    problems = []
    if config.threepa_enabled:
        if not config.location:
            problems.append(ConfigProblem("location", "is required when 3PA is enabled"))
        elif ctx.location(config.location) is None:
            problems.append(
                ConfigProblem("location", f"location {config.location!r} does not exist")
            )
        if not config.threepa_username and not ctx.settings.threepa_username:
            problems.append(
                ConfigProblem(
                    "threepa_username",
                    "is required (no pre-configured 3PA credentials in this hub)",
                )
            )
    return problems


@hookimpl
def hub_install_warnings(ctx: PluginContext) -> list[str]:
    config = _config(ctx)
    warnings = []
    if not config.supplier_codes:
        warnings.append(NO_CODES)
    if config.threepa_enabled and config.location and ctx.location(config.location) is None:
        warnings.append(f"The location {config.location!r} no longer exists")
    return warnings


@hookimpl
def hub_test_connection(ctx: PluginContext) -> ConnectionResult:
    from plugins.lightspeed_dms.sync import VendorURLRefused, make_client
    from plugins.lightspeed_dms.threepa.client import ThreePAAuthError, ThreePAError

    config = _config(ctx)
    if not config.threepa_enabled:
        if config.web_orders_enabled:
            return ConnectionResult(True, "Web Orders are enabled; the DMS connects to the hub")
        return ConnectionResult(False, "neither Web Orders nor 3PA is enabled")
    try:
        client = make_client(ctx, config)
    except VendorURLRefused as exc:
        return ConnectionResult(False, str(exc))
    try:
        dealers = client.dealers()
    except ThreePAAuthError:
        return ConnectionResult(False, "the 3PA credentials were refused")
    except ThreePAError as exc:
        return ConnectionResult(False, f"3PA could not be reached ({type(exc).__name__})")
    finally:
        client.close()
    if not any(d.cmf == config.dealer_id for d in dealers):
        return ConnectionResult(
            False,
            f"dealer id {config.dealer_id} is not among the {len(dealers)} dealer(s) "
            "these credentials reach",
        )
    return ConnectionResult(True, f"3PA reachable; dealer {config.dealer_id} found")


@hookimpl
def hub_job_schedule(ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
    config = _config(ctx)
    days = tuple(config.disabled_days)
    if job.name == "inventory_sync":
        return ScheduleSpec(
            cron=config.schedule.cron,
            window=config.schedule.window,
            disabled_days=days,
            enabled=config.threepa_enabled,
        )
    if job.name == "inventory_sync_incremental":
        minutes = config.incremental_interval_minutes
        cron = f"*/{minutes} * * * *" if 0 < minutes < 60 else f"0 */{max(minutes // 60, 1)} * * *"
        return ScheduleSpec(
            cron=cron, disabled_days=days, enabled=config.threepa_enabled and minutes > 0
        )
    return None


@hookimpl
def hub_job_refusal(ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
    config = _config(ctx)
    if job.startswith("inventory_sync"):
        if not config.threepa_enabled:
            return "3PA / Data Warehouse is not enabled for this tenant"
        if not config.supplier_codes:
            return NO_CODES
        if ctx.location(config.location) is None:
            return f"the location {config.location!r} does not exist"
    return None


@hookimpl
def hub_order_exportable(ctx: PluginContext, order: OrderView) -> bool:
    return _config(ctx).web_orders_enabled and order.channel == "webstore"


@hookimpl
def hub_inventory_import(ctx: JobContext) -> bool:
    from plugins.lightspeed_dms.sync import run_inventory_sync

    run_inventory_sync(ctx, incremental=ctx.job == "inventory_sync_incremental")
    return True
