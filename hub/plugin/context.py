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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.core import exports, orders, state, webhooks
from hub.core.catalog import get_location
from hub.core.crypto import SecretBox
from hub.core.db import Database
from hub.core.errors import NotFound
from hub.core.inventory import apply_inventory
from hub.core.models import Location, Order, PluginInstall, Product
from hub.core.records import ApplyResult, ClearScope, InventoryRecord, MatchRule, OrderView
from hub.core.tenants import TenantInfo
from hub.settings import Settings

__all__ = ["JobContext", "OfferSnapshot", "PluginContext", "PluginServices", "TransientJobError"]

EVENT_BATCH = 500


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
            changed = sorted(result.changed_product_ids)
            if not webhooks.wanted(session, self.tenant.id, "inventory.changed"):
                changed = []  # nobody listens: skip looking up the SKUs
            for start in range(0, len(changed), EVENT_BATCH):
                chunk = changed[start : start + EVENT_BATCH]
                skus = list(session.exec(select(Product.sku).where(col(Product.id).in_(chunk))))
                webhooks.emit(
                    session,
                    self.tenant.id,
                    "inventory.changed",
                    {
                        "location": location_code,
                        "source": self.plugin_id,
                        "skus": sorted(skus),
                    },
                )
        return result

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

    def offer_snapshot(
        self, limit: int = 30, *, unchanged: Callable[[tuple[Any, ...]], bool] | None = None
    ) -> OfferSnapshot:
        """What a polling vendor is offered: the queue (as :meth:`offer_orders`), the pending
        cancellations, and a fingerprint of both, read before them (so a document is never
        older than its fingerprint).

        When ``unchanged(fingerprint)`` says the caller already holds the document for this
        fingerprint (and nothing is offered for the first time), nothing else is read. First
        listings are marked ``offered`` afterwards; such a snapshot is not ``reusable``."""
        with self._hub.db.lane() as lane:
            queue = exports.queue_fingerprint(lane, self.install_id, limit)
        fingerprint = (self.config_version, queue)
        first_listing = any(row[1] == "pending" for row in queue[0])
        if not first_listing and unchanged is not None and unchanged(fingerprint):
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

    def bind(
        self, kind: str, hub_id: int, vendor_id: str, data: dict[str, Any] | None = None
    ) -> None:
        with self._hub.db.session() as session:
            state.bind(session, self.install_id, kind, hub_id, vendor_id, data)

    def vendor_id(self, kind: str, hub_id: int) -> str | None:
        with self._hub.db.read() as session:
            return state.vendor_id_of(session, self.install_id, kind, hub_id)

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
        holder = f"{self._hub.worker_id}:{threading.get_ident()}"
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
