"""The ``lightspeed_pos`` plugin's hooks: Lightspeed R-Series as a sales channel.

The hub is the stock master; Lightspeed shops sell. Sales come in as orders of the channel
``local_store`` (:mod:`.orders`), the hub's stock goes up per shop (:mod:`.inventory`), prices,
costs and new products go up (:mod:`.catalog`). Connecting is the core's OAuth flow with
PKCE (:mod:`plugins.lightspeed_rseries.connect`); tokens live in the install's encrypted
secrets and are refreshed by one process at a time (:mod:`.connection`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.plugin import (
    ActionResult,
    ActionSpec,
    Capability,
    ConfigProblem,
    ConnectedAccount,
    ConnectGrant,
    ConnectionResult,
    ConnectRefused,
    ConnectRequest,
    HubError,
    Invalid,
    JobContext,
    JobSpec,
    PluginContext,
    PluginManifest,
    Refused,
    ScheduleSpec,
    hookimpl,
)
from plugins.lightspeed_pos.config import PosConfig
from plugins.lightspeed_pos.connection import KEEPALIVE_AFTER, open_connection, token_received_on
from plugins.lightspeed_pos.shops import employees_of, merge_shops, validate_mapping
from plugins.lightspeed_rseries import connect
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesError,
    RSeriesUnavailableError,
)

__all__ = ["MANIFEST"]

PLUGIN_ID = "lightspeed_pos"

SCHEDULES = {
    "order_download": ScheduleSpec(cron="*/5 * * * *"),
    "inventory_reconcile": ScheduleSpec(cron="17 */6 * * *"),
    "catalog_upload": ScheduleSpec(cron="*/15 * * * *"),
    "connection_keepalive": ScheduleSpec(cron="41 3 * * *"),
}

MANIFEST = PluginManifest(
    id=PLUGIN_ID,
    title="Lightspeed POS",
    version="1.0.0",
    description=(
        "Lightspeed R-Series shops as a sales channel: sales in as local-store orders, "
        "stock, prices and costs out, products created on Lightspeed."
    ),
    config_model=PosConfig,
    capabilities=(Capability.ORDER_IMPORT, Capability.INVENTORY_EXPORT, Capability.CATALOG_EXPORT),
    jobs=(
        JobSpec(
            name="order_download",
            title="Download Lightspeed sales as orders",
            kind=Capability.ORDER_IMPORT,
            default_schedule=SCHEDULES["order_download"],
        ),
        JobSpec(
            name="inventory_upload",
            title="Upload changed stock to Lightspeed shops",
            kind=Capability.INVENTORY_EXPORT,
            # Queued by the core within a scheduler pass of a stock, listing or settings
            # change (debounced); an idle install writes no runs.
            on_change=True,
        ),
        JobSpec(
            name="inventory_reconcile",
            title="Reconcile Lightspeed stock (reads qoh, fixes drift)",
            kind=Capability.INVENTORY_EXPORT,
            default_schedule=SCHEDULES["inventory_reconcile"],
        ),
        JobSpec(
            name="catalog_upload",
            title="Upload prices and costs, enable and create products",
            kind=Capability.CATALOG_EXPORT,
            default_schedule=SCHEDULES["catalog_upload"],
        ),
        JobSpec(
            name="connection_keepalive",
            title="Keep an idle connection's refresh token alive",
            kind=Capability.ORDER_IMPORT,
            default_schedule=SCHEDULES["connection_keepalive"],
        ),
    ),
    actions=(
        ActionSpec(
            name="refresh-shops",
            title="Re-Download Lightspeed POS Shops",
            method="POST",
            returns="json",
            description=(
                "Read Lightspeed's shops, registers and employees and merge them into the "
                "install's shops, keeping every mapping; a shop gone from Lightspeed is kept "
                "as archived and stops syncing."
            ),
            needs_connection=True,
        ),
    ),
    connects=True,
)


def _config(ctx: PluginContext) -> PosConfig:
    assert isinstance(ctx.config, PosConfig)
    return ctx.config


def _connected(ctx: PluginContext) -> bool:
    return bool(ctx.read_secrets(["refresh_token"]).get("refresh_token"))


@hookimpl
def hub_plugin_manifest() -> PluginManifest:
    return MANIFEST


# -- configuration ---------------------------------------------------------------------------


@hookimpl
def hub_validate_config(ctx: PluginContext) -> list[ConfigProblem]:
    config = _config(ctx)
    problems = validate_mapping(config, ctx.location_codes())
    own = ctx.settings.oauth_redirect_uri
    if config.redirect_uri and config.redirect_uri != own:
        problems.append(
            ConfigProblem("redirect_uri", f"is read-only: the hub's OAuth callback is {own}")
        )
    return problems


@hookimpl
def hub_install_warnings(ctx: PluginContext) -> list[str]:
    config = _config(ctx)
    warnings = []
    if not _connected(ctx):
        warnings.append(
            f"Not connected: register {ctx.settings.oauth_redirect_uri} as the redirect URI of "
            "the Lightspeed API client, then connect (Fetch Token)"
        )
    if not config.shops:
        warnings.append("No Lightspeed shops yet: run the refresh-shops action")
    elif config.shops_mapping_enabled:
        unmapped = [s.shop_id for s in config.shops if not s.archived and not s.warehouses]
        if unmapped:
            warnings.append(
                f"Shops without warehouses do not sync: {', '.join(map(str, unmapped))}"
            )
    if config.order_download and not config.returns_warehouse:
        warnings.append("No returns warehouse: returns go back to the shop's first warehouse")
    problems = validate_mapping(config, ctx.location_codes())
    warnings.extend(f"{p.field}: {p.message}" for p in problems)
    return warnings


@hookimpl
def hub_test_connection(ctx: PluginContext) -> ConnectionResult:
    try:
        with open_connection(ctx, max_attempts=2) as connection:
            accounts = connection.client.accounts()
    except HubError as exc:
        return ConnectionResult(False, exc.detail)
    except ReconnectNeeded:
        return ConnectionResult(False, "the connection was lost: connect the install again")
    except RSeriesAPIError as exc:
        return ConnectionResult(False, f"Lightspeed refused ({exc.status})")
    except RSeriesError as exc:
        return ConnectionResult(False, f"Lightspeed could not be reached ({type(exc).__name__})")
    names = ", ".join(f"{a.get('name')} ({a.get('accountID')})" for a in accounts)
    return ConnectionResult(True, f"Lightspeed reachable; account {names}")


_FLOW_OF_JOB = {
    "order_download": "order_download",
    "inventory_upload": "inventory_upload",
    "inventory_reconcile": "inventory_upload",
}


def _job_on(config: PosConfig, job: str) -> bool:
    if job == "connection_keepalive":
        return True
    if not config.enabled:
        return False
    if job == "catalog_upload":
        return (
            config.price_upload
            or config.cost_upload
            or config.auto_enable_new_products
            or config.auto_create_products
        )
    flow = _FLOW_OF_JOB.get(job)
    return bool(flow and getattr(config, flow))


@hookimpl
def hub_job_schedule(ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
    spec = SCHEDULES.get(job.name)
    if spec is None:
        return None
    config = _config(ctx)
    enabled = _job_on(config, job.name)
    if job.name == "connection_keepalive":
        enabled = _connected(ctx)
    return ScheduleSpec(cron=spec.cron, enabled=enabled)


@hookimpl
def hub_job_refusal(ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
    config = _config(ctx)
    if not _connected(ctx):
        return "Lightspeed POS is not connected: connect it first (Fetch Token)"
    if job == "connection_keepalive":
        return None
    if not config.enabled:
        return "Lightspeed POS is not enabled (the enabled setting is off)"
    if not _job_on(config, job):
        names = {
            "order_download": "order download",
            "inventory_upload": "inventory upload",
            "inventory_reconcile": "inventory upload",
            "catalog_upload": "price upload, cost upload, auto enable or auto create",
        }
        return f"{names.get(job, job)} is not enabled for this install"
    if not config.shops:
        return "no Lightspeed shops yet: run the refresh-shops action"
    if config.shops_mapping_enabled and not config.active_shops():
        return "no shop is mapped to a warehouse: map the shops first"
    return None


# -- connecting ------------------------------------------------------------------------------


@hookimpl
def hub_connect_start(ctx: PluginContext, request: ConnectRequest) -> str:
    return connect.authorize_url(ctx, request)


@hookimpl
def hub_connect_finish(ctx: PluginContext, grant: ConnectGrant) -> ConnectedAccount:
    """Exchange the code, read ``Account.json``; the account must be the configured
    ``account_id`` when one was entered (else refused: the core stores nothing)."""
    account = connect.finish_connect(ctx, grant)
    wanted = _config(ctx).account_id
    if wanted and account.account_id != wanted:
        raise ConnectRefused(
            f"the Lightspeed login reaches account {account.account_id}, not the configured "
            f"account {wanted}: log in to account {wanted}, or change account_id"
        )
    ctx.save_secrets({"token_received_on": datetime.now(UTC).replace(microsecond=0).isoformat()})
    return account


@hookimpl
def hub_disconnect(ctx: PluginContext) -> bool:
    connect.disconnect(ctx)
    ctx.save_secrets({"token_received_on": None})
    return True


# -- actions ---------------------------------------------------------------------------------


@hookimpl
def hub_plugin_action(ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
    if action != "refresh-shops":
        raise Invalid(f"unknown action {action!r}")
    config = _config(ctx)
    try:
        with open_connection(ctx, max_attempts=3) as connection:
            client = connection.client
            shops = list(client.iterate("Shop", {"archived": "true"}))
            registers = list(client.iterate("Register"))
            employees = list(client.iterate("Employee"))
    except ReconnectNeeded as exc:
        raise Refused(f"the Lightspeed connection was lost ({exc}): reconnect first") from None
    except RSeriesAPIError as exc:
        raise Refused(
            f"Lightspeed refused reading the shops ({exc.status}: {exc.message})"
        ) from None
    except RSeriesUnavailableError as exc:
        raise Refused(f"Lightspeed could not be reached ({exc}); try again") from None
    merged, counts = merge_shops(config.shops, shops, registers)
    staff = employees_of(employees)
    updated = ctx.update_config(
        {
            "shops": [s.model_dump() for s in merged],
            "employees": [e.model_dump() for e in staff],
        }
    )
    assert isinstance(updated, PosConfig)
    return ActionResult(
        data={
            **counts,
            "shops": [s.model_dump() for s in updated.shops],
            "employees": [e.model_dump() for e in updated.employees],
        }
    )


# -- jobs ------------------------------------------------------------------------------------


@hookimpl
def hub_order_import(ctx: JobContext) -> bool:
    if ctx.job == "connection_keepalive":
        _keepalive(ctx)
        return True
    from plugins.lightspeed_pos.orders import run_order_download

    run_order_download(ctx)
    return True


@hookimpl
def hub_inventory_export(ctx: JobContext) -> bool:
    from plugins.lightspeed_pos.inventory import run_inventory_upload

    run_inventory_upload(ctx, reconcile=ctx.job == "inventory_reconcile")
    return True


@hookimpl
def hub_catalog_export(ctx: JobContext) -> bool:
    from plugins.lightspeed_pos.catalog import run_catalog_upload

    run_catalog_upload(ctx)
    return True


def _keepalive(ctx: JobContext) -> None:
    """Rotate an idle install's token pair before its refresh token's 30 days run out."""
    received = token_received_on(ctx)
    age = datetime.now(UTC) - received if received else None
    if age is not None and age < KEEPALIVE_AFTER and not ctx.options.get("force"):
        ctx.skip(f"the token pair is {age.days} day(s) old: nothing to do")
        return
    try:
        with open_connection(ctx, max_attempts=2) as connection:
            connection.oauth.refresh(stale_access_token=None)
    except HubError as exc:
        ctx.failed(exc.detail)
        return
    except ReconnectNeeded as exc:
        ctx.error(str(exc))
        ctx.failed(f"the Lightspeed connection was lost ({exc}): reconnect the install")
        return
    except RSeriesError as exc:
        ctx.error(str(exc))
        ctx.partial(f"the refresh failed ({exc}); the next run tries again")
        return
    ctx.count("refreshed")
