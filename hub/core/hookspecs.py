"""Every hook a plugin can implement, typed and documented. Project name ``hub``.

A plugin is an object or module with ``@hookimpl`` functions named after these specs. Hooks
that concern one install (everything taking ``ctx``) are called on that install's plugin only;
:func:`hub_http_routes` is collected from every registered plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.core.context import JobContext, PluginContext
    from hub.core.records import (
        ConfigProblem,
        ConnectionResult,
        JobSpec,
        OrderView,
        PluginManifest,
        ScheduleSpec,
    )

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")

__all__ = ["hookimpl", "hookspec"]

# -------------------------------------------------------------------------
# Registration hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_plugin_manifest() -> PluginManifest:
    """Describe the plugin: id, title, version, config model, jobs and capabilities.

    Called once at registration. The id is what tenants enable and what the REST API uses.

    :return: the plugin's :class:`~hub.core.records.PluginManifest`. Stops at first non-None
        result (the call is made on one plugin).
    """


@hookspec
def hub_http_routes() -> list[Any]:
    """Contribute HTTP route handlers (Litestar handlers or routers) to the hub's app.

    Used for endpoints vendors call (the DMS polls) and OAuth callbacks. Routes are mounted
    as given; each route is responsible for resolving its tenant and authenticating.

    :return: a list of route handlers; every plugin's lists are concatenated.
    """


# -------------------------------------------------------------------------
# Configuration hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_validate_config(ctx: PluginContext) -> list[ConfigProblem] | None:
    """Check an install's config beyond its model (e.g. that a location exists).

    Called before a config change is saved; ``ctx.config`` is the proposed config. A
    non-empty list refuses the change (HTTP 422 naming each field).

    :param ctx: the install's context with the proposed config.
    :return: the problems found, or an empty list. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_install_warnings(ctx: PluginContext) -> list[str] | None:
    """Warnings to show on the install (e.g. "There are currently no supplier codes
    configured"). They never block saving.

    :param ctx: the install's context.
    :return: human sentences. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_install_status(ctx: PluginContext) -> str | None:
    """The install's status word when the plugin knows better than "ok" (e.g.
    ``setup_incomplete``). ``reconnect_needed`` is set by the core's token handling.

    :param ctx: the install's context.
    :return: a status word, or None for the stored status. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_test_connection(ctx: PluginContext) -> ConnectionResult:
    """Check that the vendor can be reached with the install's credentials.

    The ``detail`` must never contain a secret.

    :param ctx: the install's context.
    :return: ``ConnectionResult(ok, detail)``. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_job_schedule(ctx: PluginContext, job: JobSpec) -> ScheduleSpec | None:
    """The effective schedule of ``job`` for this install (cron, window, disabled days),
    taking the install's config into account; None to use the job's default schedule.

    :param ctx: the install's context.
    :param job: the job as declared in the manifest.
    :return: the schedule. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_job_refusal(ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
    """Why ``job`` cannot be queued now (answered as HTTP 409), or None when it can.

    :param ctx: the install's context.
    :param job: the job's name.
    :param options: the options the run would get (e.g. ``{"force": True}``).
    :return: a human sentence naming the missing step. Stops at first non-None result.
    """


# -------------------------------------------------------------------------
# Inventory hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_inventory_import(ctx: JobContext) -> bool | None:
    """Run an inventory import job (vendor → hub): fetch the vendor's quantities and hand
    them to ``ctx.apply_inventory(...)``. Counts, errors and a report go on ``ctx``
    (``ctx.counts``, ``ctx.error(...)``, ``ctx.report``).

    :param ctx: the run's context; ``ctx.job`` names the job, ``ctx.options`` its options.
    :return: True when handled. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_inventory_export(ctx: JobContext) -> bool | None:
    """Run an inventory export job (hub → vendor): push quantities that changed.

    :param ctx: the run's context.
    :return: True when handled. Stops at first non-None result.
    """


# -------------------------------------------------------------------------
# Order hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_order_exportable(ctx: PluginContext, order: OrderView) -> bool | None:
    """Whether this install exports ``order`` (an export row is created when True).

    Called when an order enters the hub, for every enabled install whose plugin has the
    ``order_export`` capability.

    :param ctx: the install's context.
    :param order: the order as stored, with its lines.
    :return: True to export, False not to. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_order_export(ctx: JobContext) -> bool | None:
    """Run an order export job (hub → vendor) for push plugins: take pending exports with
    ``ctx.offer_orders()`` and move each through the state machine
    (``ctx.acknowledge_export`` / ``reject_export`` / ``fail_export``). Pull plugins (the DMS)
    serve their exports from their HTTP routes instead.

    :param ctx: the run's context.
    :return: True when handled. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_order_import(ctx: JobContext) -> bool | None:
    """Run an order import job (vendor sales → hub orders) through ``ctx.store_order``.

    :param ctx: the run's context.
    :return: True when handled. Stops at first non-None result.
    """


# -------------------------------------------------------------------------
# Catalog hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_catalog_export(ctx: JobContext) -> bool | None:
    """Run a catalog export job (hub → vendor): prices, costs, product creation.

    :param ctx: the run's context.
    :return: True when handled. Stops at first non-None result.
    """
