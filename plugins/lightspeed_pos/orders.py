"""Job ``order_download``: Lightspeed sales → hub orders of channel ``local_store``.

The read: completed sales of the synced shops whose ``updatetime`` is at or after the cursor
less :data:`OVERLAP` (so a sale that committed while the previous run was reading, with an
``updatetime`` behind what it had seen, is read again), sorted by ``updatetime``, 100 a page,
following ``next`` verbatim, with their lines, payments and customer. The cursor moves to the
newest ``updatetime`` of each page once that page is applied, so a run that stops (5xx,
timeouts, a truncated body) leaves the rest for the next run, which reads on from there.

Per sale (each sale's effects are idempotent, so the overlap and retries change nothing):

- voided and never imported → skipped; voided after import → its order is cancelled and
  its stock put back, once (guard binding ``sale_void``);
- imported already (guard binding ``sale``: its order and its stock movements committed
  together) → nothing;
- else the order ``LS-{saleID}`` is stored (idempotent by number) and its stock movements
  are booked with the ``sale`` guard in one transaction; an order stored by an earlier
  attempt that died before the movements is completed from the stored order's lines.

Counts: ``sales_read``, ``orders_created``, ``already_imported``, ``voided_skipped``,
``voided_canceled``, ``lines_matched``, ``lines_unknown``, ``returns``, ``no_payments``,
``shortfalls``, ``sales_failed``. The CSV report has one row per sale handled (and one per
unknown line).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from hub.plugin import HubError, JobContext, OrderImport, utcnow
from plugins.lightspeed_pos.config import PosConfig
from plugins.lightspeed_pos.connection import open_connection
from plugins.lightspeed_pos.mapping import (
    RETURN_PREFIX,
    BuiltOrder,
    ProductRef,
    SaleLineIn,
    build_order,
    company_address,
    customer_address,
    match_lines,
    movements_of_lines,
    movements_of_order,
    order_number,
)
from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.client import Page, RSeriesClient
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesError,
    RSeriesUnavailableError,
)
from plugins.lightspeed_rseries.models import Sale
from plugins.lightspeed_rseries.normalise import to_datetime

__all__ = ["CURSOR", "OVERLAP", "REPORT_HEADER", "apply_sales", "run_order_download", "sale_shops"]

CURSOR = "sales_updatetime"
OVERLAP = timedelta(minutes=15)
FIRST_RUN_LOOKBACK = timedelta(days=7)
REPORT_HEADER = (
    "sale_id",
    "order",
    "shop_id",
    "lines_matched",
    "lines_unknown",
    "warehouses_deducted",
    "outcome",
    "message",
)


def sale_shops(config: PosConfig, location_codes: Sequence[str]) -> dict[int, list[str]]:
    """Shop id → the warehouses its sales take from: with the mapping on, each mapped shop's
    own; with it off, every live shop takes from every warehouse."""
    if config.shops_mapping_enabled:
        return {s.shop_id: list(s.warehouses) for s in config.active_shops()}
    return {s.shop_id: list(location_codes) for s in config.shops if not s.archived}


def _item_id(value: Any) -> int | None:
    try:
        number = int(str(value or "0"))
    except ValueError:
        return None
    return number or None


def _items_by_id(
    client: RSeriesClient | None, item_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Lightspeed's records of ``item_ids`` (archived ones too), ≤ 100 per request."""
    found: dict[int, dict[str, Any]] = {}
    if client is None:
        return found
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), q.MAX_IN_VALUES):
        chunk = ids[start : start + q.MAX_IN_VALUES]
        for record in client.iterate("Item", {"itemID": q.in_(chunk), "archived": "true"}):
            item_id = _item_id(record.get("itemID"))
            if item_id:
                found[item_id] = record
    return found


def apply_sales(
    ctx: JobContext,
    config: PosConfig,
    records: Sequence[Mapping[str, Any]],
    *,
    shops: Mapping[int, Sequence[str]],
    payment_types: Mapping[int, str],
    client: RSeriesClient | None,
) -> None:
    """Apply one page of sales (raw API records) — see the module docstring. ``client``
    reads the items of lines not bound yet (None: match by binding only)."""
    sales: list[tuple[Sale, Mapping[str, Any]]] = []
    rows: list[tuple[Any, ...]] = []
    for raw in records:
        try:
            sales.append((Sale.model_validate(raw), raw))
        except ValidationError as exc:
            ctx.count("sales_failed")
            sale_id = raw.get("saleID", "?")
            ctx.error(f"sale {sale_id}: unreadable record ({exc.error_count()} problem(s))")
            rows.append((sale_id, "", raw.get("shopID", ""), 0, 0, "", "error", "unreadable"))
    ctx.count("sales_read", len(records))
    ids = [str(s.sale_id) for s, _ in sales if s.sale_id]
    imported = ctx.hub_ids("sale", ids)
    voided = [str(s.sale_id) for s, _ in sales if s.sale_id and s.voided]
    restored = ctx.hub_ids("sale_void", voided) if voided else {}

    todo: list[tuple[Sale, Mapping[str, Any]]] = []
    for sale, raw in sales:
        assert sale.sale_id is not None
        key = str(sale.sale_id)
        number = order_number(sale.sale_id)
        if sale.voided:
            if key in restored:
                ctx.count("already_imported")
                continue
            rows.append(_void(ctx, sale, number, imported_order=imported.get(key)))
            continue
        if key in imported:
            ctx.count("already_imported")
            continue
        todo.append((sale, raw))
    if todo:
        rows.extend(_import(ctx, config, todo, shops, payment_types, client))
    if rows:
        ctx.add_report_rows(REPORT_HEADER, rows)


def _void(ctx: JobContext, sale: Sale, number: str, imported_order: int | None) -> tuple[Any, ...]:
    assert sale.sale_id is not None
    shop = sale.shop_id or ""
    view = ctx.find_order(number)
    if view is None:
        ctx.count("voided_skipped")
        return (sale.sale_id, "", shop, 0, 0, "", "voided_skipped", "voided before import")
    if view.status != "canceled":
        ctx.cancel_order(number, "voided on Lightspeed")
    key = str(sale.sale_id)
    # Stock goes back only if it was taken: an order stored by an attempt that died before
    # its movements has nothing to put back (the sale guard is bound now, with no moves).
    took = imported_order is not None or not ctx.move_stock([], once=("sale", view.id, key))
    moves = [(pid, code, -delta) for pid, code, delta in movements_of_order(view)] if took else []
    ctx.move_stock(moves, once=("sale_void", view.id, key))
    ctx.count("voided_canceled")
    back = _where(moves)
    return (sale.sale_id, number, shop, "", "", back, "voided_canceled", "stock put back")


def _where(moves: Iterable[tuple[int, str, int]]) -> str:
    totals: dict[str, int] = {}
    for _, code, delta in moves:
        totals[code] = totals.get(code, 0) + delta
    return ";".join(f"{code}:{qty}" for code, qty in sorted(totals.items()) if qty)


def _import(
    ctx: JobContext,
    config: PosConfig,
    todo: Sequence[tuple[Sale, Mapping[str, Any]]],
    shops: Mapping[int, Sequence[str]],
    payment_types: Mapping[int, str],
    client: RSeriesClient | None,
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    item_ids = sorted(
        {line.item_id for sale, _ in todo for line in sale.sale_lines if line.item_id}
    )
    warehouses = sorted({code for codes in shops.values() for code in codes})
    # One read for the bound items: their products and those products' stock.
    bound = ctx.bound_products("product", [str(i) for i in item_ids], locations=warehouses)
    refs = {b.product_id: ProductRef(b.product_id, b.sku, b.title) for b in bound.values()}
    by_item = {int(item_id): refs[b.product_id] for item_id, b in bound.items()}
    stock: dict[str, dict[str, int]] = {str(b.product_id): dict(b.stock) for b in bound.values()}
    unbound = [i for i in item_ids if str(i) not in bound]
    items = _items_by_id(client, unbound)
    skus = sorted({str(r.get("customSku")) for r in items.values() if r.get("customSku")})
    upcs = sorted({str(r.get("upc")) for r in items.values() if r.get("upc")})
    products = ctx.find_products(skus=skus, upcs=upcs) if skus or upcs else []
    more = [p.product_id for p in products if p.product_id not in refs]
    for p in products:
        refs.setdefault(p.product_id, ProductRef(p.product_id, p.sku, p.title))
    by_sku = {p.sku: refs[p.product_id] for p in products}
    by_upc = {p.upc: refs[p.product_id] for p in products if p.upc}
    if more:
        for pid, at in ctx.stock(more, locations=warehouses).items():
            stock[str(pid)] = dict(at)
    company = (
        company_address(ctx.tenant.company_address, ctx.tenant.name)
        if config.use_company_address
        else None
    )
    new_bindings: dict[int, str] = {}

    imports: list[OrderImport] = []
    summaries: list[tuple[int, str, int, BuiltOrder]] = []
    sku_ids = {ref.sku: ref.product_id for ref in refs.values()}
    for sale, raw in todo:
        assert sale.sale_id is not None
        number = order_number(sale.sale_id)
        shop_id = sale.shop_id or 0
        codes = list(shops.get(shop_id, ()))
        lines = []
        for line in sale.sale_lines:
            item = items.get(line.item_id or 0, {})
            lines.append(
                SaleLineIn(
                    item_id=line.item_id,
                    quantity=line.unit_quantity or 0,
                    unit_price=line.unit_price or Decimal(0),
                    description=str(item.get("description") or "")
                    or (f"Lightspeed item {line.item_id}" if line.item_id else "Lightspeed line"),
                    custom_sku=str(item.get("customSku") or "") or None,
                    upc=str(item.get("upc") or "") or None,
                )
            )
        matched = match_lines(lines, bound=by_item, by_sku=by_sku, by_upc=by_upc)
        for m in matched:
            if m.product is not None and m.matched_by != "binding" and m.line.item_id:
                new_bindings.setdefault(m.product.product_id, str(m.line.item_id))
        payments = [
            (payment_types.get(p.payment_type_id or 0, "lightspeed") or "lightspeed", p.amount)
            for p in sale.sale_payments
            if p.amount is not None
        ]
        customer = raw.get("Customer")
        if company is not None:
            billing = company
        elif isinstance(customer, Mapping) and customer:
            billing = customer_address(customer)
        else:
            billing = None  # an empty address
        shipping = billing
        placed_at = sale.complete_time or sale.timestamp or utcnow()
        shop = config.shop(shop_id)
        employee = (shop.employee_id if shop else None) or config.employee_id
        comment = (
            f"Lightspeed sale {sale.sale_id} at shop {shop_id}"
            + (f" ({shop.name})" if shop and shop.name else "")
            + f", register {sale.register_id or (shop.register_id if shop else None) or '-'}"
            + f", employee {sale.employee_id or employee or '-'}"
        )
        try:
            built = build_order(
                sale_id=sale.sale_id,
                placed_at=placed_at,
                total=sale.total if sale.total is not None else Decimal(0),
                lines=matched,
                payments=payments,
                warehouses=codes,
                returns_warehouse=config.returns_warehouse or (codes[0] if codes else ""),
                stock=stock,
                billing=billing,
                shipping=shipping,
                customer_id=str(sale.customer_id or ""),
                comment=comment,
            )
        except (ValueError, ValidationError) as exc:
            ctx.count("sales_failed")
            ctx.error(f"sale {sale.sale_id}: cannot become an order ({_short(exc)})")
            rows.append((sale.sale_id, "", shop_id, 0, 0, "", "error", _short(exc)))
            continue
        notes = (
            (("The Lightspeed sale has no payments.", "no_payments"),) if built.no_payments else ()
        )
        imports.append(
            OrderImport(
                order=built.order,
                vendor_id=str(sale.sale_id),
                stock=movements_of_lines(built.order, sku_ids),
                notes=notes,
            )
        )
        summaries.append((sale.sale_id, number, shop_id, built))
    # One transaction for the page: orders, their stock and the guards commit together.
    done = ctx.import_orders(imports, kind="sale") if imports else []
    counts: Counter[str] = Counter()  # counted once for the page
    for (sale_id, number, shop_id, built), outcome in zip(summaries, done, strict=True):
        created = outcome.created
        messages = []
        if built.no_payments:
            messages.append("the sale has no payments")
            if created:
                counts["no_payments"] += 1
        for unknown in built.unknown:
            rows.append(
                (
                    sale_id,
                    number,
                    shop_id,
                    "",
                    "",
                    "",
                    "unknown_sku",
                    f"item {unknown.line.item_id or '-'} "
                    f"{unknown.line.description!r} matched no product: kept as UNKNOWN",
                )
            )
        messages.extend(built.shortfalls)
        counts["orders_created" if created else "already_imported"] += 1
        counts["lines_matched"] += built.matched
        counts["lines_unknown"] += len(built.unknown)
        counts["returns"] += sum(
            1 for line in built.order.lines if line.description.startswith(RETURN_PREFIX)
        )
        counts["shortfalls"] += len(built.shortfalls)
        rows.append(
            (
                sale_id,
                number,
                shop_id,
                built.matched,
                len(built.unknown),
                _where(
                    [(0, c, -q) for c, q in built.deducted.items()]
                    + [(0, c, q) for c, q in built.returned.items()]
                ),
                "imported" if created else "already_imported",
                "; ".join(messages),
            )
        )
    for name, n in counts.items():
        ctx.count(name, n)
    if new_bindings:
        taken = ctx.vendor_ids("product", list(new_bindings))
        for product_id, item_id in new_bindings.items():
            if product_id not in taken:
                ctx.bind("product", product_id, item_id)
    return rows


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)[:300]


def _updatetime(record: Mapping[str, Any]) -> datetime | None:
    try:
        value = to_datetime(record.get("updatetime") or record.get("timeStamp"))
    except ValueError:
        return None
    return value if isinstance(value, datetime) else None


def run_order_download(ctx: JobContext) -> None:
    config = ctx.config
    assert isinstance(config, PosConfig)
    codes = ctx.location_codes()
    shops = sale_shops(config, codes)
    if not shops:
        ctx.skip("no Lightspeed shop syncs: refresh the shops and map them to warehouses")
        return
    stored = ctx.cursor(CURSOR)
    since_option = ctx.options.get("since")
    if since_option:
        since = datetime.fromisoformat(str(since_option))
    elif stored:
        since = datetime.fromisoformat(stored) - OVERLAP
    else:
        since = utcnow() - FIRST_RUN_LOOKBACK
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    newest = datetime.fromisoformat(stored) if stored else None
    params = {
        "updatetime": q.gte(since),
        "completed": "true",
        "shopID": q.in_(sorted(shops)),
        "sort": "updatetime",
        "load_relations": q.load_relations("SaleLines", "SalePayments", "Customer"),
    }
    pages = 0
    try:
        connection = open_connection(ctx)
    except HubError as exc:
        ctx.failed(exc.detail)
        return
    try:
        client = connection.client
        payment_types = {
            int(r["paymentTypeID"]): str(r.get("name") or "").strip().lower()[:64]
            for r in client.iterate("PaymentType")
            if str(r.get("paymentTypeID") or "0") != "0"
        }
        page: Page | None = client.get("Sale", params=params)
        while page is not None:
            ctx.raise_if_superseded()
            apply_sales(
                ctx, config, page.records, shops=shops, payment_types=payment_types, client=client
            )
            pages += 1
            times = [t for t in (_updatetime(r) for r in page.records) if t is not None]
            if times:
                newest = max([*times, *([newest] if newest else [])])
                ctx.set_cursor(CURSOR, newest.isoformat(), checkpoint={"pages": pages})
            ctx.set_progress(pages)
            page = client.get_page(page.next_url, "Sale") if page.next_url else None
    except ReconnectNeeded as exc:
        ctx.error(str(exc))
        ctx.failed(f"the Lightspeed connection was lost ({exc}): reconnect the install")
        return
    except RSeriesUnavailableError as exc:
        left = f"sales updated after {newest.isoformat()}" if newest else "every sale"
        ctx.error(f"Lightspeed: {exc}")
        ctx.partial(
            f"stopped after {pages} page(s): {left} left for the next run, which continues "
            "from the cursor"
        )
        return
    except RSeriesAPIError as exc:
        ctx.error(f"Lightspeed refused the sales read: {exc}")
        ctx.failed(f"Lightspeed refused the sales read ({exc.status}: {exc.message})")
        return
    except RSeriesError as exc:
        ctx.error(str(exc))
        ctx.failed(str(exc))
        return
    finally:
        connection.close()
    ctx.set_count("pages", pages)
    if ctx.errors:
        ctx.partial(f"{len(ctx.errors)} sale(s) could not be imported; see the report")
