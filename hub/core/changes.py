"""Change sequences: "what changed after N", for exporters.

Every row an exporter may have to send again — a product (any catalog field, prices and cost
included), an inventory level, a listing — carries ``change_seq``: the number of the
transaction that last changed it, written by the core *in* that transaction. An exporter
keeps a cursor and reads, in batches, the rows numbered after it.

Why a counter row, and not a clock or a database sequence:

- A wall-clock ``updated_at`` misses changes: two processes' clocks disagree (skew), and a
  transaction that stamped its rows early can commit after a reader has moved past the stamp.
- A plain SEQUENCE or autoincrement misses them too on PostgreSQL: T1 takes 5, T2 takes 6 and
  commits first; a reader sees 6, moves its cursor to 6, and never sees 5 once T1 commits.
- Here each tenant has one row in ``change_counters``, bumped with ``INSERT … ON CONFLICT DO
  UPDATE … RETURNING`` inside the changing transaction (:func:`transaction_seq`). The bump
  holds that row's lock until the transaction ends, so the tenant's next writer waits at its
  own bump: it takes a greater number *and* commits later. For one tenant, commit order is
  sequence order, so a reader that sees number S already sees every transaction below S, and
  ``> cursor`` never skips a late commit. On SQLite writers are serialised by the database
  (``BEGIN IMMEDIATE``), which gives the same order.

Cost, and the rules that keep it low:

- One bump per transaction (memoised on the session), not per row: every row a transaction
  changes shares its number.
- A transaction bumps only once it knows something changes (an inventory apply that changes
  nothing takes no number and writes none), and bumps *before* it writes the rows it numbers,
  so on PostgreSQL it holds no row lock another bumping writer waits for (no deadlock between
  two of them).
- The counter lock is held from the bump to the commit: on PostgreSQL the writers of one
  tenant's catalog, inventory and listings run one after another over that span; other
  tenants are not affected.

Reading: one transaction may number 200,000 levels alike, so a batch cannot end only at a
change of number. The cursor is the pair (seq, id) of the last row returned, written
``"seq:id"``; rows are read in (seq, id) order, and a batch may end anywhere. A plain number
N (``0`` for "from the start") means "everything numbered after N". A read first takes the
counter's committed value as its upper bound, so a reader facing constant writes still ends;
what committed after it is read next time. Rows that existed before these columns carry 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, func, or_, text
from sqlalchemy import select as select_columns  # more columns than sqlmodel's overloads
from sqlmodel import Session, col

from hub.core.db import Database
from hub.core.errors import Invalid
from hub.core.models import InventoryLevel, Location, PluginInstall, Product

__all__ = [
    "ChangeBatch",
    "InventoryChange",
    "Position",
    "ProductChange",
    "after_clause",
    "find_products",
    "format_cursor",
    "high_water",
    "inventory_changes",
    "iter_changes",
    "parse_cursor",
    "product_changes",
    "transaction_seq",
]

T = TypeVar("T")

MAX_BATCH = 5000
_MEMO = "hub_change_seq"

_BUMP = text(
    "INSERT INTO change_counters (tenant_id, seq) VALUES (:t, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET seq = change_counters.seq + 1 "
    "RETURNING seq"
)
_HIGH = text("SELECT seq FROM change_counters WHERE tenant_id = :t")


@dataclass(frozen=True)
class ChangeBatch(Generic[T]):
    """Rows changed after a cursor, in change order; ``cursor`` continues after them (store
    it once the batch is handled, e.g. with ``ctx.set_cursor``)."""

    items: list[T]
    cursor: str


@dataclass(frozen=True)
class ProductChange:
    """A product as it is now, numbered by the transaction that last changed it."""

    product_id: int
    sku: str
    title: str
    catalog: str
    brand: str
    part_number: str
    upc: str | None
    ean: str | None
    mpn: str | None
    price: Decimal | None
    cost: Decimal | None
    sale_price: Decimal | None
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    created_at: datetime
    updated_at: datetime
    seq: int


@dataclass(frozen=True)
class InventoryChange:
    """One inventory level as it is now: a product's quantity at a location from one source
    (a plugin id, or ``api``: the integrator's own). Several sources may report the same
    product and location; ``ctx.stock(...)`` gives their sums."""

    product_id: int
    sku: str
    location: str
    source: str
    quantity: int
    sale_price: Decimal | None
    lead_time_days: int | None
    updated_at: datetime
    seq: int


# -- writing ---------------------------------------------------------------------------------


def transaction_seq(session: Session, tenant_id: int) -> int:
    """The change number of ``session``'s current transaction for ``tenant_id``: the tenant's
    counter is bumped on the first call in a transaction (taking its lock until the commit),
    later calls in the same transaction return the same number.

    Call it once the transaction knows it changes something, before writing those rows."""
    connection = session.connection()  # begins the transaction; no autoflush
    transaction = session.get_transaction()
    memo = session.info.get(_MEMO)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info[_MEMO] = memo
    numbers: dict[int, int] = memo[1]
    seq = numbers.get(tenant_id)
    if seq is None:
        seq = int(connection.execute(_BUMP, {"t": tenant_id}).scalar_one())
        numbers[tenant_id] = seq
    return seq


# -- reading ---------------------------------------------------------------------------------


Position = tuple[int, int | None]
"""(seq, id): after the row ``id`` of number ``seq``; (seq, None): after all of ``seq``."""


def parse_cursor(after: str | int | None) -> Position:
    """``after`` as a position: None, ``""`` and ``0`` are the start; a number N (or ``"N"``)
    is "after everything numbered N"; ``"seq:id"`` is a cursor a batch returned."""
    if after is None or after == "":
        return (0, None)
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return (after, None)
    if isinstance(after, str):
        seq_text, sep, id_text = after.partition(":")
        if seq_text.isdecimal() and (not sep or id_text.isdecimal()):
            return (int(seq_text), int(id_text) if sep else None)
    raise Invalid(f"not a change cursor: {after!r}", fields={"after": "malformed"})


def format_cursor(seq: int, row_id: int) -> str:
    return f"{seq}:{row_id}"


def high_water(session: Session, tenant_id: int) -> int:
    """The tenant's last committed change number (0 before any change)."""
    value = session.connection().execute(_HIGH, {"t": tenant_id}).scalar()
    return int(value or 0)


def after_clause(seq_column: Any, id_column: Any, after: Position, high: int) -> Any:
    """``(seq, id) > after`` and ``seq <= high``, written so that an index on
    (…, change_seq, id) bounds the scan."""
    seq, row_id = after
    if row_id is None:
        return and_(seq_column > seq, seq_column <= high)
    return and_(
        seq_column >= seq,
        seq_column <= high,
        or_(seq_column > seq, id_column > row_id),
    )


def product_changes(
    session: Session, tenant_id: int, after: Position, limit: int, high: int
) -> list[tuple[int, int, ProductChange]]:
    """Up to ``limit`` (seq, id, product) of the tenant changed after ``after``, numbered
    ≤ ``high``, in change order."""
    rows = session.execute(
        select_columns(*_PRODUCT_FIELDS)
        .where(
            col(Product.tenant_id) == tenant_id,
            after_clause(col(Product.change_seq), col(Product.id), after, high),
        )
        .order_by(col(Product.change_seq), col(Product.id))
        .limit(limit)
    ).all()
    return [(row[-1], row[0], ProductChange(*row)) for row in rows]


def inventory_changes(
    session: Session,
    tenant_id: int,
    after: Position,
    limit: int,
    high: int,
    *,
    location_id: int | None = None,
) -> list[tuple[int, int, InventoryChange]]:
    """Up to ``limit`` (seq, level id, level) of the tenant changed after ``after``,
    numbered ≤ ``high``, in change order; optionally at one location only."""
    query = (
        select_columns(
            col(InventoryLevel.id),
            col(InventoryLevel.product_id),
            col(Product.sku),
            col(Location.code),
            func.coalesce(col(PluginInstall.plugin_id), "api"),
            col(InventoryLevel.quantity),
            col(InventoryLevel.sale_price),
            col(InventoryLevel.lead_time_days),
            col(InventoryLevel.updated_at),
            col(InventoryLevel.change_seq),
        )
        .join(Product, col(Product.id) == col(InventoryLevel.product_id))
        .join(Location, col(Location.id) == col(InventoryLevel.location_id))
        .join(PluginInstall, col(PluginInstall.id) == col(InventoryLevel.install_id), isouter=True)
        .where(
            col(InventoryLevel.tenant_id) == tenant_id,
            after_clause(col(InventoryLevel.change_seq), col(InventoryLevel.id), after, high),
        )
    )
    if location_id is not None:
        query = query.where(col(InventoryLevel.location_id) == location_id)
    rows = session.execute(
        query.order_by(col(InventoryLevel.change_seq), col(InventoryLevel.id)).limit(limit)
    ).all()
    return [(row[-1], row[0], InventoryChange(*row[1:])) for row in rows]


def iter_changes(
    db: Database,
    tenant_id: int,
    after: str | int | None,
    batch: int,
    fetch: Callable[[Session, Position, int, int], list[tuple[int, int, T]]],
) -> Iterator[ChangeBatch[T]]:
    """Batches of what ``fetch(session, after, limit, high)`` reads — ``(seq, id, item)``
    in (seq, id) order — each batch in a short read transaction of its own (a plugin may take
    long over one), up to the counter's committed value when the iteration starts."""
    if not 1 <= batch <= MAX_BATCH:
        raise Invalid(f"batch must be 1–{MAX_BATCH}", fields={"batch": "out of range"})
    position = parse_cursor(after)
    with db.read() as session:
        high = high_water(session, tenant_id)
    while position[0] <= high:
        with db.read() as session:
            rows = fetch(session, position, batch, high)
        if not rows:
            return
        seq, row_id, _ = rows[-1]
        position = (seq, row_id)
        yield ChangeBatch([item for _, _, item in rows], format_cursor(seq, row_id))
        if len(rows) < batch:
            return


_PRODUCT_FIELDS = (
    col(Product.id),
    col(Product.sku),
    col(Product.title),
    col(Product.catalog),
    col(Product.brand),
    col(Product.part_number),
    col(Product.upc),
    col(Product.ean),
    col(Product.mpn),
    col(Product.price),
    col(Product.cost),
    col(Product.sale_price),
    col(Product.sale_starts_at),
    col(Product.sale_ends_at),
    col(Product.created_at),
    col(Product.updated_at),
    col(Product.change_seq),
)


def find_products(
    session: Session,
    tenant_id: int,
    *,
    ids: Sequence[int] = (),
    skus: Sequence[str] = (),
    upcs: Sequence[str] = (),
) -> list[ProductChange]:
    """The tenant's products whose id, SKU or UPC is one of those given, as they are now
    (each once, in id order); unknown values find nothing."""
    found: dict[int, ProductChange] = {}
    lookups: tuple[tuple[Any, list[Any]], ...] = (
        (Product.id, sorted(set(ids))),
        (Product.sku, sorted(set(skus))),
        (Product.upc, sorted(set(upcs))),
    )
    for column, unique in lookups:
        for start in range(0, len(unique), 500):
            rows = session.execute(
                select_columns(*_PRODUCT_FIELDS).where(
                    col(Product.tenant_id) == tenant_id,
                    col(column).in_(unique[start : start + 500]),
                )
            ).all()
            for row in rows:
                found[int(row[0])] = ProductChange(*row)
    return [found[key] for key in sorted(found)]
