"""Records exchanged between the core and the plugins.

Plugins turn vendor payloads into these records and back; the core owns what happens to
them. Everything here is plain data (dataclasses / pydantic), with no database access.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ActionResult",
    "ActionSpec",
    "ApplyOutcome",
    "ApplyResult",
    "Capability",
    "ClearScope",
    "ConfigProblem",
    "ConnectGrant",
    "ConnectRequest",
    "ConnectedAccount",
    "ConnectionInfo",
    "ConnectionResult",
    "InventoryRecord",
    "JobSpec",
    "MatchRule",
    "PendingItem",
    "PluginManifest",
    "RecordOutcome",
    "ScheduleSpec",
    "managed_secret_field",
    "normalise_brand",
    "normalise_part_number",
    "open_quantity",
    "secret_field",
    "vendor_url_field",
]

Catalog = Literal["aftermarket", "oem", "private_label"]
CATALOGS: tuple[str, ...] = ("aftermarket", "oem", "private_label")

_PART_STRIP = re.compile(r"[\s\-./_]+")


def normalise_part_number(value: str | None) -> str:
    """Upper case with spaces, dashes, dots, slashes and underscores removed."""
    return _PART_STRIP.sub("", value or "").upper()


def normalise_brand(value: str | None) -> str:
    """Brands compare case-insensitively and ignoring surrounding/multiple spaces."""
    return " ".join((value or "").split()).casefold()


def secret_field(default: Any = None, **kwargs: Any) -> Any:
    """A pydantic ``Field`` for a secret config value: encrypted at rest, write-only, masked."""
    extra = dict(kwargs.pop("json_schema_extra", {}) or {})
    extra.update({"writeOnly": True, "x-secret": True})
    return Field(default=default, json_schema_extra=extra, **kwargs)


def managed_secret_field(**kwargs: Any) -> Any:
    """A secret the hub fills itself (OAuth tokens, from the connect flow): encrypted and
    masked like :func:`secret_field`, ``readOnly`` in the schema, and refused (422) when a
    config change tries to set it by hand."""
    extra = dict(kwargs.pop("json_schema_extra", {}) or {})
    extra.update({"readOnly": True, "x-managed": True})
    return secret_field(None, json_schema_extra=extra, **kwargs)


def vendor_url_field(default: str = "", **kwargs: Any) -> Any:
    """A pydantic ``Field`` for a config value that directs the hub's outbound requests (a
    vendor base-URL override): ``"x-admin-only": true`` in the schema, so only an admin key
    may change it, and every value must pass :func:`hub.core.outbound.vendor_url_refusal`
    (the allow-list) when stored and again before requests are sent. Empty means the
    plugin's default (the vendor's real host)."""
    extra = dict(kwargs.pop("json_schema_extra", {}) or {})
    extra.update({"x-admin-only": True})
    kwargs.setdefault("max_length", 500)
    return Field(default=default, json_schema_extra=extra, **kwargs)


class Capability(StrEnum):
    INVENTORY_IMPORT = "inventory_import"
    INVENTORY_EXPORT = "inventory_export"
    ORDER_EXPORT = "order_export"
    ORDER_IMPORT = "order_import"
    CATALOG_EXPORT = "catalog_export"


class ScheduleSpec(BaseModel):
    """When a job runs by itself, in the tenant's time zone.

    ``cron`` is a five-field cron expression. ``window`` ("HH:MM-HH:MM", inclusive) keeps
    slots inside a daily window; ``disabled_days`` (mon…sun) are days with no run at all.
    """

    model_config = ConfigDict(frozen=True)

    cron: str
    window: str | None = None
    disabled_days: tuple[str, ...] = ()
    enabled: bool = True


class JobSpec(BaseModel):
    """A job a plugin offers: its name, what it does and its default schedule.

    ``on_change`` asks the core to queue the job (trigger ``change``) when the tenant's
    catalog, inventory or listings changed, or the install's settings were saved, since the
    job was last queued for a change: each scheduler pass (``HUB_SCHEDULER_INTERVAL_SECONDS``,
    30 s by default) compares the tenant's change counter and the settings' save time with
    what it saw when it last queued the job, so a burst of
    changes becomes one run (debounced) and an idle install writes no runs at all. A job
    refused at that moment (not connected, setup incomplete) is not queued and is tried again
    at the next pass. It works beside ``default_schedule`` (a periodic run as well) or alone.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    kind: Capability
    default_schedule: ScheduleSpec | None = None
    on_change: bool = False


class ActionSpec(BaseModel):
    """A named operation of a plugin beyond its jobs (refresh shops, list price levels,
    pending mappings), served at ``…/plugins/{plugin_id}/actions/{name}`` and rendered
    generically by the CLI and the console.

    ``returns`` says what the action answers: ``json`` (any JSON value), ``csv`` (text, also
    offered as JSON rows where the action supports ``format``), or ``redirect`` (a URL the
    caller is sent to). ``needs_connection`` refuses the action (409) while the install is
    not connected; ``params`` documents the accepted parameters (name → description).
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,63}$")
    title: str
    method: Literal["GET", "POST"] = "GET"
    returns: Literal["json", "csv", "redirect"] = "json"
    description: str = ""
    params: dict[str, str] = Field(default_factory=dict)
    needs_connection: bool = False


@dataclass(frozen=True)
class ActionResult:
    """What an action answers: ``data`` for JSON, ``csv`` text, or a ``redirect`` URL.

    ``csv`` may be a function returning the text, for a CSV that costs to build (every row
    of a long list) and is built only when the caller asks for it (``format=csv``): read it
    with :meth:`csv_text`."""

    data: Any = None
    csv: str | Callable[[], str] | None = None
    redirect: str | None = None

    def csv_text(self) -> str | None:
        """The CSV text (built now when ``csv`` is a function), or None."""
        return self.csv() if callable(self.csv) else self.csv


@dataclass(frozen=True)
class ConnectRequest:
    """What a plugin needs to build its vendor's authorize URL (OAuth 2 authorisation code
    with PKCE): the single-use ``state``, the S256 ``code_challenge`` and the hub's one
    ``redirect_uri``. The core keeps the verifier; the plugin never sees it here."""

    state: str
    code_challenge: str
    redirect_uri: str
    code_challenge_method: str = "S256"


@dataclass(frozen=True)
class ConnectGrant:
    """The vendor's answer on the callback, for the plugin to exchange: the ``code``, the
    PKCE ``code_verifier`` kept by the core, the ``redirect_uri`` the code was issued to."""

    code: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class ConnectedAccount:
    """The account a connection reaches, as the install view shows it."""

    account_id: str
    account_name: str = ""


class PluginManifest(BaseModel):
    """What a plugin is: id, title, version, its config model, jobs and capabilities.

    ``connects`` says the plugin connects through the core's OAuth flow (``connect`` /
    ``/oauth/callback`` / ``disconnect``); ``actions`` lists its named operations."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    title: str
    version: str
    config_model: type[BaseModel]
    jobs: tuple[JobSpec, ...] = ()
    capabilities: tuple[Capability, ...] = ()
    description: str = ""
    actions: tuple[ActionSpec, ...] = ()
    connects: bool = False

    def job(self, name: str) -> JobSpec | None:
        return next((j for j in self.jobs if j.name == name), None)

    def action(self, name: str) -> ActionSpec | None:
        return next((a for a in self.actions if a.name == name), None)

    def managed_fields(self) -> list[str]:
        """Names of the secret fields the hub fills itself (see :func:`managed_secret_field`)."""
        names = []
        for name, info in self.config_model.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and extra.get("x-managed"):
                names.append(name)
        return names

    def admin_only_fields(self) -> list[str]:
        """Names of the config fields only an admin key may change (see
        :func:`vendor_url_field`)."""
        names = []
        for name, info in self.config_model.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and extra.get("x-admin-only"):
                names.append(name)
        return names

    def secret_fields(self) -> list[str]:
        """Names of the config fields marked secret."""
        names = []
        for name, info in self.config_model.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and extra.get("x-secret"):
                names.append(name)
        return names


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    detail: str


@dataclass(frozen=True)
class ConfigProblem:
    """A config value that is wrong: the field (dotted path) and why."""

    field: str
    message: str


class MatchRule(StrEnum):
    """How a vendor record finds its product."""

    SKU = "sku"
    CATALOG_BRAND_PART = "catalog_brand_part"
    UPC = "upc"
    EAN = "ean"
    MPN = "mpn"
    # The record's ``upc``, else its ``ean``, else its ``mpn`` (+ brand): the first of them
    # that matches any product decides (see hub.core.inventory).
    UPC_EAN_MPN = "upc_ean_mpn"


@dataclass(frozen=True, slots=True)
class InventoryRecord:
    """A quantity (and optional sale price / lead time) a vendor reports for one part.

    ``key`` is what the match rule compares: the SKU, the part number (with ``catalog`` and
    ``brand``), the UPC, EAN or MPN. ``ref`` names the record in reports (e.g. "TR 12-345").
    """

    key: str
    quantity: int
    catalog: str = ""
    brand: str = ""
    sale_price: Decimal | None = None
    lead_time_days: int | None = None
    ref: str = ""
    # For MatchRule.UPC_EAN_MPN (blank: the record has none).
    upc: str = ""
    ean: str = ""
    mpn: str = ""


@dataclass(frozen=True)
class ClearScope:
    """Products whose levels from this install are set to zero when a batch does not report
    them: every product of ``catalog`` + ``brand`` (either may be None for "any")."""

    catalog: str | None = None
    brand: str | None = None


class ApplyOutcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CLEARED = "cleared"
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What the apply engine did with one record (or, for ``cleared``, one product)."""

    outcome: ApplyOutcome
    ref: str
    key: str
    sku: str | None
    old_quantity: int | None
    new_quantity: int | None
    sale_price: Decimal | None = None
    product_id: int | None = None


@dataclass
class ApplyResult:
    outcomes: list[RecordOutcome] = field(default_factory=list)
    changed_product_ids: set[int] = field(default_factory=set)

    def count(self, outcome: ApplyOutcome) -> int:
        return sum(1 for o in self.outcomes if o.outcome is outcome)

    @property
    def counts(self) -> dict[str, int]:
        result = {o.value: 0 for o in ApplyOutcome}
        for item in self.outcomes:
            result[item.outcome.value] += 1
        return result


def open_quantity(quantity: int, canceled: int, done: int) -> int:
    """What is still open of an order line: ordered less canceled less ``done`` (shipped, or
    fulfilled), never below zero."""
    return max(quantity - canceled - done, 0)


@dataclass(frozen=True)
class OrderLineView:
    id: int
    line_no: int
    sku: str
    quantity: int
    canceled_quantity: int
    shipped_quantity: int
    unit_price: Decimal
    manufacturer: str
    description: str
    product_id: int | None = None
    catalog: str | None = None
    brand: str | None = None
    part_number: str | None = None
    fulfilled_quantity: int = 0
    location_code: str = ""
    upc: str | None = None
    ean: str | None = None

    @property
    def open_quantity(self) -> int:
        """What is still to ship (:func:`open_quantity`)."""
        return open_quantity(self.quantity, self.canceled_quantity, self.shipped_quantity)

    @property
    def unfulfilled_quantity(self) -> int:
        """What is still to be fulfilled (by a supplier or in store): ordered less canceled
        less fulfilled, never below zero (:func:`open_quantity`)."""
        return open_quantity(self.quantity, self.canceled_quantity, self.fulfilled_quantity)


@dataclass(frozen=True)
class OrderView:
    """An order as plugins see it (read-only), with its lines and their products."""

    id: int
    number: str
    status: str
    channel: str
    placed_at: datetime
    currency: str
    customer_id: str
    billing: dict[str, Any]
    shipping: dict[str, Any]
    payments: list[dict[str, Any]]
    shipping_cost: Decimal
    shipping_carrier: str
    shipping_method: str
    tax: Decimal
    total: Decimal
    comment: str
    lines: tuple[OrderLineView, ...]
    canceled_at: datetime | None = None
    cancel_reason: str = ""

    @property
    def captured(self) -> Decimal:
        """The sum of the captured payments."""
        return captured_amount(self.payments)

    @property
    def balance_due(self) -> Decimal:
        """Total less captured payments (0: the order is balanced, paid in full)."""
        return (self.total - self.captured).quantize(Decimal("0.01"))

    @property
    def fulfilled(self) -> bool:
        """Every line is fulfilled (by a supplier or in store), canceled quantities aside."""
        return all(line.unfulfilled_quantity == 0 for line in self.lines)


def captured_amount(payments: list[dict[str, Any]]) -> Decimal:
    """The sum of the captured payments of an order's ``payments`` (as stored)."""
    return sum(
        (Decimal(str(p.get("amount") or "0")) for p in payments if p.get("captured", True)),
        Decimal("0"),
    ).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ConnectionInfo:
    """The install's live OAuth connection (``ctx.connection``): the account it reaches and
    when it was made. None on the context while not connected (or reconnect needed)."""

    account_id: str
    account_name: str
    connected_at: datetime


@dataclass(frozen=True)
class PendingItem:
    """A vendor record that does not sync, and why (``ctx.set_pending``): ``vendor_id`` is the
    vendor's id of it, ``reason`` a word (e.g. ``no_matching_product``), ``ref`` a name for
    people, ``details`` what the report shows (JSON values)."""

    vendor_id: str
    reason: str
    ref: str = ""
    details: dict[str, Any] = field(default_factory=dict)
