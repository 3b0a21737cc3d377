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
item that passes both is one record, with each mapped shop's qoh for that shop's location,
matched once by the core (UPC, then EAN, then MPN + brand) and applied at every location in
one transaction (``ctx.apply_inventory_locations``). Matched items are bound (product ↔
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

**Resuming.** A full pass reads every page before it applies (the clear needs the whole
picture), so each page read is kept with the run (``ctx.spool``) with a checkpoint naming
the next page: an attempt that resumes the run after a kill, a restart or a transient error
reads the kept pages back and asks Lightspeed only for the rest (at most the page in flight
is asked twice), then applies everything as an undisturbed pass would. The cursors it sets
mark the first attempt's start.

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
    Refused,
    TransientJobError,
    collect_young,
    collector_paused,
    csv_field,
    csv_line,
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
    pos_prices,
    quantity_of,
    stocks_at,
    stocks_pass,
)

__all__ = [
    "CURSOR_ITEM",
    "CURSOR_ITEMSHOP",
    "REPORT_HEADER",
    "ImportPlan",
    "Read",
    "apply_items",
    "apply_plan",
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

    def add(self, records: list[dict[str, Any]]) -> list[ItemFacts]:
        """The facts of a page's item records, kept by item id (the collector paused: a
        page is thousands of objects and no garbage)."""
        items = self.items
        with collector_paused():
            added = [item_facts(raw) for raw in records]
            for facts in added:
                items[facts.item_id] = facts
        return added


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


SPOOL_ITEMS = "items"
READ_STAGE = "full-read"


def read_everything(
    client: RSeriesClient, ctx: JobContext | None = None, started: datetime | None = None
) -> Read:
    """Every item that is not archived. In a run (``ctx``), each page is kept with the run
    (``ctx.spool``) with a checkpoint naming the next page, so an attempt that resumes the
    run (a killed worker, a restart) reads the kept pages back and asks Lightspeed only for
    the pages after them: at most one page is asked twice.

    The read is one section with the garbage collector paused, the young generations
    collected after each page (``collect_young``): 100,000 items kept for the apply would
    otherwise trigger full collections over the growing heap again and again."""
    with collector_paused():
        return _read_everything(client, ctx, started)


def _read_everything(
    client: RSeriesClient, ctx: JobContext | None, started: datetime | None
) -> Read:
    read = Read()
    params = {"load_relations": ITEM_RELATIONS, "archived": "false"}
    point = resume_point(ctx, client)
    if ctx is not None and point is not None:
        for raw in ctx.spooled(SPOOL_ITEMS):
            facts = item_facts(raw)
            read.items[facts.item_id] = facts
        read.requests = int(point.get("requests") or 0)
        ctx.count("pages_resumed", int(point.get("pages") or 0))
        following = point.get("next")
        if not following:
            return read  # everything was read before the stop
        page = client.get_page(str(following), "Item")
    else:
        page = client.get("Item", params=params)
    read.requests += 1
    pages = int(point.get("pages") or 0) if point else 0
    while True:
        read.add(page.records)
        collect_young()
        pages += 1
        if ctx is not None:
            ctx.spool(
                SPOOL_ITEMS,
                page.records,
                checkpoint={
                    "stage": READ_STAGE,
                    "next": page.next_url,
                    "pages": pages,
                    "requests": read.requests,
                    "started": (started or utcnow()).isoformat(),
                },
            )
            ctx.raise_if_superseded()
        if page.next_url is None:
            return read
        page = client.get_page(page.next_url, "Item")
        read.requests += 1


def resume_point(ctx: JobContext | None, client: RSeriesClient) -> dict[str, Any] | None:
    """The full read's checkpoint of an earlier attempt of this run, when it is one this
    code wrote and its next page is on this install's Lightspeed (else: start over)."""
    point = ctx.checkpoint if ctx is not None else None
    if not isinstance(point, dict) or point.get("stage") != READ_STAGE:
        return None
    following = point.get("next")
    if following and not str(following).startswith(client.entity_url("Item").split("?")[0]):
        return None
    return point


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
        facts = read.add([raw])[0]
        read.newest_item = _newer(read.newest_item, facts.timestamp)
    missing = sorted(i for i in touched - set(read.items) if i)
    for start in range(0, len(missing), q.MAX_IN_VALUES):
        chunk = missing[start : start + q.MAX_IN_VALUES]
        params = {"itemID": q.in_(chunk), "archived": "true", "load_relations": ITEM_RELATIONS}
        for raw in _pages(client, "Item", params, read):
            read.add([raw])
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
    """What a pass applies — one record per item, with its quantity at each shop — and what
    happens to each item read."""

    records: list[InventoryRecord]  # the items applied (importable, or leaving in an increment)
    quantities: dict[int, list[int]]  # shop id → the quantity there of each record
    items: dict[int, ItemFacts]  # every item read
    importable: set[int]  # passed the filters and the requirements
    leaving: dict[int, str]  # item id → why it goes to 0 (filtered_out, archived)
    pending: dict[int, str]  # item id → the requirement it missed
    brands: dict[int, str]


def plan_import(
    items: Iterable[ItemFacts], config: RetailConfig, brands: dict[int, str], *, full: bool
) -> ImportPlan:
    shops = [s.shop_id for s in config.stores]
    plan = ImportPlan([], {shop: [] for shop in shops}, {}, set(), {}, {}, brands)
    records = plan.records
    columns = [(shop, plan.quantities[shop]) for shop in shops]
    on_hand = config.import_if_on_hand
    on_order = config.import_if_on_order
    reorder_levels = config.import_if_reorder_levels
    base_level = config.base_price_level
    read, leaving, pending, importable = plan.items, plan.leaving, plan.pending, plan.importable
    for item in items:
        item_id = item.item_id
        read[item_id] = item
        if item.archived:
            leaving[item_id] = "archived"
        else:
            stocks = stocks_at(item, shops)
            if not stocks_pass(
                stocks, on_hand=on_hand, on_order=on_order, reorder_levels=reorder_levels
            ):
                leaving[item_id] = "filtered_out"
            else:
                reason = missing_requirement(item, base_level)
                if reason is not None:
                    pending[item_id] = reason
                    continue
                importable.add(item_id)
                records.append(inventory_record(item, brands.get(item.manufacturer_id, "")))
                for (_, column), stock in zip(columns, stocks, strict=True):
                    column.append(quantity_of(stock))
                continue
        # Leaving: a full pass clears what it does not report; an incremental one says 0
        # (only items that could match: one without any identifier cannot).
        if not full and (item.upc or item.ean or item.mpn):
            records.append(inventory_record(item, brands.get(item.manufacturer_id, "")))
            for _, column in columns:
                column.append(0)
    return plan


# -- the job ---------------------------------------------------------------------------------


def run_import(ctx: JobContext, *, full: bool) -> None:
    config = ctx.config
    assert isinstance(config, RetailConfig)
    started = utcnow()
    point = ctx.checkpoint if isinstance(ctx.checkpoint, dict) else {}
    if point.get("stage") == READ_STAGE and point.get("started"):
        # A resumed full pass: its cursors mark the first attempt's start (what changed
        # since then is read again by the next incremental pass).
        full, started = True, datetime.fromisoformat(str(point["started"]))
    overlap = timedelta(seconds=config.overlap_seconds)
    item_cursor, shop_cursor = ctx.cursor(CURSOR_ITEM), ctx.cursor(CURSOR_ITEMSHOP)
    if not full and (not item_cursor or not shop_cursor):
        full = True  # nothing read yet: everything is new
        ctx.set_count("first_pass_full", 1)
    try:
        connection = open_connection(ctx)
    except Refused as exc:
        ctx.failed(exc.detail)
        return
    try:
        with connection:
            client = connection.client
            if full:
                read = read_everything(client, ctx, started)
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
    apply_items(ctx, config, read, brands, full=full)
    if full:
        mark = started.isoformat()
        ctx.set_cursor(CURSOR_ITEM, mark)
        ctx.set_cursor(CURSOR_ITEMSHOP, mark)
    else:
        if read.newest_item:
            ctx.set_cursor(CURSOR_ITEM, to_datetime(read.newest_item).isoformat())
        if read.newest_item_shop:
            ctx.set_cursor(CURSOR_ITEMSHOP, to_datetime(read.newest_item_shop).isoformat())


def apply_items(
    ctx: JobContext, config: RetailConfig, read: Read, brands: dict[int, str], *, full: bool
) -> None:
    """Plan and apply the items of a pass (:func:`plan_import`, :func:`apply_plan`): CPU-bound
    work on every item read, with the garbage collector paused. The read's items are let go
    before the collector resumes (its first pass then finds a small heap, not 100,000 items
    that are about to be dropped anyway)."""
    with collector_paused():
        plan = plan_import(read.items.values(), config, brands, full=full)
        apply_plan(ctx, config, plan, full=full)
        read.items.clear()
        del plan


def apply_plan(ctx: JobContext, config: RetailConfig, plan: ImportPlan, *, full: bool) -> None:
    """Apply a plan through the core (every location in one transaction: matched once), then
    bindings, prices and pending mappings; counts and the report on the run."""
    locations = config.location_of_shop()
    shops = list(plan.quantities)
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
    records = plan.records
    item_ids = [int(record.ref) for record in records]  # a record per item of the plan
    # The report as CSV lines (a first import reports every item at every shop): the item's
    # columns and its price columns rendered once per record.
    heads = [_report_head(plan.items[item_id], plan.brands) for item_id in item_ids]
    tails = (
        [csv_line(prices_of.get(item_id, _NO_PRICES)) for item_id in item_ids]
        if prices_of
        else [","] * len(item_ids)  # no POS pricing: two empty price columns
    )
    report: list[str] = []
    leaving, importable = plan.leaving, plan.importable
    tally: dict[str, int] = {}
    # The first shop's outcome of each record decides the item's binding or pending reason.
    first: tuple[list[ApplyOutcome], list[int | None], list[str | None]] | None = None
    for group in _rounds(shops, locations):
        applied = ctx.apply_inventory_locations(
            records,
            {locations[shop]: plan.quantities[shop] for shop in group},
            rule=MatchRule.UPC_EAN_MPN,
            clear=[ClearScope()] if full else [],
        )
        skus = applied.skus
        for shop_id in group:
            location = locations[shop_id]
            at_shop = f"{shop_id},{csv_field(location)}"
            kinds = applied.outcomes[location]
            old = applied.old_quantities[location]
            new = plan.quantities[shop_id]
            for name, count in applied.counts(location).items():
                tally[name] = tally.get(name, 0) + count
            if shop_id == shops[0]:
                first = (kinds, applied.product_ids, skus)
            for seq, kind in enumerate(kinds):
                if kind is _UNCHANGED:
                    continue  # the report lists what changed or needs looking at
                item_id = item_ids[seq]
                after: Any = ""
                if kind is _UPDATED:
                    after = new[seq]
                    reason = leaving.get(item_id, "")
                elif kind is _AMBIGUOUS:
                    reason = SEVERAL_MATCHING_PRODUCTS
                elif item_id in importable:  # unmatched
                    reason = NO_MATCHING_PRODUCT
                else:
                    reason = leaving.get(item_id, "")
                sku = skus[seq]
                before = old[seq]
                report.append(
                    f"{heads[seq]},{at_shop},{'' if sku is None else csv_field(sku)},"
                    f"{'' if before is None else before},{after},{tails[seq]},"
                    f"{_WORDS[kind]},{reason}"
                )
            for outcome in applied.cleared[location]:
                report.append(
                    csv_line(
                        ("", outcome.ref, "", "", "", "", shop_id, location, outcome.sku,
                         outcome.old_quantity, 0, "", "", _WORDS[outcome.outcome], "not reported")
                    )
                )  # fmt: skip
    for name, count in tally.items():
        if count:
            ctx.count(name, count)
    pending: list[PendingItem] = [
        _pending(plan.items[item_id], reason, plan.brands, None)
        for item_id, reason in plan.pending.items()
    ]
    for item_id, reason in plan.pending.items():
        report.append(csv_line(_pending_row(plan.items[item_id], plan.brands, reason)))
    matched: dict[int, int] = {}  # product id → item id
    if first is not None:
        kinds, product_ids, skus = first
        position = {item_id: seq for seq, item_id in enumerate(item_ids) if item_id}
        for item_id in sorted(importable):
            at = position.get(item_id)
            if at is None:
                continue
            kind = kinds[at]
            if kind is _UNMATCHED:
                pending.append(
                    _pending(plan.items[item_id], NO_MATCHING_PRODUCT, plan.brands, skus[at])
                )
            elif kind is _AMBIGUOUS:
                pending.append(
                    _pending(plan.items[item_id], SEVERAL_MATCHING_PRODUCTS, plan.brands, skus[at])
                )
            elif (product_id := product_ids[at]) is not None:
                matched[product_id] = item_id
    pending_ids = {p.vendor_id for p in pending}
    # A full pass replaces the list: nothing to resolve one by one.
    resolved = [] if full else [v for v in map(str, plan.items) if v not in pending_ids]
    ctx.set_pending(pending, resolved=resolved, full=full)
    ctx.set_count("pending", len(pending))
    ctx.set_count("imported", len(matched))
    ctx.set_count("filtered_out", sum(1 for why in leaving.values() if why == "filtered_out"))
    ctx.set_count("archived_items", sum(1 for why in leaving.values() if why == "archived"))
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
    report.append("")  # the last line's end
    ctx.attach_report(report_csv(REPORT_HEADER, ()) + "\n".join(report))


_UNCHANGED = ApplyOutcome.UNCHANGED
_UPDATED = ApplyOutcome.UPDATED
_UNMATCHED = ApplyOutcome.UNMATCHED
_AMBIGUOUS = ApplyOutcome.AMBIGUOUS
_WORDS = {outcome: outcome.value for outcome in ApplyOutcome}  # (an enum's .value is slow)
_NO_PRICES = (None, None)


def _rounds(shops: list[int], locations: dict[int, str]) -> list[list[int]]:
    """The shops in groups applied together, each group's locations distinct (two shops
    mapped to one location are applied one after the other, in order: the later wins)."""
    rounds: list[list[int]] = []
    for shop in shops:
        for group in rounds:
            if all(locations[other] != locations[shop] for other in group):
                group.append(shop)
                break
        else:
            rounds.append([shop])
    return rounds


def _pending(
    item: ItemFacts, reason: str, brands: dict[int, str], matched_sku: str | None
) -> PendingItem:
    details: dict[str, Any] = {
        "description": item.description,
        "upc": item.upc,
        "ean": item.ean,
        "manufacturer_sku": item.mpn,
        "brand": brands.get(item.manufacturer_id, ""),
    }
    if matched_sku:
        details["matched_skus"] = matched_sku
    return PendingItem(vendor_id=str(item.item_id), reason=reason, ref=item.ref, details=details)


def _item_columns(item: ItemFacts, brands: dict[int, str]) -> tuple[Any, ...]:
    """The item's columns of a report row."""
    return (
        item.item_id,
        item.ref,
        item.upc,
        item.ean,
        item.mpn,
        brands.get(item.manufacturer_id, ""),
    )


def _report_head(item: ItemFacts, brands: dict[int, str]) -> str:
    """The item's columns of a report line (joined as they are when none needs quoting,
    the common case: one check of the joined text)."""
    line = f"{item.item_id},{item.ref},{item.upc},{item.ean},{item.mpn},{brands.get(item.manufacturer_id, '')}"
    if line.count(",") == 5 and not ('"' in line or "\n" in line or "\r" in line):
        return line
    return csv_line(_item_columns(item, brands))


def _pending_row(item: ItemFacts, brands: dict[int, str], reason: str) -> tuple[Any, ...]:
    """A pending item's report row: no shop, location or quantities (nothing was applied)."""
    return (*_item_columns(item, brands), "", "", "", "", "", "", "", "pending", reason)
