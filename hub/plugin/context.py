"""What a plugin is handed: the install's context (:class:`PluginContext`) and, in a job,
the run's (:class:`JobContext`). Plugins reach core state only through these methods; each
method is one transaction.

A context depends on :class:`PluginServices` — the settings, the database, the secret box and
the order intake — not on the whole :class:`~hub.core.hub.Hub`, so what a plugin can reach is
written down in one place (and a test double is small)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.core import bindings, exports, orders, outbound, pending, runs, state
from hub.core.bindings import Claim, CreateRefused
from hub.core.catalog import get_location, set_prices
from hub.core.changes import (
    ChangeBatch,
    InventoryChange,
    ProductChange,
    find_products,
    inventory_changes,
    iter_changes,
    product_changes,
)
from hub.core.crypto import SecretBox
from hub.core.db import Database
from hub.core.errors import NotFound
from hub.core.inventory import (
    BoundProduct,
    LocationsResult,
    apply_inventory,
    apply_inventory_locations,
    bound_products,
    emit_inventory_changed,
    location_ids,
    move_stock_once,
    stock_by_location,
)
from hub.core.inventory import move_stock as book_movements
from hub.core.listings import (
    ListingView,
    find_listings,
    listing_changes,
    page_listings,
    put_listings,
    record_pushed,
)
from hub.core.models import Location, Order, PluginInstall
from hub.core.records import (
    ApplyResult,
    ClearScope,
    ConnectionInfo,
    InventoryRecord,
    MatchRule,
    OrderView,
    PendingItem,
)
from hub.core.tenants import TenantInfo
from hub.settings import Settings

__all__ = [
    "Claim",
    "CreateRefused",
    "JobContext",
    "OfferSnapshot",
    "PluginContext",
    "PluginServices",
    "TransientJobError",
]

_CLAIM_STALE_AFTER = bindings.DEFAULT_STALE_AFTER.total_seconds()


class TransientJobError(RuntimeError):
    """A failure worth retrying later (vendor down, rate limited past patience)."""


@dataclass(frozen=True)
class OfferSnapshot:
    """See :meth:`PluginContext.offer_snapshot`. ``orders``/``cancellations`` are None when
    the caller's document for ``fingerprint`` is still right."""

    fingerprint: tuple[Any, ...]
    orders: list[OrderView] | None
    cancellations: list[OrderView] | None
    reusable: bool


_CONTEXT_VERSIONS = itertools.count(1)


# A checkpoint argument: a JSON value, or a function of the method's result returning one
# (called inside the transaction, after the effects: it may count and add report rows).
Checkpoint = Any


class _Write:
    """A write transaction of a context: its session, and the result of the effects in it."""

    __slots__ = ("result", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.result: Any = None


class PluginServices(Protocol):
    """What a context needs of the hub (the :class:`~hub.core.hub.Hub` provides it)."""

    settings: Settings
    db: Database
    box: SecretBox
    worker_id: str

    def intake_order(
        self, tenant_id: int, body: orders.OrderIn, *, source: str = "api"
    ) -> tuple[OrderView, bool]: ...

    def intake_orders_in(
        self,
        session: Session,
        tenant_id: int,
        bodies: Sequence[orders.OrderIn],
        *,
        source: str = "api",
    ) -> tuple[list[orders.StoredOrder], Callable[[], None]]: ...


class PluginContext:
    """One install of one plugin for one tenant."""

    #: The install's live OAuth connection (None while not connected, or reconnect needed).
    connection: ConnectionInfo | None = None
    #: When the install's config was last saved (a setup step may need it after connecting).
    configured_at: datetime | None = None

    def __init__(
        self,
        hub: PluginServices,
        tenant: TenantInfo,
        install_id: int,
        plugin_id: str,
        config: BaseModel,
        enabled: bool = True,
    ) -> None:
        self._hub = hub
        self.tenant = tenant
        self.install_id = install_id
        self.plugin_id = plugin_id
        self.config = config
        self.enabled = enabled
        # Identifies what this context was built from (config, secrets, tenant): a new
        # number for every context built, and Hub.context_for builds a new one on any change.
        self.config_version = next(_CONTEXT_VERSIONS)

    @property
    def settings(self) -> Any:
        return self._hub.settings

    def vendor_url_refusal(self, url: str) -> str | None:
        """Why the hub must not send this install's vendor requests to ``url`` (a sentence),
        or None when it may. Call it just before building a client from a configured base
        URL: a value stored earlier, or what its host resolves to now, may no longer be
        allowed (see :mod:`hub.core.outbound`)."""
        return outbound.vendor_url_refusal(url, self._hub.settings)

    @contextmanager
    def _write(self, checkpoint: Checkpoint = None) -> Iterator[_Write]:
        """A write transaction of this context (in a run: fenced to the run's attempt, and
        recording ``checkpoint`` in it; see :class:`JobContext`)."""
        if checkpoint is not None:
            raise TypeError("a checkpoint belongs to a job run: only a JobContext records one")
        with self._hub.db.session() as session:
            yield _Write(session)

    # -- catalog and inventory ---------------------------------------------------------

    def location(self, code: str) -> Location | None:
        with self._hub.db.read() as session:
            return get_location(session, self.tenant.id, code)

    def location_codes(self) -> list[str]:
        with self._hub.db.read() as session:
            return [
                loc.code
                for loc in session.exec(
                    select(Location)
                    .where(Location.tenant_id == self.tenant.id)
                    .order_by(col(Location.code))
                )
            ]

    def apply_inventory(
        self,
        records: Sequence[InventoryRecord],
        *,
        rule: MatchRule,
        location_code: str,
        clear: Sequence[ClearScope] = (),
        checkpoint: Checkpoint = None,
    ) -> ApplyResult:
        """Apply quantities (one transaction) and raise ``inventory.changed`` per changed
        product, batched. In a run, ``checkpoint`` (a JSON value, or a function of the
        ``ApplyResult`` returning one) is recorded in the same transaction (see
        :meth:`JobContext.save_checkpoint`)."""
        with self._write(checkpoint) as tx:
            session = tx.session
            location = get_location(session, self.tenant.id, location_code)
            if location is None or location.id is None:
                raise NotFound(f"location {location_code!r} does not exist")
            result = apply_inventory(
                session,
                tenant_id=self.tenant.id,
                install_id=self.install_id,
                location_id=location.id,
                records=records,
                rule=rule,
                clear=clear,
            )
            emit_inventory_changed(
                session, self.tenant.id, location_code, self.plugin_id, result.changed_product_ids
            )
            tx.result = result
        return result

    def apply_inventory_locations(
        self,
        records: Sequence[InventoryRecord],
        quantities: Mapping[str, Sequence[int]],
        *,
        rule: MatchRule,
        clear: Sequence[ClearScope] = (),
        checkpoint: Checkpoint = None,
    ) -> LocationsResult:
        """:meth:`apply_inventory` of one batch at several locations, in one transaction:
        ``quantities`` maps a location code to the quantity there of each record (in the
        records' order; a record's own ``quantity`` is not used). The records are matched
        once; each location gets what :meth:`apply_inventory` would do there. The result is
        by record position and location code (``result.outcomes["main"][i]``; see
        :class:`~hub.plugin.LocationsResult`). ``inventory.changed`` is raised per location;
        ``checkpoint`` (a value, or a function of the result) commits with the effects."""
        with self._write(checkpoint) as tx:
            session = tx.session
            codes: dict[int, str] = {}
            for code in quantities:
                location = get_location(session, self.tenant.id, code)
                if location is None or location.id is None:
                    raise NotFound(f"location {code!r} does not exist")
                codes[location.id] = code
            result = apply_inventory_locations(
                session,
                tenant_id=self.tenant.id,
                install_id=self.install_id,
                records=records,
                quantities={location_id: quantities[code] for location_id, code in codes.items()},
                rule=rule,
                clear=clear,
            ).renamed(codes)
            for code, changed in result.changed_product_ids.items():
                emit_inventory_changed(session, self.tenant.id, code, self.plugin_id, changed)
            tx.result = result
        return result

    # -- listings and what changed (for exporters) ----------------------------------------
    # The rules live in hub.core.listings and hub.core.changes; these only forward.

    def listings(
        self,
        products: Iterable[int | str] | None = None,
        *,
        enabled: bool | None = None,
        batch: int = 500,
    ) -> Iterator[list[ListingView]]:
        """This install's listings, in batches of up to ``batch`` (each read on its own):
        those of ``products`` (ids or SKUs; unknown ones and products without a listing are
        left out), or all of them in creation order; optionally only enabled (or disabled)
        ones."""
        if products is not None:
            keys = list(products)
            for start in range(0, len(keys), batch):
                with self._hub.db.read() as session:
                    found = find_listings(
                        session,
                        self.tenant.id,
                        self.install_id,
                        keys[start : start + batch],
                        enabled=enabled,
                    )
                if found:
                    yield found
            return
        after: int | None = None
        while True:
            with self._hub.db.read() as session:
                page = page_listings(
                    session, self.install_id, after_id=after, limit=batch, enabled=enabled
                )
            if not page:
                return
            yield [view for _, view in page]
            if len(page) < batch:
                return
            after = page[-1][0]

    def set_listing_enabled(
        self,
        products: Iterable[int | str],
        enabled: bool = True,
        *,
        only_missing: bool = False,
        checkpoint: Checkpoint = None,
    ) -> dict[str, int]:
        """Enable (or disable) this install's listings of ``products`` (ids or SKUs), creating
        the missing ones, in one transaction: ``{created, updated}``. With ``only_missing``
        only products without a listing get one (``auto_enable_new_products``: a listing the
        integrator disabled stays so). An unknown product raises ``Invalid``; nothing applied."""
        with self._write(checkpoint) as tx:
            tx.result = put_listings(
                tx.session,
                self.tenant.id,
                self.install_id,
                [(key, enabled) for key in products],
                only_missing=only_missing,
            )
        return dict(tx.result)

    def record_pushed(
        self,
        pushed: Mapping[int | str, Mapping[str, Any]],
        *,
        vendor_ids: Mapping[int | str, str] | None = None,
        checkpoint: Checkpoint = None,
    ) -> int:
        """Remember what was pushed to the vendor, per product (id or SKU): the top-level keys
        of ``pushed[product]`` are merged into its listing's ``last_pushed`` (None removes a
        key), and ``vendor_ids[product]`` becomes its vendor id — all in one transaction.
        Every product must have a listing of this install (else ``Invalid``, nothing
        recorded). Does not count as a change of the listing (``changed_listings``)."""
        with self._write(checkpoint) as tx:
            tx.result = record_pushed(
                tx.session, self.tenant.id, self.install_id, pushed, vendor_ids
            )
        return int(tx.result)

    def changed_products(
        self, after: str | int | None = None, *, batch: int = 500
    ) -> Iterator[ChangeBatch[ProductChange]]:
        """The tenant's products changed after the cursor ``after`` (any catalog field,
        prices and cost included), in change order, in batches; each batch's ``cursor``
        continues after it (store it once the batch is handled). ``None`` or ``0`` reads
        every product. Never misses a change that commits late (see ``hub.core.changes``)."""
        tenant_id = self.tenant.id
        return iter_changes(
            self._hub.db,
            tenant_id,
            after,
            batch,
            lambda session, position, limit, high: product_changes(
                session, tenant_id, position, limit, high
            ),
        )

    def changed_inventory(
        self, after: str | int | None = None, *, location: str | None = None, batch: int = 500
    ) -> Iterator[ChangeBatch[InventoryChange]]:
        """The tenant's inventory levels (per product, location and source) changed after
        ``after``, optionally at one location only (``NotFound`` if it does not exist), in
        batches as :meth:`changed_products`. :meth:`stock` gives the sums per location."""
        tenant_id = self.tenant.id
        location_id: int | None = None
        if location is not None:
            found = self.location(location)
            if found is None:
                raise NotFound(f"location {location!r} does not exist")
            location_id = found.id
        return iter_changes(
            self._hub.db,
            tenant_id,
            after,
            batch,
            lambda session, position, limit, high: inventory_changes(
                session, tenant_id, position, limit, high, location_id=location_id
            ),
        )

    def changed_listings(
        self, after: str | int | None = None, *, enabled: bool | None = None, batch: int = 500
    ) -> Iterator[ChangeBatch[ListingView]]:
        """This install's listings created or enabled/disabled after ``after`` (optionally
        only those now enabled, or disabled), in batches as :meth:`changed_products`."""
        install_id = self.install_id
        return iter_changes(
            self._hub.db,
            self.tenant.id,
            after,
            batch,
            lambda session, position, limit, high: listing_changes(
                session, install_id, position, limit, high, enabled=enabled
            ),
        )

    def find_products(
        self,
        *,
        ids: Iterable[int] = (),
        skus: Iterable[str] = (),
        upcs: Iterable[str] = (),
    ) -> list[ProductChange]:
        """The tenant's products whose id, SKU or UPC is among those given (each once, in id
        order), as they are now: e.g. to match a vendor's sale lines."""
        with self._hub.db.read() as session:
            return find_products(
                session, self.tenant.id, ids=list(ids), skus=list(skus), upcs=list(upcs)
            )

    def stock(
        self, product_ids: Iterable[int], *, locations: Iterable[str] | None = None
    ) -> dict[int, dict[str, int]]:
        """Product id → location code → quantity summed over every source there, for
        ``product_ids`` (optionally only at the ``locations`` codes; unknown codes count
        nothing). Products without any inventory are left out."""
        with self._hub.db.read() as session:
            location_ids = None
            if locations is not None:
                codes = list(locations)
                location_ids = [
                    int(loc_id)
                    for loc_id in session.exec(
                        select(Location.id).where(
                            Location.tenant_id == self.tenant.id, col(Location.code).in_(codes)
                        )
                    )
                    if loc_id is not None
                ]
            return stock_by_location(session, self.tenant.id, list(product_ids), location_ids)

    def bound_products(
        self, kind: str, vendor_ids: Iterable[str], *, locations: Iterable[str] = ()
    ) -> dict[str, BoundProduct]:
        """Vendor id → the product bound to it (binding ``kind``, e.g. a vendor's item ids)
        as a ``BoundProduct``: its id, SKU and title, and its ``stock`` at the ``locations``
        codes (summed over every source, as :meth:`stock`). One read for a page of vendor
        sales — :meth:`hub_ids`, :meth:`find_products` and :meth:`stock` in one (see
        :func:`hub.core.inventory.bound_products`). Unbound vendor ids are left out; unknown
        codes count nothing."""
        with self._hub.db.read() as session:
            return bound_products(
                session, self.tenant.id, self.install_id, kind, list(vendor_ids), list(locations)
            )

    def move_stock(
        self,
        moves: Sequence[tuple[int, str, int]],
        *,
        once: tuple[str, int, str] | None = None,
        data: dict[str, Any] | None = None,
        checkpoint: Checkpoint = None,
    ) -> bool:
        """Book stock movements — ``(product id, location code, delta)``: a store sale takes
        (negative), a return puts back (positive) — on this install's own level at each
        location, in one transaction, raising ``inventory.changed`` (see
        :func:`hub.core.inventory.move_stock`). With ``once=(kind, hub id, vendor id)`` the
        movements happen at most once: that binding is written with them, and a call whose
        binding exists already moves nothing and returns False. An unknown location raises
        ``NotFound`` (nothing moved)."""
        with self._write(checkpoint) as tx:
            session = tx.session
            codes = sorted({code for _, code, _ in moves})
            location_ids: dict[str, int] = {}
            for code in codes:
                location = get_location(session, self.tenant.id, code)
                if location is None or location.id is None:
                    raise NotFound(f"location {code!r} does not exist")
                location_ids[code] = location.id
            resolved = [(pid, location_ids[code], delta) for pid, code, delta in moves]
            if once is not None:
                changed = move_stock_once(
                    session, self.tenant.id, self.install_id, resolved, guard=once, data=data
                )
            else:
                changed = book_movements(session, self.tenant.id, self.install_id, resolved)
            code_of = {lid: code for code, lid in location_ids.items()}
            for location_id, product_ids in (changed or {}).items():
                emit_inventory_changed(
                    session, self.tenant.id, code_of[location_id], self.plugin_id, product_ids
                )
            tx.result = changed is not None
        return changed is not None

    # -- orders ------------------------------------------------------------------------

    def _order(self, session: Session, number: str) -> Order:
        return orders.find_order(session, self.tenant.id, number)

    def find_order(self, number: str) -> OrderView | None:
        with self._hub.db.read() as session:
            try:
                return orders.order_view(session, self._order(session, number))
            except NotFound:
                return None

    def offer_orders(self, limit: int = exports.OFFER_LIMIT) -> list[OrderView]:
        """Orders this install still has to take, oldest first (see :mod:`hub.core.exports`).

        Read without the write lock; only orders listed for the first time are then marked
        ``offered`` (a short write), so repeated polls of an unchanged queue write nothing."""
        with self._hub.db.read() as session:
            rows = exports.queued(session, self.install_id, limit)
            views = orders.order_views(session, [order for _, order in rows])
        first_time = [e.id for e, _ in rows if e.state == "pending" and e.id is not None]
        if first_time:
            with self._hub.db.session() as session:
                exports.mark_offered(session, first_time)
        return views

    def offer_snapshot(
        self, limit: int = exports.OFFER_LIMIT, *, known: Any = None
    ) -> OfferSnapshot:
        """What a polling vendor is offered: the queue (as :meth:`offer_orders`), the pending
        cancellations, and a fingerprint of both, read before them (so a document is never
        older than its fingerprint).

        ``known`` is the fingerprint of the document the caller holds (the caller owns its
        cache). When it is still current and nothing is offered for the first time, nothing
        else is read: ``orders`` and ``cancellations`` are None. First listings are marked
        ``offered`` afterwards; such a snapshot is not ``reusable``."""
        with self._hub.db.direct_sql() as sql:
            queue = exports.queue_fingerprint(sql, self.install_id, limit)
        fingerprint = (self.config_version, queue)
        first_listing = any(row[1] == "pending" for row in queue[0])
        if not first_listing and known is not None and known == fingerprint:
            return OfferSnapshot(fingerprint, None, None, reusable=True)
        # Read after the fingerprint: should the queue change in between, the document is
        # newer than its fingerprint, and the next poll builds it again.
        with self._hub.db.read() as session:
            rows = exports.queued(session, self.install_id, limit)
            offered = orders.order_views(session, [order for _, order in rows])
            cancel_rows = exports.pending_cancellations(session, self.install_id)
            canceled = orders.order_views(session, [order for _, order in cancel_rows])
        first_time = [e.id for e, _ in rows if e.state == "pending" and e.id is not None]
        if first_time:
            with self._hub.db.session() as session:
                exports.mark_offered(session, first_time)
        return OfferSnapshot(fingerprint, offered, canceled, reusable=not first_time)

    def pending_cancellations(self) -> list[OrderView]:
        with self._hub.db.read() as session:
            rows = exports.pending_cancellations(session, self.install_id)
            return orders.order_views(session, [order for _, order in rows])

    def acknowledge_export(
        self, number: str, *, notes: Sequence[tuple[str, str]] = (), external_ref: str = ""
    ) -> bool:
        """The vendor took the order; idempotent: False (and no notes recorded) when it was
        acknowledged already."""
        with self._hub.db.direct_sql(write=True) as sql:
            return exports.acknowledge_number(
                sql,
                self.tenant.id,
                number,
                self.install_id,
                external_ref=external_ref,
                notes=notes,
            )

    def reject_export(
        self, number: str, message: str, *, notes: Sequence[tuple[str, str]] = ()
    ) -> bool:
        """The vendor refused the order (off its queue until retried); False (and no notes
        recorded) when it was rejected already; a 409 ``HubError`` (nothing recorded) when it
        is no longer open (acknowledged or failed)."""
        with self._hub.db.session() as session:
            return exports.reject(
                session, self._order(session, number), self.install_id, message, notes=notes
            )

    def fail_export(self, number: str, message: str) -> bool:
        """The export failed (off the queue until retried); False when it was failed
        already; a 409 ``HubError`` when it is no longer open."""
        with self._hub.db.session() as session:
            return exports.fail(session, self._order(session, number), self.install_id, message)

    def acknowledge_cancellation(
        self, number: str, *, notes: Sequence[tuple[str, str]] = ()
    ) -> bool:
        """The vendor confirmed the cancellation (notes recorded with it); idempotent: False
        when it was confirmed already; a 409 ``HubError`` when no cancellation was sent."""
        with self._hub.db.session() as session:
            return exports.acknowledge_cancellation(
                session, self._order(session, number), self.install_id, notes=notes
            )

    def cancel_order(self, number: str, reason: str) -> bool:
        with self._hub.db.session() as session:
            return orders.cancel_order(
                session, self._order(session, number), reason, source=self.plugin_id
            )

    def add_order_note(self, number: str, message: str, code: str = "") -> None:
        with self._hub.db.session() as session:
            order = self._order(session, number)
            orders.add_note(session, order, message, source=self.plugin_id, code=code)
            orders.mark_order_updated(session, order, f"{self.plugin_id}: note")

    def cancel_order_line(self, number: str, line_id: int, quantity: int, note: str) -> None:
        """Reduce a line's open quantity (the vendor cancelled part of it), with a note."""
        with self._hub.db.session() as session:
            orders.cancel_line(
                session,
                self._order(session, number),
                line_id,
                quantity,
                note,
                source=self.plugin_id,
            )

    def record_shipment(
        self,
        number: str,
        *,
        carrier: str,
        method: str,
        tracking_number: str,
        items: list[tuple[int, int]],
        shipped_at: datetime | None = None,
    ) -> bool:
        with self._hub.db.session() as session:
            return orders.record_shipment(
                session,
                self._order(session, number),
                carrier=carrier,
                method=method,
                tracking_number=tracking_number,
                items=items,
                shipped_at=shipped_at,
                source=self.plugin_id,
            )

    def import_orders(
        self,
        items: Sequence[orders.OrderImport],
        *,
        kind: str = "order_import",
        checkpoint: Checkpoint = None,
    ) -> list[orders.OrderImported]:
        """Import a batch of vendor records as orders, exactly once each, with their stock,
        in **one** transaction: the orders are stored (idempotent by number; see
        :func:`hub.core.orders.store_orders`), exports opened and ``order.updated`` raised
        for the new ones, and each record's stock movements booked on this install's own
        levels (:meth:`move_stock`) together with a binding ``kind`` (order id ↔ the
        record's ``vendor_id``) — unless that binding exists already, so a record read again
        never moves its stock twice, and an order never exists without its movements.
        Notes are recorded on the orders created. An unknown location raises ``NotFound``
        and nothing is applied."""
        after_commit: Callable[[], None] = lambda: None  # noqa: E731
        with self._write(checkpoint) as tx:
            session = tx.session
            stored, after_commit = self._hub.intake_orders_in(
                session, self.tenant.id, [item.order for item in items], source=self.plugin_id
            )
            # Only an order stored before may have its guard: an order created just now has
            # a new id (orders are never deleted, so no binding can name it yet).
            stored_before = [s.order_id for s in stored if not s.created]
            guarded = bindings.vendor_ids(session, self.install_id, kind, stored_before)
            location_ids = self._location_ids(
                session, {code for item in items for _, code, _ in item.stock}
            )
            moves: list[tuple[int, int, int]] = []
            results: list[orders.OrderImported] = []
            guards: dict[int, str] = {}
            notes: list[tuple[int, str, str, str]] = []
            for item, done in zip(items, stored, strict=True):
                moving = done.order_id not in guarded and done.order_id not in guards
                if moving:
                    guards[done.order_id] = item.vendor_id
                    moves.extend(
                        (pid, location_ids[code], delta) for pid, code, delta in item.stock
                    )
                if done.created:
                    notes.extend(
                        (done.order_id, self.plugin_id, code, message)
                        for message, code in item.notes
                    )
                results.append(
                    orders.OrderImported(
                        done.number, done.order_id, done.created, moving, done.conflict
                    )
                )
            bindings.bind_many(session, self.install_id, kind, guards)
            orders.add_notes_bulk(session, notes)
            changed = book_movements(session, self.tenant.id, self.install_id, moves)
            code_of = {lid: code for code, lid in location_ids.items()}
            for location_id, product_ids in changed.items():
                emit_inventory_changed(
                    session, self.tenant.id, code_of[location_id], self.plugin_id, product_ids
                )
            tx.result = results
        after_commit()
        return results

    def _location_ids(self, session: Session, codes: Iterable[str]) -> dict[str, int]:
        """Code → id of the tenant's locations ``codes`` (one query); ``NotFound`` names the
        first unknown code."""
        wanted = sorted(set(codes))
        found = location_ids(session, self.tenant.id, wanted)
        for code in wanted:
            if code not in found:
                raise NotFound(f"location {code!r} does not exist")
        return found

    def store_order(self, body: orders.OrderIn) -> tuple[OrderView, bool]:
        """Create an order from the vendor (e.g. a store sale); idempotent by number."""
        return self._hub.intake_order(self.tenant.id, body, source=self.plugin_id)

    def open_exports(self, batch: int = 50) -> Iterator[list[OrderView]]:
        """Every order still on this install's export queue, oldest first, in batches (each
        read on its own; those listed for the first time become ``offered``). A push
        exporter that leaves some waiting (unpaid, unfulfilled) reaches those behind them."""
        after: tuple[datetime, int] | None = None
        while True:
            with self._hub.db.read() as session:
                rows = exports.queued_after(session, self.install_id, after, batch)
                views = orders.order_views(session, [order for _, order in rows])
            if not rows:
                return
            first_time = [e.id for e, _ in rows if e.state == "pending" and e.id is not None]
            if first_time:
                with self._write() as tx:
                    exports.mark_offered(tx.session, first_time)
            yield views
            if len(rows) < batch:
                return
            last = rows[-1][0]
            assert last.queue_at is not None
            after = (last.queue_at, last.order_id)

    def set_export_message(self, number: str, message: str) -> bool:
        """Show ``message`` on this install's export of the order while it stays on the queue
        (e.g. ``Unbalanced``); True when it changed (see :func:`hub.core.exports.set_message`)."""
        with self._write() as tx:
            order = self._order(tx.session, number)
            assert order.id is not None
            return exports.set_message(tx.session, order.id, self.install_id, message)

    def set_order_status(self, number: str, status: str) -> bool:
        """Set the order's status (e.g. after export); False when it has it already."""
        with self._write() as tx:
            return orders.set_status(
                tx.session, self._order(tx.session, number), status, source=self.plugin_id
            )

    # -- pending mappings and prices (a stock master's; rules in hub.core.pending / catalog)

    def set_pending(
        self, items: Sequence[PendingItem], *, resolved: Iterable[str] = (), full: bool = False
    ) -> None:
        """Record the vendor records that do not sync: ``full`` replaces the whole list with
        ``items``; otherwise ``items`` become pending and ``resolved`` vendor ids leave it."""
        with self._write() as tx:
            if full:
                pending.replace_pending(tx.session, self.install_id, items)
            else:
                pending.update_pending(tx.session, self.install_id, items, resolved)

    def pending_count(self, *, reason: str | None = None) -> int:
        """How many records are pending (with ``reason``: for that reason)."""
        with self._hub.db.read() as session:
            return pending.pending_count(session, self.install_id, reason=reason)

    def pending_page(
        self, *, after_id: int | None = None, limit: int = 100, reason: str | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        """Pending rows after ``after_id`` (id order; with ``reason``: of that reason only):
        ``(id, {vendor_id, reason, ref, details, seen_at})``."""
        with self._hub.db.read() as session:
            return pending.page_pending(
                session, self.install_id, after_id=after_id, limit=limit, reason=reason
            )

    def set_prices(
        self, prices: Sequence[tuple[int, Decimal | None, Decimal | None]], *, sale: bool
    ) -> list[int]:
        """Set ``(product id, price, sale_price)`` of products (``sale`` False leaves sale
        prices alone); returns the ids that changed (see :func:`hub.core.catalog.set_prices`)."""
        with self._write() as tx:
            return set_prices(tx.session, self.tenant.id, prices, sale=sale)

    # -- cursors, bindings, secrets ------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        with self._hub.db.read() as session:
            return state.get_cursor(session, self.install_id, name)

    def set_cursor(self, name: str, value: str, *, checkpoint: Checkpoint = None) -> None:
        with self._write(checkpoint) as tx:
            state.set_cursor(tx.session, self.install_id, name, value)

    # Bindings (hub id ↔ vendor id) and claim-before-create: the rules are
    # hub.core.bindings'; ``kind`` is the plugin's word for the record ("product", "shop").

    def bind(
        self,
        kind: str,
        hub_id: int,
        vendor_id: str,
        data: dict[str, Any] | None = None,
        *,
        checkpoint: Checkpoint = None,
    ) -> None:
        """Bind ``hub_id`` to ``vendor_id`` (completing a claim on it)."""
        with self._write(checkpoint) as tx:
            bindings.bind(tx.session, self.install_id, kind, hub_id, vendor_id, data)

    def bind_many(self, kind: str, pairs: Mapping[int, str]) -> int:
        """Bind many ``{hub_id: vendor_id}`` in one transaction (only what changed is
        written); returns how many were."""
        with self._write() as tx:
            return bindings.bind_many(tx.session, self.install_id, kind, dict(pairs))

    def reset_bindings(self) -> int:
        """Drop every binding and claim of this install (its vendor account changed)."""
        with self._write() as tx:
            return bindings.reset_bindings(tx.session, self.install_id)

    def vendor_id(self, kind: str, hub_id: int) -> str | None:
        """The vendor id bound to ``hub_id``, or None."""
        with self._hub.db.read() as session:
            return bindings.vendor_id_of(session, self.install_id, kind, hub_id)

    def vendor_ids(self, kind: str, hub_ids: Iterable[int]) -> dict[int, str]:
        """``{hub_id: vendor_id}`` for the bound ones of ``hub_ids`` (one query per 500)."""
        with self._hub.db.read() as session:
            return bindings.vendor_ids(session, self.install_id, kind, hub_ids)

    def hub_ids(self, kind: str, vendor_ids: Iterable[str]) -> dict[str, int]:
        """``{vendor_id: hub_id}`` for the bound ones of ``vendor_ids`` (one query per 500)."""
        with self._hub.db.read() as session:
            return bindings.hub_ids(session, self.install_id, kind, vendor_ids)

    def claim_create(
        self, kind: str, hub_id: int, *, stale_after: float = _CLAIM_STALE_AFTER
    ) -> Claim:
        """Claim the create of ``hub_id`` on the vendor, committed before it returns; call it
        before the vendor call. ``claim.status``: ``fresh`` → create, then :meth:`bind`;
        ``unfinished`` → an earlier attempt may have created it: look it up on the vendor
        by its natural key, then :meth:`bind` it or create; ``busy`` → another worker claimed
        it less than ``stale_after`` seconds ago: leave it for now; ``bound`` → nothing to
        do (``claim.vendor_id``). :meth:`create_once` does all of this."""
        return bindings.claim_create(
            self._hub.db,
            self.install_id,
            kind,
            hub_id,
            self._holder(),
            stale_after=timedelta(seconds=stale_after),
        )

    def release_claim(self, kind: str, hub_id: int) -> bool:
        """Drop the claim on ``hub_id`` when the create definitely failed (the vendor
        refused it); never a bound binding. True when there was a claim."""
        with self._hub.db.session() as session:
            return bindings.release_claim(session, self.install_id, kind, hub_id)

    def create_once(
        self,
        kind: str,
        hub_id: int,
        *,
        lookup: Callable[[], str | None],
        create: Callable[[], str],
        stale_after: float = _CLAIM_STALE_AFTER,
    ) -> str:
        """The vendor id of ``hub_id``, creating the vendor's record at most once (several
        transactions: the claim is committed before ``create`` runs).

        Bound already → its vendor id. Otherwise claims the create; after an unfinished
        earlier attempt calls ``lookup()`` first (the vendor's record by its natural key, or
        None) and ``create()`` only when it finds nothing. Binds the id found or created.
        ``create`` raising :class:`CreateRefused` (the vendor definitely did not create it)
        releases the claim and re-raises; any other exception keeps the claim, so the next
        attempt looks up. While another worker holds a recent claim on it, raises
        :class:`TransientJobError` (a job run is retried later)."""
        try:
            return bindings.create_once(
                self._hub.db,
                self.install_id,
                kind,
                hub_id,
                self._holder(),
                lookup=lookup,
                create=create,
                stale_after=timedelta(seconds=stale_after),
            )
        except bindings.ClaimBusy as exc:
            raise TransientJobError(str(exc)) from exc

    def _holder(self) -> str:
        # Who holds a claim or a lease: this process and thread (one attempt at a time).
        return f"{self._hub.worker_id}:{threading.get_ident()}"

    def save_secrets(self, values: dict[str, str | None]) -> None:
        """Store secret values (e.g. rotated OAuth tokens) encrypted, in one transaction."""
        from hub.core.installs import store_secrets

        with self._hub.db.session() as session:
            install = session.get(PluginInstall, self.install_id)
            assert install is not None
            store_secrets(session, self._hub.box, install, values)

    def read_secrets(self, names: Sequence[str]) -> dict[str, str]:
        """The current stored (decrypted) values of secret fields, read afresh from storage
        (not from the snapshot in ``ctx.config``)."""
        with self._hub.db.read() as session:
            install = session.get(PluginInstall, self.install_id)
            assert install is not None
            stored = dict(install.secrets or {})
        return {n: self._hub.box.decrypt(stored[n]) for n in names if n in stored}

    @contextmanager
    def lease(self, name: str, *, ttl: float = 60.0, wait: float = 60.0) -> Iterator[None]:
        """Hold a named lock shared by every process of the hub (a database lease), e.g.
        "one OAuth refresh at a time per install". Raises ``TimeoutError`` after ``wait``."""
        key = f"install:{self.install_id}:{name}"
        holder = self._holder()
        deadline = time.monotonic() + wait
        while not state.acquire_lease(self._hub.db, key, holder, timedelta(seconds=ttl)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {name!r} is busy")
            time.sleep(0.05)
        try:
            yield
        finally:
            state.release_lease(self._hub.db, key, holder)

    def update_config(self, changes: dict[str, Any]) -> BaseModel:
        """Change plain fields of this install's stored config (e.g. what an action read
        from the vendor), validated by the config model (``Invalid`` naming the fields);
        audited. Secret and admin-only fields cannot be changed this way. Returns the new
        config, which also becomes ``ctx.config``."""
        from hub.core import audit
        from hub.core.installs import update_plugin_config
        from hub.plugin.manager import get_plugin_manager

        # The hub's own manager knows this plugin (a test hub registers it there only).
        manager = getattr(self._hub, "plugins", None) or get_plugin_manager()
        manifest = manager.manifest(self.plugin_id)
        with self._write() as tx:
            install = tx.session.get(PluginInstall, self.install_id)
            assert install is not None
            model = update_plugin_config(tx.session, self._hub.box, manifest, install, changes)
            audit.record(
                tx.session,
                actor=f"plugin:{self.plugin_id}",
                action="install.config_updated",
                tenant_id=self.tenant.id,
                target=self.plugin_id,
                details={"changed": sorted(changes)},
            )
        self.config = model
        return model

    def set_status(self, status: str, detail: str = "") -> None:
        """Set the install's status word (a change raises ``install.status_changed``; see
        :func:`hub.core.installs.set_status`)."""
        from hub.core.installs import set_status

        with self._hub.db.session() as session:
            install = session.get(PluginInstall, self.install_id)
            assert install is not None
            set_status(session, install, status, detail)


@dataclass
class RunProgress:
    done: int = 0
    total: int | None = None


class JobContext(PluginContext):
    """A :class:`PluginContext` inside one attempt of one run: progress, counts, errors, the
    report, and checkpoints.

    **Checkpoints.** ``ctx.checkpoint`` is the run's last checkpoint (the JSON value a job
    recorded), or None on a run's first attempt. A job records one with the effects it
    covers, in their transaction: ``checkpoint=`` on ``apply_inventory`` (and
    ``apply_inventory_locations``), ``set_cursor``, ``record_pushed``, ``set_listing_enabled``
    and ``bind`` (a value, or a function of the method's result returning one), or :meth:`save_checkpoint` on its own (for effects
    elsewhere, e.g. on the vendor). The counts so far and the report rows added with
    :meth:`add_report_rows` are saved with it; a new attempt (after a crash, a restart, a
    transient error) starts with them, so its counts and report continue from the checkpoint
    and cover the whole run. Count inside a checkpoint function what its transaction applied;
    what is counted outside one (e.g. pages fetched) is saved with the next checkpoint.

    **Fencing.** Those writes are refused once this attempt is no longer the run's (its run
    was requeued because its worker looked dead): they raise ``RunFenced`` and roll back, and
    ``superseded`` turns True (a heartbeat notices it too: check it in long vendor loops)."""

    def __init__(
        self,
        hub: PluginServices,
        tenant: TenantInfo,
        install_id: int,
        plugin_id: str,
        config: BaseModel,
        *,
        run_id: int,
        job: str,
        options: dict[str, Any],
        trigger: str,
        attempt: int = 0,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(hub, tenant, install_id, plugin_id, config)
        self.run_id = run_id
        self.job = job
        self.options = options
        self.trigger = trigger
        self.attempt = attempt
        self.progress = RunProgress()
        self._counts: dict[str, int] = {}
        self._errors: list[str] = []
        self._report: str | None = None
        self._report_header: tuple[str, ...] | None = None
        self._report_rows: list[Sequence[Any]] = []
        self._state: str | None = None
        self._message = ""
        self._lock = threading.Lock()
        self._superseded = threading.Event()
        self._checkpoint: Any = None
        if checkpoint is not None:  # resuming: counts continue from the checkpoint
            self._checkpoint = checkpoint.get("value")
            self._counts = {str(k): int(v) for k, v in (checkpoint.get("counts") or {}).items()}

    # -- checkpoints and fencing ------------------------------------------------------------

    @property
    def checkpoint(self) -> Any:
        """The run's last checkpoint value (this attempt's latest, or the one it resumed
        from), or None."""
        return self._checkpoint

    @property
    def superseded(self) -> bool:
        """True once this attempt is known to be over (the run was given to another)."""
        return self._superseded.is_set()

    def raise_if_superseded(self) -> None:
        """Stop here (``RunFenced``) when this attempt is over: call it between vendor
        requests of a long fetch, so a worker that lost its run stops spending the budget."""
        if self.superseded:
            raise runs.RunFenced(self.run_id, self.attempt)

    def save_checkpoint(self, value: Any) -> None:
        """Record ``value`` (JSON) as the run's checkpoint, with the counts and report rows so
        far, in one transaction; prefer ``checkpoint=`` on the method that writes the
        effects, so both commit together."""
        if value is None:
            raise ValueError("a checkpoint is a JSON value, not None")
        with self._write(value):
            pass

    def spool(self, name: str, values: Sequence[Any], *, checkpoint: Checkpoint) -> None:
        """Keep ``values`` (JSON) with the run under ``name``, in one transaction with
        ``checkpoint`` (a JSON value): what a job has read
        from its vendor but applies only at the end — a full pass that clears what it did not
        see cannot apply page by page. A resumed attempt reads them back with :meth:`spooled`
        and asks the vendor only for what comes after the checkpoint. Kept compressed; the
        core deletes a run's spool when the run ends."""
        if checkpoint is None:
            raise ValueError("spooled values belong to a checkpoint: pass checkpoint=")
        with self._write(checkpoint) as tx:
            runs.spool(tx.session, self.run_id, name, values)

    def spooled(self, name: str) -> Iterator[Any]:
        """Every value spooled under ``name`` by this run (earlier attempts included), in the
        order they were spooled."""
        with self._hub.db.read() as session:
            yield from runs.spooled(session, self.run_id, name)

    def add_report_rows(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Add rows to the run's CSV report (the same ``header`` every time). Rows are saved
        with the next checkpoint and survive into a resumed attempt; the report is every
        saved row plus the rest when the run ends. (:meth:`attach_report` replaces it.)"""
        with self._lock:
            if self._report_header is None:
                self._report_header = tuple(header)
            self._report_rows.extend(rows)

    def unsaved_report(self) -> tuple[tuple[str, ...] | None, list[Sequence[Any]]]:
        """The report header and the rows not saved with a checkpoint yet (for the run's end)."""
        with self._lock:
            return self._report_header, list(self._report_rows)

    def _supersede(self) -> None:
        self._superseded.set()

    @contextmanager
    def _write(self, checkpoint: Checkpoint = None) -> Iterator[_Write]:
        with self._lock:
            counts_before = dict(self._counts)
            rows_before = len(self._report_rows)
        stored: dict[str, Any] | None = None
        try:
            with self._hub.db.session() as session:
                tx = _Write(session)
                runs.fence(session, self.run_id, self.attempt)
                yield tx
                if checkpoint is not None:
                    value = checkpoint(tx.result) if callable(checkpoint) else checkpoint
                    with self._lock:
                        counts = dict(self._counts)
                        header, rows = self._report_header, list(self._report_rows)
                    stored = runs.save_checkpoint(
                        session,
                        self.run_id,
                        self.attempt,
                        value,
                        counts=counts,
                        report_header=header,
                        report_rows=rows,
                    )
        except BaseException as exc:
            if checkpoint is not None:
                # Counted and reported for a transaction that did not commit: undone.
                with self._lock:
                    self._counts = counts_before
                    del self._report_rows[rows_before:]
            if isinstance(exc, runs.RunFenced):
                self._supersede()
            raise
        if stored is not None:
            with self._lock:
                self._checkpoint = stored["value"]
                del self._report_rows[: len(rows)]

    # -- counts, errors, report ---------------------------------------------------------
    # Every write goes through the lock: a job's fetch threads count while it applies.

    @property
    def counts(self) -> dict[str, int]:
        """A copy of the run's counts so far."""
        with self._lock:
            return dict(self._counts)

    @property
    def errors(self) -> list[str]:
        """A copy of the run's error sentences so far."""
        with self._lock:
            return list(self._errors)

    @property
    def report(self) -> str | None:
        """The CSV report attached with :meth:`attach_report`."""
        return self._report

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the count ``name``."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def set_count(self, name: str, n: int) -> None:
        """Set the count ``name`` to ``n`` (e.g. the number of supplier codes)."""
        with self._lock:
            self._counts[name] = n

    def error(self, message: str) -> None:
        """Record an error sentence; a run with errors ends ``partial`` unless told otherwise."""
        with self._lock:
            self._errors.append(message)

    def attach_report(self, csv_text: str) -> None:
        """The run's CSV report (``GET …/runs/{id}/report``); see :func:`hub.plugin.report_csv`."""
        self._report = csv_text

    def set_progress(self, done: int, total: int | None = None) -> None:
        self.progress.done = done
        if total is not None:
            self.progress.total = total

    # -- the outcome ----------------------------------------------------------------------
    # Without a call here a run ends ``succeeded`` (``partial`` when errors were recorded).

    @property
    def state(self) -> str | None:
        """The outcome the job chose (skipped, partial, failed), or None."""
        return self._state

    @property
    def message(self) -> str:
        return self._message

    def skip(self, reason: str) -> None:
        """End the run as ``skipped`` (nothing to do), saying why."""
        self._set_outcome("skipped", reason)

    def partial(self, reason: str) -> None:
        """End the run as ``partial`` (some work failed; the rest applied), saying what."""
        self._set_outcome("partial", reason)

    def failed(self, reason: str) -> None:
        """End the run as ``failed`` without raising (nothing useful was done)."""
        self._set_outcome("failed", reason)

    def _set_outcome(self, state_: str, message: str) -> None:
        with self._lock:
            self._state = state_
            self._message = message[:1000]
