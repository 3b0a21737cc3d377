"""The inventory apply engine: one batch of vendor records from one install → products →
inventory levels, set-based.

A batch is loaded into a temporary table, matched to products with one join per rule,
upserted into ``inventory_levels`` with one ``INSERT … SELECT … ON CONFLICT``, and (when asked)
the install's levels of the given scopes that the batch did not report are set to zero with
one ``UPDATE``. Only the per-record outcomes travel back to Python, for the report.

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

from collections.abc import Sequence
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
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.changes import transaction_seq
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
    "SetResult",
    "apply_inventory",
    "emit_inventory_changed",
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
# product. ``hub_apply_keys`` holds the EAN and MPN of each record.
_CASCADE_SQL = (
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT i.seq, MIN(p.id), COUNT(*) FROM hub_apply_in i "
    "JOIN products p ON p.tenant_id = :t AND p.upc = i.match_key "
    "WHERE i.match_key <> '' GROUP BY i.seq",
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT k.seq, MIN(p.id), COUNT(*) FROM hub_apply_keys k "
    "JOIN products p ON p.tenant_id = :t AND p.ean = k.ean "
    "WHERE k.ean <> '' AND k.seq NOT IN (SELECT seq FROM hub_apply_match) GROUP BY k.seq",
    "INSERT INTO hub_apply_match (seq, product_id, n) "
    "SELECT k.seq, MIN(p.id), COUNT(*) FROM hub_apply_keys k "
    "JOIN hub_apply_in i ON i.seq = k.seq "
    "JOIN products p ON p.tenant_id = :t AND p.mpn = k.mpn "
    "AND (i.brand_norm = '' OR p.brand_norm = '' OR p.brand_norm = i.brand_norm) "
    "WHERE k.mpn <> '' AND k.seq NOT IN (SELECT seq FROM hub_apply_match) GROUP BY k.seq",
)
# Every product any key of an ambiguous record names (a superset of its candidates: those
# are kept from being cleared, never the other way round).
_CASCADE_AMBIGUOUS = (
    "SELECT DISTINCT p.id FROM hub_apply_match m JOIN hub_apply_in i ON i.seq = m.seq "
    "JOIN hub_apply_keys k ON k.seq = m.seq JOIN products p ON p.tenant_id = :t AND ("
    "(i.match_key <> '' AND p.upc = i.match_key) OR (k.ean <> '' AND p.ean = k.ean) "
    "OR (k.mpn <> '' AND p.mpn = k.mpn)) WHERE m.n > 1"
)


def _load_cascade_keys(conn: Connection, rows: list[tuple[int, str, str]]) -> None:
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS hub_apply_keys (seq INTEGER PRIMARY KEY, ean TEXT, "
        "mpn TEXT)"
    )
    conn.exec_driver_sql("DELETE FROM hub_apply_keys")
    if not rows:
        return
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(  # type: ignore[attr-defined]
                "COPY hub_apply_keys (seq, ean, mpn) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO hub_apply_keys VALUES (?, ?, ?)", rows)
    finally:
        cursor.close()


def _match_key(rule: MatchRule, key: str) -> str:
    if rule in (MatchRule.CATALOG_BRAND_PART, MatchRule.SKU):
        return normalise_part_number(key)
    return key.strip()


def _prepare(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS hub_apply_in (seq INTEGER PRIMARY KEY, "
            "match_key TEXT, catalog TEXT, brand_norm TEXT, quantity INTEGER, sale_price TEXT, "
            "lead INTEGER)"
        )
        conn.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS hub_apply_match (seq INTEGER PRIMARY KEY, "
            "product_id INTEGER, n INTEGER, ok INTEGER NOT NULL DEFAULT 0)"
        )
        conn.exec_driver_sql("TRUNCATE hub_apply_in, hub_apply_match")
    else:
        conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS hub_apply_in (seq INTEGER PRIMARY KEY, "
            "match_key TEXT, catalog TEXT, brand_norm TEXT, quantity INTEGER, sale_price TEXT, "
            "lead INTEGER)"
        )
        conn.exec_driver_sql(
            "CREATE TEMP TABLE IF NOT EXISTS hub_apply_match (seq INTEGER PRIMARY KEY, "
            "product_id INTEGER, n INTEGER, ok INTEGER NOT NULL DEFAULT 0)"
        )
        conn.exec_driver_sql("DELETE FROM hub_apply_in")
        conn.exec_driver_sql("DELETE FROM hub_apply_match")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS hub_apply_match_product ON hub_apply_match (product_id)"
    )


def _load_batch(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Load the batch into ``hub_apply_in`` through the driver (COPY on PostgreSQL): the
    ORM/Core parameter handling would cost more than the whole match and upsert."""
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(  # type: ignore[attr-defined]
                "COPY hub_apply_in (seq, match_key, catalog, brand_norm, quantity, sale_price, "
                "lead) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO hub_apply_in VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
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
    rows = [
        (
            seq,
            r.upc.strip() if cascade else match_key(r.key),
            r.catalog,
            brands[r.brand]
            if r.brand in brands
            else brands.setdefault(r.brand, normalise_brand(r.brand)),
            int(r.quantity),
            str(r.sale_price) if r.sale_price is not None else None,
            r.lead_time_days,
        )
        for seq, r in enumerate(records)
    ]
    if rows:
        _load_batch(conn, rows)
    if cascade:
        _load_cascade_keys(
            conn, [(seq, r.ean.strip(), r.mpn.strip()) for seq, r in enumerate(records)]
        )
    is_pg = conn.dialect.name == "postgresql"
    if is_pg:
        conn.exec_driver_sql("ANALYZE hub_apply_in")
    params = {"t": tenant_id, "inst": install_id, "loc": location_id}

    # 1. match: one row per record with the number of candidate products.
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

    # 2. read the previous values (for outcomes and the report).
    previous = conn.execute(
        text(
            "SELECT m.seq, m.n, m.ok, p.sku, l.quantity, l.sale_price, l.lead_time_days, "
            "m.product_id "
            "FROM hub_apply_match m JOIN products p ON p.id = m.product_id "
            "LEFT JOIN inventory_levels l ON l.product_id = m.product_id "
            "AND l.location_id = :loc AND l.install_id = :inst"
        ),
        params,
    ).all()
    by_seq = {row[0]: row for row in previous}

    # The outcomes follow from the previous values alone, so they are known before writing.
    result = ApplyResult()
    for seq, record in enumerate(records):
        match = by_seq.get(seq)
        if match is None:
            result.outcomes.append(
                RecordOutcome(
                    ApplyOutcome.UNMATCHED,
                    record.ref,
                    record.key,
                    None,
                    None,
                    None,
                    record.sale_price,
                )
            )
            continue
        _, _n, ok, sku, old_qty, old_price, old_lead, product_id = match
        if not ok:
            result.outcomes.append(
                RecordOutcome(
                    ApplyOutcome.AMBIGUOUS,
                    record.ref,
                    record.key,
                    None if _n > 1 else sku,
                    old_qty,
                    None,
                    record.sale_price,
                    None if _n > 1 else product_id,
                )
            )
            continue
        changed = (
            old_qty is None
            or old_qty != record.quantity
            or (
                record.sale_price is not None
                and (old_price is None or money(old_price) != money(record.sale_price))
            )
            or (record.lead_time_days is not None and old_lead != record.lead_time_days)
        )
        outcome = ApplyOutcome.UPDATED if changed else ApplyOutcome.UNCHANGED
        if changed:
            result.changed_product_ids.add(product_id)
        result.outcomes.append(
            RecordOutcome(
                outcome,
                record.ref,
                record.key,
                sku,
                old_qty,
                record.quantity,
                record.sale_price,
                product_id,
            )
        )

    # 3. upsert the levels that change, in one statement, numbered for exporters
    # (hub.core.changes) — only when something changes: an unchanged batch takes no number.
    if result.changed_product_ids:
        change_seq = transaction_seq(session, tenant_id)
        conn.execute(
            text(
                "INSERT INTO inventory_levels (tenant_id, product_id, location_id, install_id, "
                "quantity, sale_price, lead_time_days, updated_at, change_seq) "
                "SELECT :t, m.product_id, :loc, :inst, i.quantity, "
                + ("CAST(i.sale_price AS NUMERIC(14,4))" if is_pg else "i.sale_price")
                + ", i.lead, :now, :seq FROM hub_apply_match m JOIN hub_apply_in i "
                "ON i.seq = m.seq WHERE m.ok = 1 "
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
            ).bindparams(bindparam("now", type_=_utc_type())),
            {**params, "now": now, "seq": change_seq},
        )

    # 4. clear what the batch did not report, per scope. Every candidate of an ambiguous
    # record counts as reported (hub_apply_match holds only the first of them).
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
    for scope in clear:
        where = [
            "l.install_id = :inst",
            "l.location_id = :loc",
            "l.quantity <> 0",
            "p.tenant_id = :t",
            "l.product_id NOT IN (SELECT product_id FROM hub_apply_match "
            "WHERE product_id IS NOT NULL)",
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
                "SELECT l.id, l.product_id, p.sku, l.quantity FROM inventory_levels l "
                f"JOIN products p ON p.id = l.product_id WHERE {condition}"
            ).bindparams(*expanding),
            scope_params,
        ).all()
        if not cleared:
            continue
        conn.execute(
            text(
                "UPDATE inventory_levels SET quantity = 0, updated_at = :now, change_seq = :seq "
                "WHERE id IN (SELECT l.id FROM inventory_levels l JOIN products p "
                f"ON p.id = l.product_id WHERE {condition})"
            ).bindparams(bindparam("now", type_=_utc_type()), *expanding),
            {**scope_params, "now": now, "seq": transaction_seq(session, tenant_id)},
        )
        for _level_id, product_id, sku, old_qty in cleared:
            result.changed_product_ids.add(product_id)
            result.outcomes.append(
                RecordOutcome(ApplyOutcome.CLEARED, sku, sku, sku, old_qty, 0, None, product_id)
            )
    return result


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
    table = InventoryLevel.__table__  # type: ignore[attr-defined]
    existing: dict[tuple[int, int], int] = {}
    for start in range(0, len(pids), 500):
        rows = session.execute(
            select_columns(table.c.id, table.c.product_id, table.c.location_id).where(
                table.c.tenant_id == tenant_id,
                table.c.install_id == install_id,
                table.c.product_id.in_(pids[start : start + 500]),
                table.c.location_id.in_(lids),
            )
        )
        for level_id, product_id, location_id in rows:
            existing[(int(product_id), int(location_id))] = int(level_id)
    # Plain statements, two for the whole batch: a page of sales moves hundreds of levels.
    updates = [
        {"level_id": existing[key], "delta": delta, "now": now, "seq": seq}
        for key, delta in totals.items()
        if key in existing
    ]
    if updates:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("level_id"))
            .values(
                quantity=table.c.quantity + bindparam("delta"),
                updated_at=bindparam("now"),
                change_seq=bindparam("seq"),
            ),
            updates,
        )
    template = InventoryLevel(tenant_id=tenant_id, product_id=0, location_id=0).model_dump(
        exclude={"id"}
    )
    inserts = []
    for (product_id, location_id), delta in totals.items():
        if (product_id, location_id) in existing:
            continue
        row = dict(template)
        row.update(
            product_id=product_id,
            location_id=location_id,
            install_id=install_id,
            quantity=delta,
            updated_at=now,
            change_seq=seq,
        )
        inserts.append(row)
    if inserts:
        session.execute(table.insert(), inserts)
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
        query = (
            "SELECT l.product_id, c.code, SUM(l.quantity) FROM inventory_levels l "
            "JOIN locations c ON c.id = l.location_id "
            "WHERE l.tenant_id = :t AND l.product_id IN :ids"
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


def _utc_type() -> Any:
    from hub.core.types import UTCDateTime

    return UTCDateTime()
