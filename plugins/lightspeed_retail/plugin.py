"""The ``lightspeed_retail`` plugin's hooks: Lightspeed R-Series as the stock and price
master (see ``../shared/specs/lightspeed-retail.md``).

- connect through the core's OAuth flow, refused unless the employee is an Admin
  (:mod:`.setup`);
- the setup gate: ``setup_incomplete`` until connected, a store mapped and the settings saved;
  jobs refused (409) and not scheduled until then;
- ``inventory_import`` (changes, every 2 minutes in the day window) and
  ``inventory_import_full`` (nightly): :mod:`.importer`;
- ``order_export``: balanced orders as completed sales, once (:mod:`.exporter`);
- actions ``shops``, ``price-levels``, ``employees``, ``registers``, ``payment-types``,
  ``pending-mappings`` (:mod:`.actions`).
"""

from __future__ import annotations

from typing import Any

from hub.plugin import (
    ActionResult,
    ActionSpec,
    Capability,
    ConfigProblem,
    ConnectedAccount,
    ConnectGrant,
    ConnectionResult,
    ConnectRequest,
    JobContext,
    JobSpec,
    OrderView,
    PluginContext,
    PluginManifest,
    Refused,
    ScheduleSpec,
    hookimpl,
)
from plugins.lightspeed_rseries import connect
from plugins.lightspeed_rseries.connection import open_connection
from plugins.lightspeed_rseries.errors import RSeriesError

from . import setup
from .config import RetailConfig

__all__ = ["MANIFEST"]

PLUGIN_ID = "lightspeed_retail"
JOB_INCREMENTAL = "inventory_import"
JOB_FULL = "inventory_import_full"
JOB_EXPORT = "order_export"

MANIFEST = PluginManifest(
    id=PLUGIN_ID,
    title="Lightspeed Retail",
    version="1.0.0",
    description=(
        "Lightspeed R-Series as the stock and price master: shop stock (and optionally "
        "prices) into the hub's locations; paid webstore orders into Lightspeed as "
        "completed sales, once."
    ),
    config_model=RetailConfig,
    capabilities=(Capability.INVENTORY_IMPORT, Capability.ORDER_EXPORT),
    jobs=(
        JobSpec(
            name=JOB_INCREMENTAL,
            title="Stock and prices from Lightspeed (what changed)",
            kind=Capability.INVENTORY_IMPORT,
            default_schedule=ScheduleSpec(cron="*/2 * * * *", window="06:00-22:00"),
        ),
        JobSpec(
            name=JOB_FULL,
            title="Stock and prices from Lightspeed (full pass)",
            kind=Capability.INVENTORY_IMPORT,
            default_schedule=ScheduleSpec(cron="30 2 * * *"),
        ),
        JobSpec(
            name=JOB_EXPORT,
            title="Paid webstore orders to Lightspeed as completed sales",
            kind=Capability.ORDER_EXPORT,
            default_schedule=ScheduleSpec(cron="*/5 * * * *"),
        ),
    ),
    actions=(
        ActionSpec(
            name="shops",
            title="Lightspeed shops (for the store mapping)",
            description="The account's shops and the hub location each is mapped to.",
            needs_connection=True,
        ),
        ActionSpec(
            name="price-levels",
            title="Lightspeed price levels (for POS pricing)",
            description="Choose levels by id: a level can be renamed.",
            needs_connection=True,
        ),
        ActionSpec(
            name="employees",
            title="Lightspeed employees (for the export employee)",
            needs_connection=True,
        ),
        ActionSpec(
            name="registers",
            title="Lightspeed registers (for the export register)",
            needs_connection=True,
        ),
        ActionSpec(
            name="payment-types",
            title="Lightspeed payment types (for the payment type map)",
            needs_connection=True,
        ),
        ActionSpec(
            name="pending-mappings",
            title="Pending mappings: items that do not sync",
            returns="csv",
            description=(
                "Items that miss a requirement or match no (or several) hub products, with "
                "the reason; JSON pages (cursor, limit) or format=csv for all of them."
            ),
            params={
                "cursor": "where the previous page ended (its next_cursor)",
                "limit": "rows per page, 1-500 (default 100)",
                "reason": "only rows with this reason",
            },
        ),
    ),
    connects=True,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _config(ctx: PluginContext) -> RetailConfig:
    assert isinstance(ctx.config, RetailConfig)
    return ctx.config


@hookimpl
def hub_plugin_manifest() -> PluginManifest:
    return MANIFEST


# -- configuration and status ---------------------------------------------------------------


@hookimpl
def hub_validate_config(ctx: PluginContext) -> list[ConfigProblem]:
    config = _config(ctx)
    problems = []
    for n, store in enumerate(config.stores):
        if ctx.location(store.location) is None:
            problems.append(
                ConfigProblem(
                    f"stores[{n}].location", f"location {store.location!r} does not exist"
                )
            )
    if not (
        config.import_if_on_hand or config.import_if_on_order or config.import_if_reorder_levels
    ):
        problems.append(
            ConfigProblem("import_if_on_hand", "at least one import setting must be on")
        )
    if config.use_pos_pricing and config.regular_price_level is None:
        problems.append(
            ConfigProblem("regular_price_level", "is required when use_pos_pricing is on")
        )
    if config.order_export_enabled:
        for name in ("export_employee_id", "export_register_id"):
            if getattr(config, name) is None:
                problems.append(ConfigProblem(name, "is required when order_export_enabled is on"))
    return problems


@hookimpl
def hub_install_status(ctx: PluginContext) -> str | None:
    return "setup_incomplete" if setup.missing_steps(ctx) else None


@hookimpl
def hub_install_warnings(ctx: PluginContext) -> list[str]:
    config = _config(ctx)
    warnings = []
    steps = setup.missing_steps(ctx)
    if steps:
        warnings.append("Setup is incomplete: " + "; ".join(steps))
    for store in config.stores:
        if ctx.location(store.location) is None:
            warnings.append(
                f"The location {store.location!r} of shop {store.shop_id} no longer exists"
            )
    pending = ctx.pending_count()
    if pending:
        warnings.append(f"Pending mappings: {pending} items do not sync")
    notice = setup.account_notice(ctx)
    if notice:
        warnings.append(notice)
    return warnings


@hookimpl
def hub_test_connection(ctx: PluginContext) -> ConnectionResult:
    try:
        with open_connection(ctx, max_attempts=2) as connection:
            accounts = connection.client.accounts()
    except Refused as exc:
        return ConnectionResult(False, exc.detail)
    except RSeriesError as exc:
        return ConnectionResult(False, f"Lightspeed could not be reached ({type(exc).__name__})")
    names = ", ".join(str(a.get("name") or a.get("accountID")) for a in accounts)
    return ConnectionResult(True, f"Lightspeed reachable; account {names}")


@hookimpl
def hub_job_schedule(ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
    config = _config(ctx)
    ready = not setup.missing_steps(ctx)
    days = tuple(config.disabled_days)
    if job.name == JOB_INCREMENTAL:
        minutes = config.incremental_interval_minutes
        return ScheduleSpec(
            cron=f"*/{minutes} * * * *", window=config.day_window, disabled_days=days, enabled=ready
        )
    if job.name == JOB_FULL:
        hour, minute = config.full_import_at.split(":")
        return ScheduleSpec(
            cron=f"{int(minute)} {int(hour)} * * *", disabled_days=days, enabled=ready
        )
    if job.name == JOB_EXPORT:
        return ScheduleSpec(cron="*/5 * * * *", enabled=ready and config.order_export_enabled)
    return None


@hookimpl
def hub_job_refusal(ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
    steps = setup.missing_steps(ctx)
    if steps:
        return f"setup is incomplete: {steps[0]}"
    if job == JOB_EXPORT and not _config(ctx).order_export_enabled:
        return "order exporting is not enabled (order_export_enabled)"
    return None


# -- connecting -----------------------------------------------------------------------------


@hookimpl
def hub_connect_start(ctx: PluginContext, request: ConnectRequest) -> str:
    return connect.authorize_url(ctx, request)


@hookimpl
def hub_connect_finish(ctx: PluginContext, grant: ConnectGrant) -> ConnectedAccount:
    return connect.finish_connect(ctx, grant, verify=setup.check_admin)


@hookimpl
def hub_disconnect(ctx: PluginContext) -> bool:
    return connect.disconnect(ctx)


# -- actions and jobs -------------------------------------------------------------------------


@hookimpl
def hub_plugin_action(ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
    from .actions import run_action

    return run_action(ctx, action, params)


@hookimpl
def hub_order_exportable(ctx: PluginContext, order: OrderView) -> bool:
    return _config(ctx).order_export_enabled and order.channel == "webstore"


@hookimpl
def hub_inventory_import(ctx: JobContext) -> bool:
    from .importer import run_import

    if _gate(ctx):
        run_import(ctx, full=ctx.job == JOB_FULL or bool(ctx.options.get("full")))
    return True


@hookimpl
def hub_order_export(ctx: JobContext) -> bool:
    from .exporter import run_export

    if _gate(ctx):
        run_export(ctx)
    return True


def _gate(ctx: JobContext) -> bool:
    """A run queued before setup fell incomplete (a scheduled slot, a retry) skips; a run
    after another account was connected first drops the old account's state."""
    refusal = hub_job_refusal(ctx, ctx.job, ctx.options)
    if refusal:
        ctx.skip(refusal)
        return False
    from .importer import CURSOR_ITEM, CURSOR_ITEMSHOP

    setup.adopt_account(ctx, (CURSOR_ITEM, CURSOR_ITEMSHOP))
    return True
