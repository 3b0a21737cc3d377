"""The inventory apply engine: one batch of vendor records from one install → products →
inventory levels, set-based.

A batch is loaded into a temporary table, matched to products with one join per rule,
upserted into ``inventory_levels`` with one ``INSERT … SELECT … ON CONFLICT``, and (when asked)
the install's levels of the given scopes that the batch did not report are set to zero with
one ``UPDATE``. Only the per-record outcomes travel back to Python, for the report. A batch
may carry a quantity per location (:func:`apply_inventory_locations`, e.g. one record per item
of a vendor with several stores): it is matched once, and upserted and cleared per location.

Rules decided here (the one place they live):
- ``MatchRule.UPC_EAN_MPN`` tries the record's UPC, then its EAN, then its MPN (with the
  brand when the record and the product both know one): the first key that matches any
  product decides, so a UPC naming two products is ambiguous even if the EAN names one.
- A record that matches several products is ``ambiguous`` and applies nothing.
- Several records that match the same product are all ``ambiguous``: the engine does not
  guess which vendor row is right, and that product keeps its quantity (it is not cleared).
- ``sale_price`` None on a record leaves the stored sale price alone; ``lead_time_days`` None
  likewise.
- Every level a batch changes or clears gets the batch's change number (one per transaction,
  :mod:`hub.core.changes`); a batch that changes nothing takes no number and writes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    text,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.changes import transaction_seq
from hub.core.direct_sql import DirectSql
from hub.core.errors import Invalid
from hub.core.models import InventoryLevel, Location, Product
from hub.core.records import (
    ApplyOutcome,
    ApplyResult,
    ClearScope,
    InventoryRecord,
    MatchRule,
    RecordOutcome,
    normalise_brand,
    normalise_part_number,
)
from hub.core.types import money, utcnow

__all__ = [
    "BoundProduct",
    "LocationsResult",
    "SetResult",
    "apply_inventory",
    "apply_inventory_locations",
    "bound_products",
    "emit_inventory_changed",
    "location_ids",
    "move_stock",
    "move_stock_once",
    "set_quantities",
    "stock_by_location",
]

EVENT_BATCH = 500  # SKUs per inventory.changed event

_tmp_meta = MetaData()
_tmp_in = Table(
    "hub_apply_in",
    _tmp_meta,
    Column("seq", Integer, primary_key=True),
    Column("match_key", String),
    Column("catalog", String),
    Column("brand_norm", String),
    Column("quantity", Integer),
    Column("sale_price", String),
    Column("lead", Integer),
    Column("ean", String),
    Column("mpn", String),
    prefixes=["TEMPORARY"],
)

_MATCH_SQL = {
    MatchRule.CATALOG_BRAND_PART: (
        "p.catalog = i.catalog AND p.brand_norm = i.brand_norm AND p.part_norm = i.match_key"
    ),
    MatchRule.SKU: "p.sku_norm = i.match_key",
    MatchRule.UPC: "p.upc = i.match_key",
    MatchRule.EAN: "p.ean = i.match_key",
    MatchRule.MPN: "p.mpn = i.match_key",
}

# MatchRule.UPC_EAN_MPN: the record's UPC (``match_key``), else its EAN, else its MPN with the
# brand when both sides know one; each pass only for records the passes before matched to no
# product.
_CASCADE_SQL = (
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT i.seq, MIN(p.id), COUNT(*) FROM hub_apply_in i "
    "JOIN products p ON p.tenant_id = :t AND p.upc = i.match_key "
    "WHERE i.match_key <> '' GROUP BY i.seq",
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT i.seq, MIN(p.id), COUNT(*) FROM hub_apply_in i "
    "JOIN products p ON p.tenant_id = :t AND p.ean = i.ean "
    "WHERE i.ean <> '' AND i.seq NOT IN (SELECT seq FROM hub_apply_match) GROUP BY i.seq",
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT i.seq, MIN(p.id), COUNT(*) FROM hub_apply_in i "
    "JOIN products p ON p.tenant_id = :t AND p.mpn = i.mpn "
    "AND (i.brand_norm = '' OR p.brand_norm = '' OR p.brand_norm = i.brand_norm) "
    "WHERE i.mpn <> '' AND i.seq NOT IN (SELECT seq FROM hub_apply_match) GROUP BY i.seq",
)
# Every product any key of an ambiguous record names (a superset of its candidates: those
# are kept from being cleared, never the other way round).
_CASCADE_AMBIGUOUS = (
    "SELECT DISTINCT p.id FROM hub_apply_match m JOIN hub_apply_in i ON i.seq = m.seq "
    "JOIN products p ON p.tenant_id = :t AND ("
    "(i.match_key <> '' AND p.upc = i.match_key) OR (i.ean <> '' AND p.ean = i.ean) "
    "OR (i.mpn <> '' AND p.mpn = i.mpn)) WHERE m.n > 1"
)


def _match_key(rule: MatchRule, key: str) -> str:
    if rule in (MatchRule.CATALOG_BRAND_PART, MatchRule.SKU):
        return normalise_part_number(key)
    return key.strip()


# A batch in ``hub_apply_in``: per record its match key, catalog and brand, the first
# location's quantity, sale price and lead time, and (for MatchRule.UPC_EAN_MPN) its EAN and
# MPN. ``hub_apply_match``: the records that matched, with their first candidate and count.
_BATCH_COLUMNS = (
    "seq INTEGER PRIMARY KEY, match_key TEXT, catalog TEXT, brand_norm TEXT, quantity INTEGER, "
    "sale_price TEXT, lead INTEGER, ean TEXT, mpn TEXT"
)
_BATCH_NAMES = tuple(column.split()[0] for column in _BATCH_COLUMNS.split(", "))
_MATCH_COLUMNS = (
    "seq INTEGER PRIMARY KEY, product_id INTEGER, n INTEGER, ok INTEGER NOT NULL DEFAULT 0"
)


def _prepare(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS hub_apply_in ({_BATCH_COLUMNS})"
        )
        conn.exec_driver_sql(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS hub_apply_match ({_MATCH_COLUMNS})"
        )
        conn.exec_driver_sql("TRUNCATE hub_apply_in, hub_apply_match")
    else:
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS hub_apply_in ({_BATCH_COLUMNS})")
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS hub_apply_match ({_MATCH_COLUMNS})")
        conn.exec_driver_sql("DELETE FROM hub_apply_in")
        conn.exec_driver_sql("DELETE FROM hub_apply_match")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS hub_apply_match_product ON hub_apply_match (product_id)"
    )


def _load(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Load ``rows`` into a scratch table through the driver (COPY on PostgreSQL, hundreds
    of rows per INSERT on SQLite): the ORM/Core parameter handling would cost more than the
    whole match and upsert."""
    if conn.dialect.name != "postgresql":
        DirectSql(conn.connection.dbapi_connection, conn.dialect).insert_many(table, columns, rows)
        return
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(  # type: ignore[attr-defined]
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {table}")
    finally:
        cursor.close()


def apply_inventory(
    session: Session,
    *,
    tenant_id: int,
    install_id: int,
    location_id: int,
    records: Sequence[InventoryRecord],
    rule: MatchRule,
    clear: Sequence[ClearScope] = (),
) -> ApplyResult:
    """Apply one batch; returns an outcome per record plus one ``cleared`` per product set
    to zero. Runs in the caller's transaction: all of it applies, or none."""
    return apply_inventory_locations(
        session,
        tenant_id=tenant_id,
        install_id=install_id,
        records=records,
        quantities={location_id: [r.quantity for r in records]},
        rule=rule,
        clear=clear,
    ).result(location_id)


@dataclass
class LocationsResult:
    """What :func:`apply_inventory_locations` did, by record position ``i`` (in the order
    the records were given) and location (its id; the location code from a context):

    - ``product_ids[i]``, ``skus[i]``: the product record ``i`` applies to, the same at every
      location (None when it matched none, or several products);
    - ``outcomes[loc][i]``: its outcome there, and ``old_quantities[loc][i]`` the quantity
      there before (None without a level; for an ambiguous record, its first candidate's);
      the new quantity of an ``updated`` or ``unchanged`` record is ``quantities[loc][i]``;
    - ``cleared[loc]``: a ``cleared`` outcome per product set to zero there, and
      ``changed_product_ids[loc]`` every product whose level there changed.

    Kept by column, not as an outcome object per record and location (a full pass of
    100,000 items at two shops would be 200,000 of them); :meth:`result` gives one location
    as the :class:`ApplyResult` that :func:`apply_inventory` returns."""

    records: Sequence[InventoryRecord]
    quantities: dict[Any, Sequence[int]]
    product_ids: list[int | None]
    skus: list[str | None]
    outcomes: dict[Any, list[ApplyOutcome]] = field(default_factory=dict)
    old_quantities: dict[Any, list[int | None]] = field(default_factory=dict)
    cleared: dict[Any, list[RecordOutcome]] = field(default_factory=dict)
    changed_product_ids: dict[Any, set[int]] = field(default_factory=dict)

    def counts(self, location: Any) -> dict[str, int]:
        """How many records (and cleared products) had each outcome at ``location``."""
        tally = Counter(self.outcomes[location])
        result = {o.value: tally.get(o, 0) for o in ApplyOutcome}
        result[ApplyOutcome.CLEARED.value] += len(self.cleared[location])
        return result

    def result(self, location: Any) -> ApplyResult:
        """``location`` as an :class:`ApplyResult`: an outcome per record, then the cleared."""
        result = ApplyResult(changed_product_ids=set(self.changed_product_ids[location]))
        applied = (ApplyOutcome.UPDATED, ApplyOutcome.UNCHANGED)  # the others set nothing
        result.outcomes = outcomes = [
            RecordOutcome(
                kind,
                r.ref,
                r.key,
                sku,
                before,
                after if kind in applied else None,
                r.sale_price,
                pid,
            )
            for r, kind, sku, before, after, pid in zip(
                self.records,
                self.outcomes[location],
                self.skus,
                self.old_quantities[location],
                self.quantities[location],
                self.product_ids,
                strict=True,
            )
        ]
        outcomes.extend(self.cleared[location])
        return result

    def renamed(self, names: Mapping[Any, Any]) -> LocationsResult:
        """The same result with each location key ``k`` as ``names[k]``."""

        def rename(values: Mapping[Any, Any]) -> dict[Any, Any]:
            return {names[k]: v for k, v in values.items()}

        return LocationsResult(
            self.records,
            rename(self.quantities),
            self.product_ids,
            self.skus,
            rename(self.outcomes),
            rename(self.old_quantities),
            rename(self.cleared),
            rename(self.changed_product_ids),
        )


# The matched records, and the levels they have at one location (for outcomes and reports).
_MATCHED_SQL = (
    "SELECT m.seq, m.n, m.ok, p.sku, m.product_id FROM hub_apply_match m "
    "JOIN products p ON p.id = m.product_id"
)
_LEVELS_SQL = (
    "SELECT m.seq, l.quantity, l.sale_price, l.lead_time_days FROM hub_apply_match m "
    "JOIN inventory_levels l ON l.product_id = m.product_id "
    "AND l.location_id = :loc AND l.install_id = :inst"
)


_AMBIGUOUS, _UPDATED, _UNCHANGED = (
    ApplyOutcome.AMBIGUOUS,
    ApplyOutcome.UPDATED,
    ApplyOutcome.UNCHANGED,
)


def _extras_change(record: InventoryRecord, level: tuple[Any, ...]) -> bool:
    """Whether the record's sale price or lead time (where it gives one) differs from the
    level's (``level``: a row of ``_LEVELS_SQL``)."""
    sale_price, lead = record.sale_price, record.lead_time_days
    return (
        sale_price is not None and (level[2] is None or money(level[2]) != money(sale_price))
    ) or (lead is not None and level[3] != lead)


def _upsert_sql(quantity: str, source: str, is_pg: bool) -> str:
    """The levels a batch changes at one location, in one statement: ``quantity`` and
    ``source`` name where each applied record's quantity there comes from."""
    return (
        "INSERT INTO inventory_levels (tenant_id, product_id, location_id, install_id, "
        "quantity, sale_price, lead_time_days, updated_at, change_seq) "
        f"SELECT :t, m.product_id, :loc, :inst, {quantity}, "
        + ("CAST(i.sale_price AS NUMERIC(14,4))" if is_pg else "i.sale_price")
        + f", i.lead, :now, :seq FROM {source} "
        "ON CONFLICT (product_id, location_id, install_id) DO UPDATE SET "
        "quantity = excluded.quantity, "
        "sale_price = COALESCE(excluded.sale_price, inventory_levels.sale_price), "
        "lead_time_days = COALESCE(excluded.lead_time_days, "
        "inventory_levels.lead_time_days), "
        "updated_at = excluded.updated_at, change_seq = excluded.change_seq "
        "WHERE inventory_levels.quantity <> excluded.quantity "
        "OR (excluded.sale_price IS NOT NULL AND (inventory_levels.sale_price IS NULL "
        "OR inventory_levels.sale_price <> excluded.sale_price)) "
        "OR (excluded.lead_time_days IS NOT NULL AND (inventory_levels.lead_time_days "
        "IS NULL OR inventory_levels.lead_time_days <> excluded.lead_time_days))"
    )


# The first location's quantities travel in ``hub_apply_in``; a further location's, of the
# records that change there, in ``hub_apply_qty``.
_UPSERT_FIRST = (
    "i.quantity",
    "hub_apply_match m JOIN hub_apply_in i ON i.seq = m.seq WHERE m.ok = 1",
)
_UPSERT_MORE = (
    "q.quantity",
    "hub_apply_qty q JOIN hub_apply_match m ON m.seq = q.seq JOIN hub_apply_in i "
    "ON i.seq = q.seq WHERE m.ok = 1",
)


def _load_quantities(conn: Connection, rows: list[tuple[int, int]]) -> None:
    """``hub_apply_qty``: the (seq, quantity) of the records a further location changes."""
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS hub_apply_qty (seq INTEGER PRIMARY KEY, quantity INTEGER)"
    )
    conn.exec_driver_sql("DELETE FROM hub_apply_qty")
    _load(conn, "hub_apply_qty", ("seq", "quantity"), rows)


def apply_inventory_locations(
    session: Session,
    *,
    tenant_id: int,
    install_id: int,
    records: Sequence[InventoryRecord],
    quantities: Mapping[int, Sequence[int]],
    rule: MatchRule,
    clear: Sequence[ClearScope] = (),
) -> LocationsResult:
    """Apply one batch at several locations: ``quantities`` maps a location id to the
    quantity there of each record (in the records' order; a record's own ``quantity`` is
    not used). The records are matched once; each location gets what :func:`apply_inventory`
    of the batch with its quantities would do there — the same outcomes, levels and
    clearing. Runs in the caller's transaction: all of it applies, or none (one change
    number for every location)."""
    count = len(records)
    for location_id, values in quantities.items():
        if len(values) != count:
            raise ValueError(
                f"location {location_id}: {len(values)} quantities for {count} records"
            )
    applied = LocationsResult(records, dict(quantities), [None] * count, [None] * count)
    if not quantities:
        return applied
    conn = session.connection()
    _prepare(conn)
    now = utcnow()
    brands: dict[str, str] = {}  # a batch has few brands: normalise each once
    match_key = (
        normalise_part_number
        if rule in (MatchRule.CATALOG_BRAND_PART, MatchRule.SKU)
        else str.strip
    )  # as _match_key, without a call per record
    cascade = rule is MatchRule.UPC_EAN_MPN
    first = next(iter(quantities.values()))
    rows = [
        (
            seq,
            r.upc.strip() if cascade else match_key(r.key),
            r.catalog,
            brands[r.brand]
            if r.brand in brands
            else brands.setdefault(r.brand, normalise_brand(r.brand)),
            int(first[seq]),
            str(r.sale_price) if r.sale_price is not None else None,
            r.lead_time_days,
            r.ean.strip() if cascade else "",
            r.mpn.strip() if cascade else "",
        )
        for seq, r in enumerate(records)
    ]
    if rows:
        _load(conn, "hub_apply_in", _BATCH_NAMES, rows)
    del rows
    is_pg = conn.dialect.name == "postgresql"
    params = {"t": tenant_id, "inst": install_id}

    # 1. match, once for every location: one row per record with the number of candidates.
    if cascade:
        for statement in _CASCADE_SQL:
            conn.execute(text(statement), params)
    else:
        conn.execute(
            text(
                "INSERT INTO hub_apply_match (seq, product_id, n) "
                "SELECT i.seq, MIN(p.id), COUNT(*) FROM hub_apply_in i "
                f"JOIN products p ON p.tenant_id = :t AND {_MATCH_SQL[rule]} GROUP BY i.seq"
            ),
            params,
        )
    # A record is applied when it has exactly one product that no other record claims.
    conn.exec_driver_sql(
        "UPDATE hub_apply_match SET ok = 1 WHERE n = 1 AND product_id NOT IN ("
        "SELECT product_id FROM hub_apply_match WHERE n = 1 GROUP BY product_id "
        "HAVING COUNT(*) > 1)"
    )
    if is_pg:
        conn.exec_driver_sql("ANALYZE hub_apply_match")
    sql = DirectSql(conn.connection.dbapi_connection, conn.dialect)
    matched = sql.rows(_MATCHED_SQL)
    product_ids, skus = applied.product_ids, applied.skus
    for seq, candidates, _ok, sku, product_id in matched:
        if candidates == 1:  # one candidate (applied, or claimed by another record too)
            product_ids[seq] = product_id
            skus[seq] = sku
    # Every candidate of an ambiguous record counts as reported when clearing
    # (hub_apply_match holds only the first of them).
    ambiguous_ids: list[int] = []
    if clear:
        ambiguous_sql = (
            _CASCADE_AMBIGUOUS
            if cascade
            else "SELECT DISTINCT p.id FROM hub_apply_match m JOIN hub_apply_in i "
            "ON i.seq = m.seq "
            f"JOIN products p ON p.tenant_id = :t AND {_MATCH_SQL[rule]} WHERE m.n > 1"
        )
        ambiguous_ids = [int(pid) for (pid,) in conn.execute(text(ambiguous_sql), params).all()]

    # Sale prices or lead times to compare (a stock-only batch has none: quantities alone).
    extras = any(r.sale_price is not None or r.lead_time_days is not None for r in records)
    for n, (location_id, values) in enumerate(quantities.items()):
        loc_params = {**params, "loc": location_id}
        # 2. the previous values there; the outcomes follow from them alone.
        levels = {row[0]: row for row in sql.rows(_LEVELS_SQL, **loc_params)}
        kinds: list[ApplyOutcome] = [ApplyOutcome.UNMATCHED] * count
        old: list[int | None] = [None] * count
        changed: set[int] = set()
        writes: list[tuple[int, int]] = []  # (seq, quantity) of the records that change
        add_changed, add_write, get_level = changed.add, writes.append, levels.get
        for seq, _candidates, ok, _sku, product_id in matched:
            level = get_level(seq)
            if level is not None:
                old[seq] = level[1]
            if not ok:
                kinds[seq] = _AMBIGUOUS
                continue
            quantity = values[seq]
            if (
                level is None
                or level[1] != quantity
                or (extras and _extras_change(records[seq], level))
            ):
                add_changed(product_id)
                add_write((seq, int(quantity)))
                kinds[seq] = _UPDATED
            else:
                kinds[seq] = _UNCHANGED
        del levels
        applied.outcomes[location_id] = kinds
        applied.old_quantities[location_id] = old
        applied.changed_product_ids[location_id] = changed
        cleared = applied.cleared[location_id] = []

        # 3. upsert the levels that change, in one statement, numbered for exporters
        # (hub.core.changes) — only when something changes: an unchanged batch takes no number.
        if writes:
            if n == 0:
                quantity_sql, source = _UPSERT_FIRST
            else:
                _load_quantities(conn, writes)
                quantity_sql, source = _UPSERT_MORE
            conn.execute(
                text(_upsert_sql(quantity_sql, source, is_pg)).bindparams(
                    bindparam("now", type_=_utc_type())
                ),
                {**loc_params, "now": now, "seq": transaction_seq(session, tenant_id)},
            )

        # 4. clear what the batch did not report, per scope.
        for scope in clear:
            for product_id, sku, old_qty in _clear_scope(
                session, conn, scope, loc_params, ambiguous_ids, now
            ):
                changed.add(product_id)
                cleared.append(
                    RecordOutcome(ApplyOutcome.CLEARED, sku, sku, sku, old_qty, 0, None, product_id)
                )
    return applied


def _clear_scope(
    session: Session,
    conn: Connection,
    scope: ClearScope,
    params: dict[str, Any],
    ambiguous_ids: list[int],
    now: Any,
) -> list[tuple[int, str, int]]:
    """Set to zero the install's levels at ``params["loc"]`` of ``scope`` that the batch in
    ``hub_apply_match`` did not report (nor named as a candidate of an ambiguous record);
    returns (product id, sku, old quantity) of each."""
    where = [
        "l.install_id = :inst",
        "l.location_id = :loc",
        "l.quantity <> 0",
        "p.tenant_id = :t",
        "l.product_id NOT IN (SELECT product_id FROM hub_apply_match WHERE product_id IS NOT NULL)",
    ]
    scope_params: dict[str, Any] = dict(params)
    if ambiguous_ids:
        where.append("l.product_id NOT IN :ambiguous")
        scope_params["ambiguous"] = ambiguous_ids
    if scope.catalog is not None:
        where.append("p.catalog = :catalog")
        scope_params["catalog"] = scope.catalog
    if scope.brand is not None:
        where.append("p.brand_norm = :brand")
        scope_params["brand"] = normalise_brand(scope.brand)
    condition = " AND ".join(where)
    expanding: list[Any] = [bindparam("ambiguous", expanding=True)] if ambiguous_ids else []
    cleared = conn.execute(
        text(
            "SELECT l.product_id, p.sku, l.quantity FROM inventory_levels l "
            f"JOIN products p ON p.id = l.product_id WHERE {condition}"
        ).bindparams(*expanding),
        scope_params,
    ).all()
    if not cleared:
        return []
    conn.execute(
        text(
            "UPDATE inventory_levels SET quantity = 0, updated_at = :now, change_seq = :seq "
            "WHERE id IN (SELECT l.id FROM inventory_levels l JOIN products p "
            f"ON p.id = l.product_id WHERE {condition})"
        ).bindparams(bindparam("now", type_=_utc_type()), *expanding),
        {**scope_params, "now": now, "seq": transaction_seq(session, params["t"])},
    )
    return [(int(product_id), sku, old_qty) for product_id, sku, old_qty in cleared]


@dataclass
class SetResult:
    """What :func:`set_quantities` did: ``updated`` and ``unchanged`` count distinct
    (sku, location) pairs; ``changed`` is the product ids that changed, per location code."""

    updated: int = 0
    unchanged: int = 0
    changed: dict[str, set[int]] = field(default_factory=dict)


def set_quantities(
    session: Session, tenant_id: int, items: Sequence[tuple[str, str, int]]
) -> SetResult:
    """Set quantities the integrator's own warehouse system reports — ``(sku, location code,
    quantity)`` — as levels of no install (shown as source ``api``); the last occurrence of a
    pair wins. An unknown SKU or location refuses the whole call (422 naming
    ``items[n].sku`` / ``items[n].location``), nothing applied. Changed levels get the
    transaction's change number; a call that changes nothing takes none."""
    skus = sorted({sku for sku, _, _ in items})
    codes = sorted({code for _, code, _ in items})
    product_ids: dict[str, int] = {}
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        for pid, sku in session.exec(
            select(Product.id, Product.sku).where(
                Product.tenant_id == tenant_id, col(Product.sku).in_(chunk)
            )
        ):
            product_ids[sku] = int(pid or 0)
    location_ids = {
        code: int(lid or 0)
        for lid, code in session.exec(
            select(Location.id, Location.code).where(
                Location.tenant_id == tenant_id, col(Location.code).in_(codes)
            )
        )
    }
    problems: dict[str, str] = {}
    for n, (sku, code, _) in enumerate(items):
        if sku not in product_ids:
            problems[f"items[{n}].sku"] = f"no product with sku {sku!r}"
        if code not in location_ids:
            problems[f"items[{n}].location"] = f"no location {code!r}"
    if problems:
        raise Invalid(f"{len(problems)} unknown value(s); nothing was applied", fields=problems)
    wanted = {(product_ids[sku], location_ids[code]): quantity for sku, code, quantity in items}

    def plan() -> tuple[dict[tuple[int, int], InventoryLevel], list[tuple[int, int]]]:
        existing: dict[tuple[int, int], InventoryLevel] = {}
        pids = sorted({pid for pid, _ in wanted})
        for start in range(0, len(pids), 500):
            for level in session.exec(
                select(InventoryLevel).where(
                    col(InventoryLevel.install_id).is_(None),
                    col(InventoryLevel.product_id).in_(pids[start : start + 500]),
                    col(InventoryLevel.location_id).in_(sorted(location_ids.values())),
                )
            ):
                existing[(level.product_id, level.location_id)] = level
        changes = [
            key
            for key, quantity in wanted.items()
            if key not in existing or existing[key].quantity != quantity
        ]
        return existing, changes

    existing, changes = plan()
    seq = 0
    if changes:
        seq = transaction_seq(session, tenant_id)
        # Read again under the counter's lock: levels of no install have no unique key to
        # conflict on (NULL), and every writer of them bumps first, so none is created twice.
        existing, changes = plan()
    now = utcnow()
    code_of = {lid: code for code, lid in location_ids.items()}
    result = SetResult(updated=len(changes), unchanged=len(wanted) - len(changes))
    for key in changes:
        product_id, location_id = key
        level = existing.get(key) or InventoryLevel(
            tenant_id=tenant_id, product_id=product_id, location_id=location_id, install_id=None
        )
        level.quantity = wanted[key]
        level.updated_at = now
        level.change_seq = seq
        session.add(level)
        result.changed.setdefault(code_of[location_id], set()).add(product_id)
    session.flush()
    return result


def emit_inventory_changed(
    session: Session, tenant_id: int, location_code: str, source: str, product_ids: set[int]
) -> None:
    """Raise ``inventory.changed`` for ``product_ids`` at one location (``{location, source,
    skus}``, at most :data:`EVENT_BATCH` SKUs per event), in the caller's transaction;
    nothing is looked up when no subscription wants it."""
    changed = sorted(product_ids)
    if not changed or not webhooks.wanted(session, tenant_id, "inventory.changed"):
        return
    for start in range(0, len(changed), EVENT_BATCH):
        chunk = changed[start : start + EVENT_BATCH]
        skus = list(session.exec(select(Product.sku).where(col(Product.id).in_(chunk))))
        webhooks.emit(
            session,
            tenant_id,
            "inventory.changed",
            {"location": location_code, "source": source, "skus": sorted(skus)},
        )


def move_stock(
    session: Session, tenant_id: int, install_id: int, moves: Sequence[tuple[int, int, int]]
) -> dict[int, set[int]]:
    """Add stock movements a plugin books — ``(product id, location id, delta)``, e.g. a
    store sale (negative) or a return (positive) — to the install's **own** level at each
    location (created at the delta when missing; it may go below zero). The location's
    stock is the sum over its sources, so a movement lowers or raises it while the levels
    other sources report (the integrator's ``PUT …/inventory``, another plugin's import) are
    left as they are and never overwrite it. Deltas of one pair are added up; a pair that
    adds up to zero writes nothing. Changed levels get the transaction's change number.
    Returns the changed product ids per location id."""
    totals: dict[tuple[int, int], int] = {}
    for product_id, location_id, delta in moves:
        key = (int(product_id), int(location_id))
        totals[key] = totals.get(key, 0) + int(delta)
    totals = {key: delta for key, delta in totals.items() if delta}
    if not totals:
        return {}
    seq = transaction_seq(session, tenant_id)
    now = utcnow()
    pids = sorted({pid for pid, _ in totals})
    lids = sorted({lid for _, lid in totals})
    # Direct SQL, a few statements for the whole batch: a page of sales moves hundreds of
    # levels, and SQLAlchemy's cost per row would be most of the work.
    sql = DirectSql.of(session)
    stamp = sql.when(now)
    existing: dict[tuple[int, int], int] = {}
    lid_marks = ", ".join(f":l{n}" for n in range(len(lids)))
    lid_params = {f"l{n}": lid for n, lid in enumerate(lids)}
    for start in range(0, len(pids), 500):
        pid_params = {f"p{n}": pid for n, pid in enumerate(pids[start : start + 500])}
        pid_marks = ", ".join(f":{name}" for name in pid_params)
        # The install's own levels (so the tenant's): no tenant term, which SQLite would
        # take as the index and scan every level of the tenant.
        for level_id, product_id, location_id in sql.rows(
            "SELECT id, product_id, location_id FROM inventory_levels WHERE install_id = :i "
            f"AND product_id IN ({pid_marks}) AND location_id IN ({lid_marks})",
            i=install_id,
            **pid_params,
            **lid_params,
        ):
            existing[(int(product_id), int(location_id))] = int(level_id)
    sql.run_many(
        "UPDATE inventory_levels SET quantity = quantity + :delta, updated_at = :now, "
        "change_seq = :seq WHERE id = :level_id",
        [
            {"level_id": existing[key], "delta": delta, "now": stamp, "seq": seq}
            for key, delta in totals.items()
            if key in existing
        ],
    )
    sql.run_many(
        "INSERT INTO inventory_levels "
        "(tenant_id, product_id, location_id, install_id, quantity, change_seq, updated_at) "
        "VALUES (:t, :p, :l, :i, :q, :seq, :now)",
        [
            {
                "t": tenant_id,
                "p": product_id,
                "l": location_id,
                "i": install_id,
                "q": delta,
                "seq": seq,
                "now": stamp,
            }
            for (product_id, location_id), delta in totals.items()
            if (product_id, location_id) not in existing
        ],
    )
    changed: dict[int, set[int]] = {}
    for product_id, location_id in totals:
        changed.setdefault(location_id, set()).add(product_id)
    return changed


def move_stock_once(
    session: Session,
    tenant_id: int,
    install_id: int,
    moves: Sequence[tuple[int, int, int]],
    *,
    guard: tuple[str, int, str],
    data: dict[str, Any] | None = None,
) -> dict[int, set[int]] | None:
    """:func:`move_stock` at most once per ``guard`` — a binding ``(kind, hub id, vendor
    id)`` of the install (e.g. ``("sale", order id, saleID)``), written in the same
    transaction as the movements. None (nothing moved) when the guard is bound already: a
    retried or re-read sale never moves its stock twice, and a crash between the movement
    and the guard cannot happen, they commit together."""
    from hub.core import bindings

    kind, hub_id, vendor_id = guard
    if bindings.vendor_id_of(session, install_id, kind, hub_id) is not None:
        return None
    changed = move_stock(session, tenant_id, install_id, moves)
    bindings.bind(session, install_id, kind, hub_id, vendor_id, data)
    session.flush()
    return changed


def stock_by_location(
    session: Session,
    tenant_id: int,
    product_ids: Sequence[int],
    location_ids: Sequence[int] | None = None,
) -> dict[int, dict[str, int]]:
    """Product id → location code → quantity, summed over every source at that location
    (products without any level are left out); optionally only at ``location_ids``."""
    stock: dict[int, dict[str, int]] = {}
    ids = sorted(set(product_ids))
    for start in range(0, len(ids), 500):
        # ``+l.tenant_id``: a unary plus keeps SQLite from taking the tenant's index (a scan
        # of all its levels) over the (product, location, install) one.
        query = (
            "SELECT l.product_id, c.code, SUM(l.quantity) FROM inventory_levels l "
            "JOIN locations c ON c.id = l.location_id "
            "WHERE +l.tenant_id = :t AND l.product_id IN :ids"
        )
        binds: list[Any] = [bindparam("ids", expanding=True)]
        params: dict[str, Any] = {"t": tenant_id, "ids": ids[start : start + 500]}
        if location_ids is not None:
            query += " AND l.location_id IN :locs"
            binds.append(bindparam("locs", expanding=True))
            params["locs"] = list(location_ids)
        rows = session.connection().execute(
            text(query + " GROUP BY l.product_id, c.code").bindparams(*binds), params
        )
        for product_id, code, quantity in rows:
            stock.setdefault(int(product_id), {})[code] = int(quantity)
    return stock


@dataclass(frozen=True, slots=True)
class BoundProduct:
    """A hub product bound to a vendor's record (:func:`bound_products`): its id, SKU and
    title, and its stock at the locations asked for (location code → quantity summed over
    every source; a location without any level is left out)."""

    product_id: int
    sku: str
    title: str
    stock: dict[str, int]


def location_ids(session: Session, tenant_id: int, codes: Sequence[str]) -> dict[str, int]:
    """Code → id of the tenant's locations among ``codes`` (one statement, direct SQL);
    unknown codes are left out."""
    unique = sorted(set(codes))
    if not unique:
        return {}
    params = {f"c{n}": code for n, code in enumerate(unique)}
    rows = DirectSql.of(session).rows(
        f"SELECT code, id FROM locations WHERE tenant_id = :t "
        f"AND code IN ({', '.join(f':{name}' for name in params)})",
        t=tenant_id,
        **params,
    )
    return {str(code): int(location_id) for code, location_id in rows}


def bound_products(
    session: Session,
    tenant_id: int,
    install_id: int,
    kind: str,
    vendor_ids: Sequence[str],
    location_codes: Sequence[str] = (),
) -> dict[str, BoundProduct]:
    """Vendor id → the product bound to it (binding ``kind`` of the install; the first bound
    wins, as :func:`hub.core.bindings.hub_ids`) with its stock at the ``location_codes``
    (unknown codes count nothing): what importing a page of vendor sales needs of the hub,
    in three statements per 500 vendor ids (direct SQL). Unbound vendor ids, and bindings
    to products that are gone, are left out."""
    from hub.core.bindings import BOUND

    locations = {
        lid: code for code, lid in location_ids(session, tenant_id, location_codes).items()
    }
    sql = DirectSql.of(session)
    bound: dict[str, tuple[int, str, str] | None] = {}
    unique = list(dict.fromkeys(vendor_ids))
    for start in range(0, len(unique), 500):
        params = {f"v{n}": v for n, v in enumerate(unique[start : start + 500])}
        marks = ", ".join(f":{name}" for name in params)
        # Newest first, so the oldest binding of a vendor id is written last and kept. The
        # unary plus keeps SQLite on the bindings' index rather than the tenant's products.
        for vendor_id, product_id, sku, title in sql.rows(
            "SELECT b.vendor_id, p.id, p.sku, p.title FROM bindings b "
            "LEFT JOIN products p ON p.id = b.hub_id AND +p.tenant_id = :t "
            f"WHERE b.install_id = :i AND b.kind = :k AND b.state = :s AND b.vendor_id IN ({marks}) "
            "ORDER BY b.id DESC",
            t=tenant_id,
            i=install_id,
            k=kind,
            s=BOUND,
            **params,
        ):
            bound[str(vendor_id)] = (
                (int(product_id), str(sku), str(title or "")) if product_id is not None else None
            )
    found = {v: ref for v, ref in bound.items() if ref is not None}
    stock: dict[int, dict[str, int]] = {}
    ids = sorted({ref[0] for ref in found.values()})
    if locations:
        loc_params = {f"l{n}": lid for n, lid in enumerate(locations)}
        loc_marks = ", ".join(f":{name}" for name in loc_params)
        for start in range(0, len(ids), 500):
            pid_params = {f"p{n}": pid for n, pid in enumerate(ids[start : start + 500])}
            pid_marks = ", ".join(f":{name}" for name in pid_params)
            for product_id, location_id, quantity in sql.rows(
                "SELECT product_id, location_id, SUM(quantity) FROM inventory_levels "
                f"WHERE +tenant_id = :t AND product_id IN ({pid_marks}) "
                f"AND location_id IN ({loc_marks}) GROUP BY product_id, location_id",
                t=tenant_id,
                **pid_params,
                **loc_params,
            ):
                at = stock.setdefault(int(product_id), {})
                at[locations[int(location_id)]] = int(quantity)
    return {
        vendor_id: BoundProduct(pid, sku, title, dict(stock.get(pid, {})))
        for vendor_id, (pid, sku, title) in found.items()
    }


def _utc_type() -> Any:
    from hub.core.types import UTCDateTime

    return UTCDateTime()
