"""The plugin contract: the one package a plugin imports.

Everything a plugin may use is listed in ``__all__`` below — the hook marker, the contexts it
is handed, the records it exchanges with the core, the errors it raises, and the helpers for
vendor-facing routes (and ``serve_in_thread``, which serves a plugin's vendor sandbox on
loopback). A plugin imports nothing else of the hub (a test holds every plugin to
that); the author guide is ``docs/plugins.md``.

Layout (after tox 4's ``plugin/``): :mod:`~hub.plugin.spec` (every hook spec),
:mod:`~hub.plugin.manager` (registration and the typed facade over ``pm.hook``),
:mod:`~hub.plugin.context` (``PluginContext`` / ``JobContext``),
:mod:`~hub.plugin.routes` (vendor routes) and :mod:`~hub.plugin.testing` (the contract checks
and fixtures, a pytest plugin for plugin authors).
"""

from __future__ import annotations

from hub.core.changes import ChangeBatch, InventoryChange, ProductChange
from hub.core.collector import collect_young
from hub.core.collector import paused as collector_paused
from hub.core.errors import ConnectRefused, HubError, Invalid, NotFound, Refused
from hub.core.inventory import BoundProduct, LocationsResult
from hub.core.listings import ListingView
from hub.core.orders import AddressIn, LineIn, OrderImport, OrderImported, OrderIn, PaymentIn
from hub.core.records import (
    CATALOGS,
    ActionResult,
    ActionSpec,
    ApplyOutcome,
    ApplyResult,
    Capability,
    ClearScope,
    ConfigProblem,
    ConnectedAccount,
    ConnectGrant,
    ConnectionInfo,
    ConnectionResult,
    ConnectRequest,
    InventoryRecord,
    JobSpec,
    MatchRule,
    OrderLineView,
    OrderView,
    PendingItem,
    PluginManifest,
    RecordOutcome,
    ScheduleSpec,
    managed_secret_field,
    normalise_brand,
    normalise_part_number,
    secret_field,
    vendor_url_field,
)
from hub.core.runs import RunFenced, csv_field, csv_line, report_csv
from hub.core.schedule import WEEKDAYS, Weekday
from hub.core.tenants import TenantInfo
from hub.core.types import utcnow
from hub.plugin.context import (
    Claim,
    CreateRefused,
    JobContext,
    OfferSnapshot,
    PluginContext,
    TransientJobError,
)
from hub.plugin.routes import VendorRequest, call_blocking, vendor_route
from hub.plugin.spec import hookimpl
from hub.serving import serve_in_thread

__all__ = [
    "CATALOGS",
    "WEEKDAYS",
    "ActionResult",
    "ActionSpec",
    "AddressIn",
    "ApplyOutcome",
    "ApplyResult",
    "BoundProduct",
    "Capability",
    "ChangeBatch",
    "Claim",
    "ClearScope",
    "ConfigProblem",
    "ConnectGrant",
    "ConnectRefused",
    "ConnectRequest",
    "ConnectedAccount",
    "ConnectionInfo",
    "ConnectionResult",
    "CreateRefused",
    "HubError",
    "Invalid",
    "InventoryChange",
    "InventoryRecord",
    "JobContext",
    "JobSpec",
    "LineIn",
    "ListingView",
    "LocationsResult",
    "MatchRule",
    "NotFound",
    "OfferSnapshot",
    "OrderImport",
    "OrderImported",
    "OrderIn",
    "OrderLineView",
    "OrderView",
    "PaymentIn",
    "PendingItem",
    "PluginContext",
    "PluginManifest",
    "ProductChange",
    "RecordOutcome",
    "Refused",
    "RunFenced",
    "ScheduleSpec",
    "TenantInfo",
    "TransientJobError",
    "VendorRequest",
    "Weekday",
    "call_blocking",
    "collect_young",
    "collector_paused",
    "csv_field",
    "csv_line",
    "hookimpl",
    "managed_secret_field",
    "normalise_brand",
    "normalise_part_number",
    "report_csv",
    "secret_field",
    "serve_in_thread",
    "utcnow",
    "vendor_route",
    "vendor_url_field",
]
