"""The hub's tables (SQLModel). Every piece of state lives here; plugins never touch it directly.

Conventions: ids are integers; times are aware UTC (:class:`UTCDateTime`); money is
:class:`Money`; free-form structures (addresses, counts) are JSON.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hub.core.types import Money, UTCDateTime, utcnow

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Binding",
    "ChangeCounter",
    "Cursor",
    "InventoryLevel",
    "JobRun",
    "Lease",
    "Listing",
    "Location",
    "OAuthState",
    "Order",
    "OrderExport",
    "OrderFulfillment",
    "OrderLine",
    "OrderNote",
    "PendingMapping",
    "PluginInstall",
    "Product",
    "RunAttempt",
    "RunReport",
    "RunReportPart",
    "Shipment",
    "Tenant",
    "WebhookDelivery",
    "WebhookSubscription",
]


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, **kw)


def _ts_opt(**kw: Any) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kw)


def _money(**kw: Any) -> Any:
    return Field(default=None, sa_type=Money, **kw)


def _change_seq() -> Any:
    # The change sequence of the transaction that last changed the row (hub.core.changes).
    return Field(default=0, sa_type=BigInteger)


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: default.copy(), sa_column=Column(JSON, nullable=False))


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=40, unique=True, index=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    company_address: dict[str, Any] = _json({})
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """An API key: only its public prefix and a hash are stored. ``tenant_id`` None = admin."""

    __tablename__ = "api_keys"
    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True, index=True)
    key_hash: str = Field(max_length=128)
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id", index=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts_opt()


class PluginInstall(SQLModel, table=True):
    """A plugin enabled (or configured) for one tenant. Secrets are encrypted per field."""

    __tablename__ = "plugin_installs"
    __table_args__ = (UniqueConstraint("tenant_id", "plugin_id"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    plugin_id: str = Field(max_length=64)
    enabled: bool = False
    config: dict[str, Any] = _json({})
    secrets: dict[str, Any] = _json({})
    status: str = Field(default="ok", max_length=32)
    status_detail: str = Field(default="", max_length=1000)
    # The OAuth connection (hub.core.connections): the account reached, when and by whom.
    connected_account_id: str | None = Field(default=None, max_length=128)
    connected_account_name: str | None = Field(default=None, max_length=200)
    connected_at: datetime | None = _ts_opt()
    connected_by: str | None = Field(default=None, max_length=200)
    # When the config was last saved (PUT of the install): a plugin's setup may need its
    # settings saved after connecting (they name the connected account's records).
    configured_at: datetime | None = _ts_opt()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Location(SQLModel, table=True):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    code: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    created_at: datetime = _ts()


class Product(SQLModel, table=True):
    """A catalog product, indexed for every matching rule the plugins use."""

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        Index("ix_products_match_part", "tenant_id", "catalog", "brand_norm", "part_norm"),
        Index("ix_products_sku_norm", "tenant_id", "sku_norm"),
        Index("ix_products_upc", "tenant_id", "upc"),
        Index("ix_products_ean", "tenant_id", "ean"),
        Index("ix_products_mpn", "tenant_id", "mpn"),
        Index("ix_products_changes", "tenant_id", "change_seq", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    sku: str = Field(max_length=128)
    sku_norm: str = Field(default="", max_length=128)
    title: str = Field(default="", max_length=500)
    catalog: str = Field(default="aftermarket", max_length=32)
    brand: str = Field(default="", max_length=200)
    brand_norm: str = Field(default="", max_length=200)
    part_number: str = Field(default="", max_length=128)
    part_norm: str = Field(default="", max_length=128)
    upc: str | None = Field(default=None, max_length=32)
    ean: str | None = Field(default=None, max_length=32)
    mpn: str | None = Field(default=None, max_length=128)
    price: Decimal | None = _money()
    cost: Decimal | None = _money()
    sale_price: Decimal | None = _money()
    sale_starts_at: datetime | None = _ts_opt()
    sale_ends_at: datetime | None = _ts_opt()
    change_seq: int = _change_seq()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class InventoryLevel(SQLModel, table=True):
    """Quantity of one product at one location as reported by one source install."""

    __tablename__ = "inventory_levels"
    __table_args__ = (
        UniqueConstraint("product_id", "location_id", "install_id"),
        Index("ix_inventory_install_location", "install_id", "location_id"),
        Index("ix_inventory_changes", "tenant_id", "change_seq", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    product_id: int = Field(foreign_key="products.id")
    location_id: int = Field(foreign_key="locations.id")
    install_id: int | None = Field(default=None, foreign_key="plugin_installs.id")
    quantity: int = 0
    sale_price: Decimal | None = _money()
    lead_time_days: int | None = None
    change_seq: int = _change_seq()
    updated_at: datetime = _ts()


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_orders_tenant_created", "tenant_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    number: str = Field(max_length=64)
    channel: str = Field(default="webstore", max_length=32)
    status: str = Field(default="open", max_length=32)
    placed_at: datetime = _ts()
    currency: str = Field(default="USD", max_length=3)
    customer_id: str = Field(default="", max_length=64)
    billing: dict[str, Any] = _json({})
    shipping: dict[str, Any] = _json({})
    payments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    shipping_cost: Decimal = Field(default=Decimal("0"), sa_type=Money)
    shipping_carrier: str = Field(default="", max_length=64)
    shipping_method: str = Field(default="", max_length=64)
    tax: Decimal = Field(default=Decimal("0"), sa_type=Money)
    total: Decimal = Field(default=Decimal("0"), sa_type=Money)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body_hash: str = Field(default="", max_length=64)
    cancel_reason: str = Field(default="", max_length=1000)
    canceled_at: datetime | None = _ts_opt()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_lines"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    line_no: int
    sku: str = Field(max_length=128)
    product_id: int | None = Field(default=None, foreign_key="products.id")
    quantity: int
    canceled_quantity: int = 0
    shipped_quantity: int = 0
    # Fulfilled by a supplier or in store (POST …/fulfillments); shipping is separate.
    fulfilled_quantity: int = 0
    unit_price: Decimal = Field(sa_type=Money)
    manufacturer: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=500)
    location_code: str = Field(default="", max_length=64)


class OrderNote(SQLModel, table=True):
    __tablename__ = "order_notes"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    source: str = Field(default="hub", max_length=64)
    code: str = Field(default="", max_length=32)
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _ts()


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "dedupe_key"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    carrier: str = Field(default="", max_length=64)
    method: str = Field(default="", max_length=64)
    tracking_number: str = Field(default="", max_length=128)
    shipped_at: datetime = _ts()
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    dedupe_key: str = Field(max_length=64)
    source: str = Field(default="", max_length=64)
    created_at: datetime = _ts()


class OrderExport(SQLModel, table=True):
    """One order × one exporting install: the export state machine's row.

    ``state``: pending | offered | acknowledged | rejected | failed; ``cancel_state``: '' |
    pending | acknowledged — a cancellation after download that the vendor still has to
    confirm. The moves between them: :data:`hub.core.exports.TRANSITIONS`."""

    __tablename__ = "order_exports"
    __table_args__ = (
        UniqueConstraint("order_id", "install_id"),
        Index("ix_order_exports_queue", "install_id", "queue_at", "order_id"),
        Index("ix_order_exports_cancel", "install_id", "cancel_state"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    order_id: int = Field(foreign_key="orders.id")
    install_id: int = Field(foreign_key="plugin_installs.id")
    plugin_id: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=16)
    # The order's placed_at while the export is open (pending/offered, order not canceled),
    # else NULL: the vendor's queue is one index range scan in placed order.
    queue_at: datetime | None = _ts_opt()
    external_ref: str = Field(default="", max_length=128)
    message: str = Field(default="", max_length=1000)
    attempts: int = 0
    offered_at: datetime | None = _ts_opt()
    acknowledged_at: datetime | None = _ts_opt()
    cancel_state: str = Field(default="", max_length=16)
    canceled_at: datetime | None = _ts_opt()
    updated_at: datetime = _ts()


class Binding(SQLModel, table=True):
    """Hub id ↔ vendor id for one install (OCA connector's binder), with vendor-side data.

    ``state`` is ``bound`` (``vendor_id`` set) or ``creating``: a create on the vendor was
    claimed by ``claimed_by`` at ``claimed_at`` and not bound yet (``vendor_id`` NULL). The
    unique (install, kind, hub id) makes the claim exclusive; see :mod:`hub.core.bindings`."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("install_id", "kind", "hub_id"),
        Index("ix_bindings_vendor", "install_id", "kind", "vendor_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    install_id: int = Field(foreign_key="plugin_installs.id")
    kind: str = Field(max_length=32)
    hub_id: int
    vendor_id: str | None = Field(default=None, max_length=128)
    state: str = Field(default="bound", max_length=16)
    claimed_at: datetime | None = _ts_opt()
    claimed_by: str | None = Field(default=None, max_length=128)
    data: dict[str, Any] = _json({})
    updated_at: datetime = _ts()


class JobRun(SQLModel, table=True):
    """One run of one job of one install. Written before the message is queued."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_tenant", "tenant_id", "id"),
        Index("ix_job_runs_state", "state"),
        Index("ix_job_runs_install_job", "install_id", "job", "state"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    install_id: int = Field(foreign_key="plugin_installs.id")
    plugin_id: str = Field(max_length=64)
    job: str = Field(max_length=64)
    trigger: str = Field(default="manual", max_length=16)
    state: str = Field(default="queued", max_length=16)
    options: dict[str, Any] = _json({})
    slot_key: str | None = Field(default=None, max_length=200, unique=True)
    queued_at: datetime = _ts()
    started_at: datetime | None = _ts_opt()
    finished_at: datetime | None = _ts_opt()
    heartbeat_at: datetime | None = _ts_opt()
    worker_id: str = Field(default="", max_length=128)
    attempts: int = 0
    counts: dict[str, Any] = _json({})
    errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    message: str = Field(default="", max_length=1000)
    progress_done: int = 0
    progress_total: int | None = None
    # The last checkpoint, written in the transaction of the effects it covers:
    # {"value": <the job's JSON>, "counts": {...}, "saved_at": iso, "attempt": n}.
    # The attempt number in ``attempts`` is the fencing token (see hub.core.runs).
    checkpoint: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class RunReport(SQLModel, table=True):
    __tablename__ = "run_reports"
    run_id: int = Field(foreign_key="job_runs.id", primary_key=True)
    content_type: str = Field(default="text/csv", max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))


class Cursor(SQLModel, table=True):
    __tablename__ = "cursors"
    install_id: int = Field(foreign_key="plugin_installs.id", primary_key=True)
    name: str = Field(max_length=64, primary_key=True)
    value: str = Field(default="", max_length=1000)
    updated_at: datetime = _ts()


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_tenant", "tenant_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(default=None, foreign_key="tenants.id")
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=200)
    details: dict[str, Any] = _json({})
    created_at: datetime = _ts()


class WebhookSubscription(SQLModel, table=True):
    __tablename__ = "webhook_subscriptions"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=1000, description="encrypted")
    active: bool = True
    created_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="webhook_subscriptions.id", index=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    event: str = Field(max_length=64)
    event_id: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _ts()
    last_status: int | None = None
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts_opt()


class Lease(SQLModel, table=True):
    """A named lock with an expiry, shared by every process using the database."""

    __tablename__ = "leases"
    name: str = Field(max_length=200, primary_key=True)
    holder: str = Field(max_length=200)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class Listing(SQLModel, table=True):
    """Whether one install (a sales channel) publishes one product, the product's id on the
    vendor, and the values last pushed there (so an exporter sends only what changed)."""

    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("install_id", "product_id"),
        Index("ix_listings_changes", "install_id", "change_seq", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    install_id: int = Field(foreign_key="plugin_installs.id")
    product_id: int = Field(foreign_key="products.id")
    enabled: bool = False
    vendor_id: str | None = Field(default=None, max_length=128)
    last_pushed: dict[str, Any] = _json({})
    change_seq: int = _change_seq()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ChangeCounter(SQLModel, table=True):
    """A tenant's change sequence: bumped once by each transaction that changes its
    products, inventory levels or listings (see :mod:`hub.core.changes`)."""

    __tablename__ = "change_counters"
    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)


class RunAttempt(SQLModel, table=True):
    """One attempt of a run: from its claim to its end. ``outcome`` is ``running`` until then,
    then a final state, ``retry`` (requeued after a transient error) or ``lost`` (its worker
    stopped; requeued). ``worker_name`` is the worker's identity that survives a restart,
    ``boot_id`` the incarnation; ``resumed_from`` the checkpoint the attempt started from."""

    __tablename__ = "run_attempts"
    __table_args__ = (UniqueConstraint("run_id", "attempt"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="job_runs.id")
    attempt: int
    worker_name: str = Field(default="", max_length=128)
    worker_id: str = Field(default="", max_length=128)
    boot_id: str = Field(default="", max_length=32)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts_opt()
    outcome: str = Field(default="running", max_length=16)
    message: str = Field(default="", max_length=1000)
    resumed_from: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class RunReportPart(SQLModel, table=True):
    """Report rows saved with a checkpoint (CSV text, the header in part 0): a resumed run's
    report is every part plus what its last attempt adds, joined into ``run_reports`` at the
    end."""

    __tablename__ = "run_report_parts"
    run_id: int = Field(foreign_key="job_runs.id", primary_key=True)
    seq: int = Field(primary_key=True)
    body: str = Field(sa_column=Column(Text, nullable=False))


class RunSpool(SQLModel, table=True):
    """What a run has read but not applied yet, kept for a resumed attempt (see
    :meth:`hub.plugin.JobContext.spool`): zlib-compressed JSON chunks, in order, written in
    the transaction of the checkpoint they belong to, and deleted when the run ends."""

    __tablename__ = "run_spool"
    run_id: int = Field(foreign_key="job_runs.id", primary_key=True)
    seq: int = Field(primary_key=True)
    name: str = Field(max_length=64)
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class OAuthState(SQLModel, table=True):
    """A connect in progress (OAuth 2 ``state``): single-use, expiring, bound to an install
    and to who started it. Only the state's SHA-256 is stored; the PKCE verifier is
    encrypted. ``used_at`` is set (once, conditionally) when a callback takes it."""

    __tablename__ = "oauth_states"
    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    install_id: int = Field(foreign_key="plugin_installs.id", index=True)
    actor: str = Field(max_length=200)
    code_verifier: str = Field(max_length=1000, description="encrypted")
    return_to: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = _ts_opt()


class OrderFulfillment(SQLModel, table=True):
    """Lines of an order fulfilled by a supplier or in store (``POST …/fulfillments``).
    ``reference`` (the caller's id of the fulfilment) makes a repeat of the call a no-op."""

    __tablename__ = "order_fulfillments"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    source: str = Field(max_length=16)
    reference: str | None = Field(default=None, max_length=128)
    lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _ts()


class PendingMapping(SQLModel, table=True):
    """A vendor record of one install that does not sync, and why (``reason``): an item
    missing an identifier, or matching no product or several. ``vendor_id`` is the vendor's
    id of the record; ``ref`` names it for people; ``details`` holds what the report shows
    (see :mod:`hub.core.pending`)."""

    __tablename__ = "pending_mappings"
    __table_args__ = (
        UniqueConstraint("install_id", "vendor_id"),
        Index("ix_pending_mappings_list", "install_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    install_id: int = Field(foreign_key="plugin_installs.id")
    vendor_id: str = Field(max_length=128)
    reason: str = Field(max_length=64)
    ref: str = Field(default="", max_length=200)
    details: dict[str, Any] = _json({})
    seen_at: datetime = _ts()
