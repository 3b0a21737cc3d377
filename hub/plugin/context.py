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
from typing import Any, Protocol

from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.core import bindings, exports, orders, outbound, state
from hub.core.bindings import Claim, CreateRefused
from hub.core.catalog import get_location
from hub.core.changes import (
    ChangeBatch,
    InventoryChange,
    ProductChange,
    inventory_changes,
    iter_changes,
    product_changes,
)
from hub.core.crypto import SecretBox
from hub.core.db import Database
from hub.core.errors import NotFound
from hub.core.inventory import apply_inventory, emit_inventory_changed, stock_by_location
from hub.core.listings import (
    ListingView,
    find_listings,
    listing_changes,
    page_listings,
    put_listings,
    record_pushed,
)
from hub.core.models import Location, Order, PluginInstall
from hub.core.records import ApplyResult, ClearScope, InventoryRecord, MatchRule, OrderView
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


class PluginServices(Protocol):
    """What a context needs of the hub (the :class:`~hub.core.hub.Hub` provides it)."""

    settings: Settings
    db: Database
    box: SecretBox
    worker_id: str

    def intake_order(
        self, tenant_id: int, body: orders.OrderIn, *, source: str = "api"
    ) -> tuple[OrderView, bool]: ...


class PluginContext:
    """One install of one plugin for one tenant."""

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
    ) -> ApplyResult:
        """Apply quantities (one transaction) and raise ``inventory.changed`` per changed
        product, batched."""
        with self._hub.db.session() as session:
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
        self, products: Iterable[int | str], enabled: bool = True, *, only_missing: bool = False
    ) -> dict[str, int]:
        """Enable (or disable) this install's listings of ``products`` (ids or SKUs), creating
        the missing ones, in one transaction: ``{created, updated}``. With ``only_missing``
        only products without a listing get one (``auto_enable_new_products``: a listing the
        integrator disabled stays so). An unknown product raises ``Invalid``; nothing applied."""
        with self._hub.db.session() as session:
            return put_listings(
                session,
                self.tenant.id,
                self.install_id,
                [(key, enabled) for key in products],
                only_missing=only_missing,
            )

    def record_pushed(
        self,
        pushed: Mapping[int | str, Mapping[str, Any]],
        *,
        vendor_ids: Mapping[int | str, str] | None = None,
    ) -> int:
        """Remember what was pushed to the vendor, per product (id or SKU): the top-level keys
        of ``pushed[product]`` are merged into its listing's ``last_pushed`` (None removes a
        key), and ``vendor_ids[product]`` becomes its vendor id — all in one transaction.
        Every product must have a listing of this install (else ``Invalid``, nothing
        recorded). Does not count as a change of the listing (``changed_listings``)."""
        with self._hub.db.session() as session:
            return record_pushed(session, self.tenant.id, self.install_id, pushed, vendor_ids)

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

    # -- orders ------------------------------------------------------------------------

    def _order(self, session: Session, number: str) -> Order:
        return orders.find_order(session, self.tenant.id, number)

    def find_order(self, number: str) -> OrderView | None:
        with self._hub.db.read() as session:
            try:
                return orders.order_view(session, self._order(session, number))
            except NotFound:
                return None

    def offer_orders(self, limit: int = 30) -> list[OrderView]:
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

    def offer_snapshot(self, limit: int = 30, *, known: Any = None) -> OfferSnapshot:
        """What a polling vendor is offered: the queue (as :meth:`offer_orders`), the pending
        cancellations, and a fingerprint of both, read before them (so a document is never
        older than its fingerprint).

        ``known`` is the fingerprint of the document the caller holds (the caller owns its
        cache). When it is still current and nothing is offered for the first time, nothing
        else is read: ``orders`` and ``cancellations`` are None. First listings are marked
        ``offered`` afterwards; such a snapshot is not ``reusable``."""
        with self._hub.db.lane() as lane:
            queue = exports.queue_fingerprint(lane, self.install_id, limit)
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
        with self._hub.db.lane(write=True) as lane:
            return exports.acknowledge_number(
                lane,
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
        recorded) when it was no longer open."""
        with self._hub.db.session() as session:
            return exports.reject(
                session, self._order(session, number), self.install_id, message, notes=notes
            )

    def fail_export(self, number: str, message: str) -> bool:
        with self._hub.db.session() as session:
            return exports.fail(session, self._order(session, number), self.install_id, message)

    def acknowledge_cancellation(
        self, number: str, *, notes: Sequence[tuple[str, str]] = ()
    ) -> bool:
        """The vendor confirmed the cancellation (notes recorded with it); idempotent."""
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
            orders.touch(session, order, f"{self.plugin_id}: note")

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

    def store_order(self, body: orders.OrderIn) -> tuple[OrderView, bool]:
        """Create an order from the vendor (e.g. a store sale); idempotent by number."""
        return self._hub.intake_order(self.tenant.id, body, source=self.plugin_id)

    # -- cursors, bindings, secrets ------------------------------------------------------

    def cursor(self, name: str) -> str | None:
        with self._hub.db.read() as session:
            return state.get_cursor(session, self.install_id, name)

    def set_cursor(self, name: str, value: str) -> None:
        with self._hub.db.session() as session:
            state.set_cursor(session, self.install_id, name, value)

    # Bindings (hub id ↔ vendor id) and claim-before-create: the rules are
    # hub.core.bindings'; ``kind`` is the plugin's word for the record ("product", "shop").

    def bind(
        self, kind: str, hub_id: int, vendor_id: str, data: dict[str, Any] | None = None
    ) -> None:
        """Bind ``hub_id`` to ``vendor_id`` (completing a claim on it)."""
        with self._hub.db.session() as session:
            bindings.bind(session, self.install_id, kind, hub_id, vendor_id, data)

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

    def set_status(self, status: str, detail: str = "") -> None:
        with self._hub.db.session() as session:
            install = session.get(PluginInstall, self.install_id)
            assert install is not None
            install.status = status
            install.status_detail = detail[:1000]
            session.add(install)


@dataclass
class RunProgress:
    done: int = 0
    total: int | None = None


class JobContext(PluginContext):
    """A :class:`PluginContext` inside one run: progress, counts, errors and the report."""

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
    ) -> None:
        super().__init__(hub, tenant, install_id, plugin_id, config)
        self.run_id = run_id
        self.job = job
        self.options = options
        self.trigger = trigger
        self.progress = RunProgress()
        self._counts: dict[str, int] = {}
        self._errors: list[str] = []
        self._report: str | None = None
        self._state: str | None = None
        self._message = ""
        self._lock = threading.Lock()

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
