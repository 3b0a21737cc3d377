"""Setup of a ``lightspeed_retail`` install: the Admin-role check of the connection, the
account change, and the gate that keeps everything still until setup is complete.

The seed: "A Lightspeed user needs to have the Admin role to complete setup (This is
different than Owner or Manager role)"; "After your Lightspeed Credentials are connected, any
previous Lightspeed Retail POS connection will be inoperable"; "Once you begin setup, you must
complete the configuration process for your integration to function."

- **Admin role.** The access token's ``sub`` is the employee who authorised; their
  ``Employee`` with ``load_relations=["EmployeeRole"]`` must have the role named ``Admin``.
  Otherwise :data:`ADMIN_REQUIRED` refuses the connection before any token is stored.
- **The previous connection.** New tokens replace the install's old pair (the old refresh
  token is dropped, so the old connection cannot be used again). The core refuses another
  account while one is connected (disconnect first). The account the install's state was
  made for is kept (cursor :data:`BINDINGS_ACCOUNT`): the first run after another account
  was connected (:func:`adopt_account`) drops every item and sale binding, the pending list
  and the import cursors (the next import is a full pass), and a warning says so for
  :data:`NOTICE_DAYS` days. Nothing happens while connecting: the hook has no side effect
  the core's own refusal could leave behind.
- **The gate** (:func:`missing_steps`): connected; at least one store mapped; the settings
  saved after connecting (they name the account's shops, employees and registers — a new
  connection asks for them to be saved again). Until then the install's status is
  ``setup_incomplete``, its jobs are refused (409 naming the first missing step) and not
  scheduled.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hub.plugin import ConnectRefused, PluginContext, utcnow
from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.errors import RSeriesAPIError
from plugins.lightspeed_rseries.normalise import from_container
from plugins.lightspeed_rseries.oauth import employee_id_from_access_token
from plugins.lightspeed_rseries.tokens import TokenSet

from .config import RetailConfig

__all__ = [
    "ADMIN_REQUIRED",
    "BINDINGS_ACCOUNT",
    "account_notice",
    "adopt_account",
    "check_admin",
    "missing_steps",
]

ADMIN_REQUIRED = (
    "A Lightspeed user needs to have the Admin role to complete setup "
    "(Owner or Manager is not enough)"
)
ADMIN_ROLE = "Admin"
BINDINGS_ACCOUNT = "bindings_account"
ACCOUNT_NOTICE = "account_change_notice"
NOTICE_DAYS = 30

STEP_CONNECT = "connect Lightspeed Retail with an employee whose role is Admin"
STEP_STORES = (
    "map at least one Lightspeed shop to a location (config stores: [{shop_id, location}]; "
    "the action shops lists the shops)"
)
STEP_SETTINGS = "save the settings once connected (PUT the install's config)"


def check_admin(client: RSeriesClient, tokens: TokenSet) -> None:
    """Refuse (before anything is stored) unless the employee who authorised has the role
    named Admin."""
    employee_id = employee_id_from_access_token(tokens.access_token)
    if not employee_id:
        raise ConnectRefused(ADMIN_REQUIRED)
    try:
        employee = client.get(
            "Employee", employee_id, {"load_relations": q.load_relations("EmployeeRole")}
        )
        roles = from_container(employee.get("EmployeeRole"), "EmployeeRole")
        if not roles and str(employee.get("employeeRoleID") or "0") != "0":
            roles = [client.get("EmployeeRole", int(str(employee["employeeRoleID"])))]
    except RSeriesAPIError:
        # An employee who may not read their own record is not an Admin.
        raise ConnectRefused(ADMIN_REQUIRED) from None
    if not any(str(role.get("name") or "").strip() == ADMIN_ROLE for role in roles):
        raise ConnectRefused(ADMIN_REQUIRED)


def adopt_account(ctx: PluginContext, state_cursors: tuple[str, ...] = ()) -> None:
    """At the start of a run: when the connected account is not the one the install's state
    was made for, drop that state (bindings, pending list, ``state_cursors``) and leave the
    notice; then remember the account."""
    if ctx.connection is None:
        return
    account = ctx.connection.account_id
    previous = ctx.cursor(BINDINGS_ACCOUNT)
    if previous == account:
        return
    if previous:
        dropped = ctx.reset_bindings()
        ctx.set_pending([], full=True)
        for name in state_cursors:
            ctx.set_cursor(name, "")
        notice = {"from": previous, "to": account, "at": utcnow().isoformat(), "bindings": dropped}
        ctx.set_cursor(ACCOUNT_NOTICE, json.dumps(notice))
    ctx.set_cursor(BINDINGS_ACCOUNT, account)


def account_notice(ctx: PluginContext, now: datetime | None = None) -> str | None:
    """The warning after an account change: before the next run, that the state will be
    reset; after it, that it was (shown for :data:`NOTICE_DAYS` days)."""
    previous = ctx.cursor(BINDINGS_ACCOUNT)
    if ctx.connection is not None and previous and previous != ctx.connection.account_id:
        return (
            f"The Lightspeed account changed from {previous} to {ctx.connection.account_id}: "
            "the item bindings and pending mappings of the old account are reset at the next "
            "run, which imports everything again"
        )
    raw = ctx.cursor(ACCOUNT_NOTICE)
    if not raw:
        return None
    try:
        notice = json.loads(raw)
        at = datetime.fromisoformat(notice["at"])
    except (ValueError, KeyError, TypeError):
        return None
    if (now or utcnow()) - at > timedelta(days=NOTICE_DAYS):
        return None
    return (
        f"The Lightspeed account changed from {notice['from']} to {notice['to']} on "
        f"{at:%Y-%m-%d}: the item bindings were reset ({notice.get('bindings', 0)}); the next "
        "import matches the items again"
    )


def missing_steps(ctx: PluginContext) -> list[str]:
    """The setup steps still to do, in order (empty: setup is complete)."""
    config = ctx.config
    assert isinstance(config, RetailConfig)
    steps = []
    connection = ctx.connection
    if connection is None:
        steps.append(STEP_CONNECT)
    if not config.stores:
        steps.append(STEP_STORES)
    if (
        connection is None
        or ctx.configured_at is None
        or ctx.configured_at < connection.connected_at
    ):
        steps.append(STEP_SETTINGS)
    return steps
