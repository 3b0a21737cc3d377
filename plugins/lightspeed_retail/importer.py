"""The stock (and POS price) import: jobs ``inventory_import`` (what changed) and
``inventory_import_full`` (everything, nightly).

**What is read.** A full pass reads every item that is not archived, with its ItemShops and
Prices, page by page. An incremental pass reads, each from its cursor less the overlap,
``ItemShop.json?timeStamp=>,…&sort=timeStamp`` of the mapped shops (stock: an Item's
timeStamp does not move when only its ItemShops change) and
``Item.json?timeStamp=>,…&archived=true`` (identifiers, prices, archiving); items named only
by changed ItemShops are then read by id, 100 per request, to see all their shops. A run
without cursors is a full pass.

**What is applied.** Per item: the import filters (any enabled condition at any mapped shop),
then the requirements (a price at the base level, a UPC or an EAN, a manufacturer SKU). An
item that passes both is one record per mapped shop — that shop's qoh into its location —
matched by the core (UPC, then EAN, then MPN + brand). Matched items are bound (product ↔
itemID, for the order export) and, with POS pricing, set the product's price and sale price.

**Leaving.** An item that stops passing the filters, or is archived, goes to 0 at every
mapped location (an incremental pass sends it as 0); a full pass also clears, per location,
every level of this install it did not report (``ClearScope()``): nothing stays stale.

**Pending mappings.** Items that pass the filters but miss a requirement, match no product
or several, are the install's pending list (a full pass replaces it; an incremental pass
updates the items it saw), and are counted on the run and listed in its report.

**The report** has a row per item and shop that changed (``updated``, ``cleared``), could not
be applied (``unmatched``, ``ambiguous``) or is pending; ``unchanged`` ones are only counted
(a nightly pass of 100,000 items does not store 200,000 rows saying nothing happened).

**Cursors.** After an incremental pass each cursor moves to the newest timeStamp it read; a
full pass sets both to the time it started, so the next incremental pass re-reads whatever
changed while the full pass was reading (an incremental pass applied meanwhile may have
been overwritten by the full pass's older read).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.plugin import (
    ApplyOutcome,
    ClearScope,
    InventoryRecord,
    JobContext,
    MatchRule,
    PendingItem,
    RecordOutcome,
    Refused,
    TransientJobError,
    report_csv,
    utcnow,
)
from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.connection import open_connection
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesUnavailableError,
)
from plugins.lightspeed_rseries.normalise import to_datetime

from .config import RetailConfig
from .mapping import (
    NO_MATCHING_PRODUCT,
    SEVERAL_MATCHING_PRODUCTS,
    ItemFacts,
    inventory_record,
    item_facts,
    missing_requirement,
    passes_filters,
    pos_prices,
)

__all__ = [
    "CURSOR_ITEM",
    "CURSOR_ITEMSHOP",
    "REPORT_HEADER",
    "ImportPlan",
    "plan_import",
    "run_import",
]

CURSOR_ITEM = "item_timestamp"
CURSOR_ITEMSHOP = "itemshop_timestamp"
ITEM_RELATIONS = q.load_relations("ItemShops", "Prices")
BINDING_KIND = "item"  # hub product id ↔ Lightspeed itemID
REPORT_HEADER = (
    "item_id",
    "item",
    "upc",
    "ean",
    "manufacturer_sku",
    "brand",
    "shop_id",
    "location",
    "matched_sku",
    "old_qty",
    "new_qty",
    "price",
    "sale_price",
    "outcome",
    "reason",
)


# -- reading --------------------------------------------------------------------------------


@dataclass
class Read:
    """What a pass read from Lightspeed."""

    items: dict[int, ItemFacts] = field(default_factory=dict)
    newest_item: str = ""
    newest_item_shop: str = ""
    requests: int = 0


def _pages(
    client: RSeriesClient, entity: str, params: dict[str, str], read: Read
) -> Iterator[dict[str, Any]]:
    page = client.get(entity, params=params)
    read.requests += 1
    while True:
        yield from page.records
        if page.next_url is None:
            return
        page = client.get_page(page.next_url, entity)
        read.requests += 1


def _newer(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    return a if to_datetime(a) >= to_datetime(b) else b


def read_everything(client: RSeriesClient) -> Read:
    read = Read()
    params = {"load_relations": ITEM_RELATIONS, "archived": "false"}
    for raw in _pages(client, "Item", params, read):
        facts = item_facts(raw)
        read.items[facts.item_id] = facts
    return read


def read_changes(
    client: RSeriesClient, shop_ids: Iterable[int], item_since: datetime, shop_since: datetime
) -> Read:
    read = Read()
    touched: set[int] = set()
    shop_params = {
        "timeStamp": q.gt(shop_since),
        "sort": "timeStamp",
        "shopID": q.in_(sorted(shop_ids)),
    }
    for row in _pages(client, "ItemShop", shop_params, read):
        touched.add(int(row.get("itemID") or 0))
        read.newest_item_shop = _newer(read.newest_item_shop, str(row.get("timeStamp") or ""))
    item_params = {
        "timeStamp": q.gt(item_since),
        "sort": "timeStamp",
        "archived": "true",  # archived ones too: they go to 0
        "load_relations": ITEM_RELATIONS,
    }
    for raw in _pages(client, "Item", item_params, read):
        facts = item_facts(raw)
        read.items[facts.item_id] = facts
        read.newest_item = _newer(read.newest_item, facts.timestamp)
    missing = sorted(i for i in touched - set(read.items) if i)
    for start in range(0, len(missing), q.MAX_IN_VALUES):
        chunk = missing[start : start + q.MAX_IN_VALUES]
        params = {"itemID": q.in_(chunk), "archived": "true", "load_relations": ITEM_RELATIONS}
        for raw in _pages(client, "Item", params, read):
            facts = item_facts(raw)
            read.items[facts.item_id] = facts
    return read


def read_brands(
    client: RSeriesClient, ids: set[int], *, everything: bool, read: Read
) -> dict[int, str]:
    """Manufacturer id → name (the brand the MPN match compares)."""
    brands: dict[int, str] = {}
    if everything:
        for row in _pages(client, "Manufacturer", {}, read):
            brands[int(row.get("manufacturerID") or 0)] = str(row.get("name") or "")
        return brands
    wanted = sorted(i for i in ids if i)
    for start in range(0, len(wanted), q.MAX_IN_VALUES):
        chunk = wanted[start : start + q.MAX_IN_VALUES]
        for row in _pages(client, "Manufacturer", {"manufacturerID": q.in_(chunk)}, read):
            brands[int(row.get("manufacturerID") or 0)] = str(row.get("name") or "")
    return brands


# -- planning (pure) ------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What a pass applies: records per shop, and what happens to each item read."""

    records: dict[int, list[InventoryRecord]]
    items: dict[int, ItemFacts]  # every item read
    importable: set[int]  # passed the filters and the requirements
    leaving: dict[int, str]  # item id → why it goes to 0 (filtered_out, archived)
    pending: dict[int, str]  # item id → the requirement it missed
    brands: dict[int, str]


def plan_import(
    items: Iterable[ItemFacts], config: RetailConfig, brands: dict[int, str], *, full: bool
) -> ImportPlan:
    shops = [s.shop_id for s in config.stores]
    plan = ImportPlan({shop: [] for shop in shops}, {}, set(), {}, {}, brands)
    for item in items:
        plan.items[item.item_id] = item
        brand = brands.get(item.manufacturer_id, "")
        if item.archived:
            plan.leaving[item.item_id] = "archived"
        elif not passes_filters(
            item,
            shops,
            on_hand=config.import_if_on_hand,
            on_order=config.import_if_on_order,
            reorder_levels=config.import_if_reorder_levels,
        ):
            plan.leaving[item.item_id] = "filtered_out"
        else:
            reason = missing_requirement(item, config.base_price_level)
            if reason is not None:
                plan.pending[item.item_id] = reason
                continue
            plan.importable.add(item.item_id)
            for shop in shops:
                plan.records[shop].append(inventory_record(item, shop, brand))
            continue
        # Leaving: a full pass clears what it does not report; an incremental one says 0
        # (only items that could match: one without any identifier cannot).
        if not full and (item.upc or item.ean or item.mpn):
            for shop in shops:
                plan.records[shop].append(inventory_record(item, shop, brand, zero=True))
    return plan


# -- the job ---------------------------------------------------------------------------------


def run_import(ctx: JobContext, *, full: bool) -> None:
    config = ctx.config
    assert isinstance(config, RetailConfig)
    started = utcnow()
    overlap = timedelta(seconds=config.overlap_seconds)
    item_cursor, shop_cursor = ctx.cursor(CURSOR_ITEM), ctx.cursor(CURSOR_ITEMSHOP)
    if not full and (not item_cursor or not shop_cursor):
        full = True  # nothing read yet: everything is new
        ctx.count("first_pass_full", 1)
    try:
        connection = open_connection(ctx)
    except Refused as exc:
        ctx.failed(exc.detail)
        return
    try:
        with connection:
            client = connection.client
            if full:
                read = read_everything(client)
            else:
                read = read_changes(
                    client,
                    config.location_of_shop(),
                    datetime.fromisoformat(str(item_cursor)) - overlap,
                    datetime.fromisoformat(str(shop_cursor)) - overlap,
                )
            ids = {item.manufacturer_id for item in read.items.values()}
            brands = read_brands(client, ids, everything=full, read=read)
    except ReconnectNeeded as exc:
        ctx.failed(f"the Lightspeed connection was lost: reconnect it ({exc})")
        return
    except RSeriesUnavailableError as exc:
        raise TransientJobError(f"Lightspeed could not be read: {exc}") from exc
    except RSeriesAPIError as exc:
        ctx.failed(f"Lightspeed refused a read ({exc.status}: {exc.message})")
        return
    ctx.set_count("requests", read.requests)
    ctx.set_count("items_read", len(read.items))
    plan = plan_import(read.items.values(), config, brands, full=full)
    apply_plan(ctx, config, plan, full=full)
    if full:
        mark = started.isoformat()
        ctx.set_cursor(CURSOR_ITEM, mark)
        ctx.set_cursor(CURSOR_ITEMSHOP, mark)
    else:
        if read.newest_item:
            ctx.set_cursor(CURSOR_ITEM, to_datetime(read.newest_item).isoformat())
        if read.newest_item_shop:
            ctx.set_cursor(CURSOR_ITEMSHOP, to_datetime(read.newest_item_shop).isoformat())


def apply_plan(ctx: JobContext, config: RetailConfig, plan: ImportPlan, *, full: bool) -> None:
    """Apply a plan through the core (one transaction per location), then bindings, prices
    and pending mappings; counts and the report on the run."""
    locations = config.location_of_shop()
    pricing = config.use_pos_pricing and config.regular_price_level is not None
    prices_of: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    if pricing:
        assert config.regular_price_level is not None
        prices_of = {
            item_id: pos_prices(
                plan.items[item_id], config.regular_price_level, config.sale_price_level
            )
            for item_id in plan.importable
        }
    report: list[tuple[Any, ...]] = []
    outcome_of: dict[int, RecordOutcome] = {}  # item id → its outcome (the first shop's)
    for n, (shop_id, records) in enumerate(plan.records.items()):
        result = ctx.apply_inventory(
            records,
            rule=MatchRule.UPC_EAN_MPN,
            location_code=locations[shop_id],
            clear=[ClearScope()] if full else [],
        )
        for name, count in result.counts.items():
            if count:
                ctx.count(name, count)
        for outcome in result.outcomes:
            cleared = outcome.outcome is ApplyOutcome.CLEARED
            item_id = 0 if cleared else int(outcome.ref)
            if n == 0 and item_id:
                outcome_of[item_id] = outcome
            if outcome.outcome is ApplyOutcome.UNCHANGED:
                continue  # the report lists what changed or needs looking at
            reason = plan.leaving.get(item_id, "")
            if outcome.outcome is ApplyOutcome.UNMATCHED and item_id in plan.importable:
                reason = NO_MATCHING_PRODUCT
            elif outcome.outcome is ApplyOutcome.AMBIGUOUS:
                reason = SEVERAL_MATCHING_PRODUCTS
            elif cleared:
                reason = "not reported"
            report.append(
                _report_row(
                    plan.items.get(item_id),
                    plan.brands,
                    shop_id,
                    locations[shop_id],
                    outcome,
                    prices_of.get(item_id, (None, None)),
                    reason,
                )
            )
    pending: list[PendingItem] = [
        _pending(plan.items[item_id], reason, plan.brands, None)
        for item_id, reason in plan.pending.items()
    ]
    for item_id, reason in plan.pending.items():
        report.append(
            _report_row(plan.items[item_id], plan.brands, 0, "", None, (None, None), reason)
        )
    matched: dict[int, int] = {}  # product id → item id
    for item_id in sorted(plan.importable):
        first = outcome_of.get(item_id)
        if first is None:
            continue
        if first.outcome is ApplyOutcome.UNMATCHED:
            pending.append(_pending(plan.items[item_id], NO_MATCHING_PRODUCT, plan.brands, first))
        elif first.outcome is ApplyOutcome.AMBIGUOUS:
            pending.append(
                _pending(plan.items[item_id], SEVERAL_MATCHING_PRODUCTS, plan.brands, first)
            )
        elif first.product_id is not None:
            matched[first.product_id] = item_id
    pending_ids = {p.vendor_id for p in pending}
    ctx.set_pending(
        pending, resolved=[str(i) for i in plan.items if str(i) not in pending_ids], full=full
    )
    ctx.set_count("pending", len(pending))
    ctx.set_count("imported", len(matched))
    ctx.set_count("filtered_out", sum(1 for why in plan.leaving.values() if why == "filtered_out"))
    ctx.set_count("archived_items", sum(1 for why in plan.leaving.values() if why == "archived"))
    if matched:
        bound = ctx.bind_many(BINDING_KIND, {pid: str(iid) for pid, iid in matched.items()})
        ctx.set_count("bound", bound)
    if pricing and matched:
        prices = [
            (product_id, *prices_of[item_id])
            for product_id, item_id in matched.items()
            if prices_of[item_id][0] is not None
        ]
        changed = ctx.set_prices(prices, sale=config.sale_price_level is not None)
        ctx.set_count("prices_updated", len(changed))
    ctx.attach_report(report_csv(REPORT_HEADER, report))


def _pending(
    item: ItemFacts, reason: str, brands: dict[int, str], outcome: RecordOutcome | None
) -> PendingItem:
    details: dict[str, Any] = {
        "description": item.description,
        "upc": item.upc,
        "ean": item.ean,
        "manufacturer_sku": item.mpn,
        "brand": brands.get(item.manufacturer_id, ""),
    }
    if outcome is not None and outcome.sku:
        details["matched_skus"] = outcome.sku
    return PendingItem(vendor_id=str(item.item_id), reason=reason, ref=item.ref, details=details)


def _report_row(
    item: ItemFacts | None,
    brands: dict[int, str],
    shop_id: int,
    location: str,
    outcome: RecordOutcome | None,
    prices: tuple[Decimal | None, Decimal | None],
    reason: str,
) -> tuple[Any, ...]:
    old: int | str = ""
    new: int | str = ""
    sku = ""
    kind = "pending"
    if outcome is not None:
        sku = outcome.sku or ""
        old = "" if outcome.old_quantity is None else outcome.old_quantity
        new = "" if outcome.new_quantity is None else outcome.new_quantity
        kind = _OUTCOME_WORDS[outcome.outcome]
    if item is None:
        return ("", outcome.ref if outcome else "", "", "", "", "", shop_id or "", location,
                sku, old, new, "", "", kind, reason)  # fmt: skip
    return (
        item.item_id,
        item.ref,
        item.upc,
        item.ean,
        item.mpn,
        brands.get(item.manufacturer_id, ""),
        shop_id or "",
        location,
        sku,
        old,
        new,
        "" if prices[0] is None else prices[0],
        "" if prices[1] is None else prices[1],
        kind,
        reason,
    )


_OUTCOME_WORDS = {outcome: outcome.value for outcome in ApplyOutcome}
