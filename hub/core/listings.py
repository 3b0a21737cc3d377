"""Listings: which products one install (a sales-channel plugin) publishes, the product's id
on the vendor, and the values last pushed there.

Rules decided here (the one place they live):

- A listing is keyed by (install, product). The API names products by SKU; plugins by SKU or
  product id. A call naming an unknown product applies nothing and answers 422 naming each
  (``items[3].sku``). When one call names a product twice, the last occurrence wins.
- ``enabled`` is the integrator's decision (``PUT …/listings``) or the plugin's
  (``auto_enable_new_products``). With ``only_missing`` a plugin creates listings only for
  products that have none, so a listing the integrator disabled stays disabled.
- ``last_pushed`` is the exporter's memory of what the vendor holds. :func:`record_pushed`
  merges the given top-level keys into it (a key given as None is removed), so the inventory
  flow's ``qoh`` and the catalog flow's ``price`` do not erase each other; it records only on
  existing listings (a product pushed without a listing is a plugin's mistake: 422).
- Change numbers (:mod:`hub.core.changes`): a listing's number moves when it is created or its
  ``enabled`` changes — what an exporter acts on. :func:`record_pushed` does not move it: an
  exporter would otherwise read its own bookkeeping back as changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from hub.core.changes import Position, after_clause, transaction_seq
from hub.core.errors import Invalid
from hub.core.models import Listing, Product
from hub.core.types import utcnow

__all__ = [
    "MAX_LISTINGS_PER_CALL",
    "ListingView",
    "find_listings",
    "listing_changes",
    "page_listings",
    "put_listings",
    "record_pushed",
]

MAX_LISTINGS_PER_CALL = 1000
_CHUNK = 500  # ids per IN list

ProductKey = int | str  # a product id, or a SKU


@dataclass(frozen=True)
class ListingView:
    """A listing as plugins and the API see it."""

    product_id: int
    sku: str
    enabled: bool
    vendor_id: str | None
    last_pushed: dict[str, Any]
    updated_at: datetime
    seq: int

    @classmethod
    def of(cls, row: Listing, sku: str) -> ListingView:
        return cls(
            row.product_id,
            sku,
            row.enabled,
            row.vendor_id,
            dict(row.last_pushed or {}),
            row.updated_at,
            row.change_seq,
        )


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _resolve(
    session: Session, tenant_id: int, keys: Sequence[ProductKey]
) -> tuple[dict[ProductKey, int], dict[int, str]]:
    """Product ids of ``keys`` (SKUs or ids) within the tenant, and the SKU of each id;
    unknown keys are left out."""
    skus = sorted({k for k in keys if isinstance(k, str)})
    ids = sorted({k for k in keys if isinstance(k, int)})
    found: dict[ProductKey, int] = {}
    sku_of: dict[int, str] = {}
    for chunk in _chunks(skus):
        for pid, sku in session.exec(
            select(Product.id, Product.sku).where(
                Product.tenant_id == tenant_id, col(Product.sku).in_(chunk)
            )
        ):
            assert pid is not None
            found[sku] = pid
            sku_of[pid] = sku
    for chunk in _chunks(ids):
        for pid, sku in session.exec(
            select(Product.id, Product.sku).where(
                Product.tenant_id == tenant_id, col(Product.id).in_(chunk)
            )
        ):
            assert pid is not None
            found[pid] = pid
            sku_of[pid] = sku
    return found, sku_of


def _unknown(keys: Iterable[tuple[str, ProductKey]], found: Mapping[ProductKey, int]) -> None:
    """Raise :class:`Invalid` naming every key that is not a product of the tenant."""
    problems = {
        name: f"no product with {'sku' if isinstance(key, str) else 'id'} {key!r}"
        for name, key in keys
        if key not in found
    }
    if problems:
        raise Invalid(f"{len(problems)} unknown product(s); nothing was applied", fields=problems)


def _field(n: int, key: ProductKey) -> str:
    return f"items[{n}].{'sku' if isinstance(key, str) else 'product_id'}"


def _existing(session: Session, install_id: int, product_ids: Sequence[int]) -> dict[int, Listing]:
    rows: dict[int, Listing] = {}
    for chunk in _chunks(product_ids):
        for row in session.exec(
            select(Listing).where(
                Listing.install_id == install_id, col(Listing.product_id).in_(chunk)
            )
        ):
            rows[row.product_id] = row
    return rows


def put_listings(
    session: Session,
    tenant_id: int,
    install_id: int,
    items: Sequence[tuple[ProductKey, bool]],
    *,
    only_missing: bool = False,
) -> dict[str, int]:
    """Set ``enabled`` of the install's listings of the given products (SKU or id), creating
    what is missing; ``only_missing`` leaves existing listings as they are. Returns
    ``{created, updated}`` (a listing already as asked counts in neither)."""
    found, _ = _resolve(session, tenant_id, [key for key, _ in items])
    _unknown(((_field(n, key), key) for n, (key, _) in enumerate(items)), found)
    wanted = {found[key]: enabled for key, enabled in items}  # the last occurrence wins

    def plan() -> tuple[list[int], list[Listing]]:
        existing = _existing(session, install_id, sorted(wanted))
        creates = [pid for pid in wanted if pid not in existing]
        updates = (
            []
            if only_missing
            else [row for pid, row in existing.items() if row.enabled != wanted[pid]]
        )
        return creates, updates

    creates, updates = plan()
    if not creates and not updates:
        return {"created": 0, "updated": 0}
    seq = transaction_seq(session, tenant_id)
    # Read again under the counter's lock: a writer that committed in between is seen now
    # (every listing writer bumps first), so two calls at once do not create a row twice.
    creates, updates = plan()
    now = utcnow()
    for pid in creates:
        session.add(
            Listing(
                install_id=install_id,
                product_id=pid,
                enabled=wanted[pid],
                change_seq=seq,
                created_at=now,
                updated_at=now,
            )
        )
    for row in updates:
        row.enabled = wanted[row.product_id]
        row.change_seq = seq
        row.updated_at = now
        session.add(row)
    session.flush()
    return {"created": len(creates), "updated": len(updates)}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def record_pushed(
    session: Session,
    tenant_id: int,
    install_id: int,
    pushed: Mapping[ProductKey, Mapping[str, Any]],
    vendor_ids: Mapping[ProductKey, str] | None = None,
) -> int:
    """Merge ``pushed[product]`` into each listing's ``last_pushed`` (top-level keys; None
    removes a key; decimals and datetimes are stored as strings) and set ``vendor_ids[product]``
    as its vendor id. Every named product must have a listing of this install (else 422,
    nothing recorded). Returns the number of listings recorded on."""
    vendor_ids = vendor_ids or {}
    keys = list(dict.fromkeys([*pushed, *vendor_ids]))
    found, _ = _resolve(session, tenant_id, keys)
    _unknown(((str(key), key) for key in keys), found)
    existing = _existing(session, install_id, sorted({found[k] for k in keys}))
    missing = {str(k): "no listing of this install" for k in keys if found[k] not in existing}
    if missing:
        raise Invalid(
            f"{len(missing)} product(s) without a listing; nothing was recorded", fields=missing
        )
    try:
        values = {
            found[key]: json.loads(json.dumps(dict(v), default=_json_value))
            for key, v in pushed.items()
        }
    except (TypeError, ValueError) as exc:
        raise Invalid(f"pushed values must be JSON: {exc}", fields={"pushed": str(exc)}) from None
    now = utcnow()
    touched: set[int] = set()
    for pid, update in values.items():
        row = existing[pid]
        merged = {**(row.last_pushed or {}), **update}
        row.last_pushed = {k: v for k, v in merged.items() if v is not None}
        touched.add(pid)
    for key, vendor_id in vendor_ids.items():
        row = existing[found[key]]
        row.vendor_id = vendor_id
        touched.add(found[key])
    for pid in touched:
        existing[pid].updated_at = now
        session.add(existing[pid])
    session.flush()
    return len(touched)


def _with_sku() -> Any:
    return select(Listing, Product.sku).join(Product, col(Product.id) == col(Listing.product_id))


def page_listings(
    session: Session,
    install_id: int,
    *,
    after_id: int | None = None,
    limit: int = 100,
    enabled: bool | None = None,
    sku: str | None = None,
) -> list[tuple[int, ListingView]]:
    """Up to ``limit`` (listing id, listing) of the install in creation order, after
    ``after_id``; optionally only enabled (or disabled) ones, or the one of ``sku``."""
    query = _with_sku().where(Listing.install_id == install_id)
    if enabled is not None:
        query = query.where(Listing.enabled == enabled)
    if sku is not None:
        query = query.where(Product.sku == sku)
    if after_id is not None:
        query = query.where(col(Listing.id) > after_id)
    rows = session.exec(query.order_by(col(Listing.id)).limit(limit)).all()
    return [(int(row.id or 0), ListingView.of(row, sku_)) for row, sku_ in rows]


def find_listings(
    session: Session,
    tenant_id: int,
    install_id: int,
    products: Sequence[ProductKey],
    *,
    enabled: bool | None = None,
) -> list[ListingView]:
    """The install's listings of ``products`` (SKUs or ids; unknown ones and products
    without a listing are left out), in the order of ``products``."""
    found, _ = _resolve(session, tenant_id, products)
    ids = sorted(set(found.values()))
    views: dict[int, ListingView] = {}
    for chunk in _chunks(ids):
        query = _with_sku().where(
            Listing.install_id == install_id, col(Listing.product_id).in_(chunk)
        )
        if enabled is not None:
            query = query.where(Listing.enabled == enabled)
        for row, sku in session.exec(query):
            views[row.product_id] = ListingView.of(row, sku)
    ordered = dict.fromkeys(found[k] for k in products if k in found)
    return [views[pid] for pid in ordered if pid in views]


def listing_changes(
    session: Session,
    install_id: int,
    after: Position,
    limit: int,
    high: int,
    *,
    enabled: bool | None = None,
) -> list[tuple[int, int, ListingView]]:
    """Up to ``limit`` (seq, listing id, listing) of the install changed after ``after``,
    numbered ≤ ``high``, in change order."""
    query = _with_sku().where(
        Listing.install_id == install_id,
        after_clause(col(Listing.change_seq), col(Listing.id), after, high),
    )
    if enabled is not None:
        query = query.where(Listing.enabled == enabled)
    rows = session.exec(query.order_by(col(Listing.change_seq), col(Listing.id)).limit(limit)).all()
    return [(row.change_seq, int(row.id or 0), ListingView.of(row, sku)) for row, sku in rows]
