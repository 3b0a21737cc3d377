"""Every hook a plugin can implement, typed and documented. Project name ``hub``.

A plugin is an object or module with ``@hookimpl`` functions named after these specs
(``from hub.plugin import hookimpl``). Hooks that concern one install (everything taking
``ctx``) are called on that install's plugin only; :func:`hub_http_routes` is collected from
every registered plugin. Core code never calls these through ``pm.hook``: it goes through the
typed facade in :mod:`hub.plugin.manager`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
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
    from hub.plugin.context import JobContext, PluginContext

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")

__all__ = ["hookimpl", "hookspec"]

# A hook spec's name must be listed in docs/plugins.md (a test holds the guide to that).

# -------------------------------------------------------------------------
# Registration hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_plugin_manifest() -> PluginManifest:
    """Describe the plugin: id, title, version, config model, jobs and capabilities.

    Called once at registration. The id is what tenants enable and what the REST API uses.

    :return: the plugin's :class:`~hub.plugin.PluginManifest`. Stops at first non-None
        result (the call is made on one plugin).
    """


@hookspec
def hub_http_routes() -> list[Any]:
    """Contribute HTTP route handlers (Litestar handlers or routers) to the hub's app.

    Used for endpoints vendors call (the DMS polls). Build each with
    :func:`hub.plugin.vendor_route`: the core resolves the tenant and the install from the
    path and decides whether the handler runs on the event loop or in a thread; the handler
    authenticates the vendor.

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
# Connection hooks (OAuth 2, owned by the core: see hub.core.connections)
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_connect_start(ctx: PluginContext, request: ConnectRequest) -> str | None:
    """The vendor's authorize URL for this install, for a manifest with ``connects=True``.

    The core made ``request.state`` (single-use, expiring, bound to this install) and the
    PKCE challenge, and keeps the verifier; the plugin only puts them, with its client id
    and scope, into the vendor's URL.

    :param ctx: the install's context.
    :param request: state, S256 code challenge and the hub's one redirect URI.
    :return: the URL to send the user to. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_connect_finish(ctx: PluginContext, grant: ConnectGrant) -> ConnectedAccount | None:
    """Exchange the authorisation code for tokens, check the account, and store the tokens
    with ``ctx.save_secrets`` (encrypted).

    Raise :class:`hub.plugin.ConnectRefused` with a sentence for the user to refuse the
    connection (wrong role, exchange refused). ``ctx.save_secrets`` is staged here: the core
    stores the values with the connection only when an account is returned, so a hook that
    raises — even after saving — stores nothing (see :mod:`hub.core.connections`).

    :param ctx: the install's context.
    :param grant: the code, the PKCE verifier and the redirect URI.
    :return: the connected account. Stops at first non-None result.
    """


@hookspec(firstresult=True)
def hub_disconnect(ctx: PluginContext) -> bool | None:
    """Drop the install's tokens (and revoke them at the vendor where it can). The core
    then shows the install as ``not_connected``.

    :param ctx: the install's context.
    :return: True when handled. Stops at first non-None result.
    """


# -------------------------------------------------------------------------
# Action hooks
# -------------------------------------------------------------------------


@hookspec(firstresult=True)
def hub_plugin_action(ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
    """Run one of the actions the manifest declares (``ActionSpec``), e.g. refresh shops.

    Raise :class:`hub.plugin.Refused` when the install cannot do it now (409) and
    :class:`hub.plugin.Invalid` for bad ``params`` (422).

    :param ctx: the install's context.
    :param action: the action's name, one of the manifest's.
    :param params: the caller's parameters (POST body ``params`` or the query string).
    :return: the answer. Stops at first non-None result.
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
