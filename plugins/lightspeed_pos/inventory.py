"""Jobs ``inventory_upload`` and ``inventory_reconcile``: the hub's stock → ``ItemShops.qoh``.

For each product with an enabled listing and a binding (its Lightspeed ``itemID``), per shop
the sum of the shop's warehouses (:func:`~plugins.lightspeed_pos.shops.effective_shops`), and
**one** ``PUT Item`` carrying every shop of that item whose value changed. What was pushed is
remembered on the listing (``last_pushed["qoh"] = {"<shopID>": qty}``), so only changed
values are sent and a second run with nothing changed sends nothing.

- ``inventory_upload`` is queued by the core after a change (``JobSpec.on_change``: the
  tenant's change counter moved or the settings were saved, seen at the next scheduler
  pass): it reads what changed after its cursor (inventory levels, and listings newly
  enabled) and ends ``skipped`` without a request when nothing of its own did — an inventory
  change reaches Lightspeed within about a minute, and a burst of changes goes up in one run
  (debounced). When the shop mapping changed since the last run, every enabled listing is
  compared once.
- ``inventory_reconcile`` (every six hours) reads Lightspeed's ``qoh`` of every bound,
  enabled item and corrects what drifted (a sale rung up meanwhile, an edit at the till),
  taking what it read as the last pushed value.

A run that stops on Lightspeed (5xx, timeouts) records what it pushed, keeps its cursor
before the batch it did not finish, and ends ``partial`` naming what is left.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from hub.plugin import HubError, JobContext
from plugins.lightspeed_pos.config import PosConfig
from plugins.lightspeed_pos.connection import Connection, open_connection
from plugins.lightspeed_pos.mapping import (
    changed_shop_quantities,
    item_shops_payload,
    shop_quantities,
)
from plugins.lightspeed_pos.shops import effective_shops
from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesUnavailableError,
)

__all__ = ["INVENTORY_CURSOR", "LISTINGS_CURSOR", "REPORT_HEADER", "run_inventory_upload"]

INVENTORY_CURSOR = "inventory_changes"
LISTINGS_CURSOR = "inventory_listings"
SHOPS_CURSOR = "inventory_shops"
REPORT_HEADER = ("sku", "item_id", "shops", "outcome", "message")
BATCH = 500


class _Stop(Exception):
    """Lightspeed stopped answering: end the run partial."""


class Uploader:
    """Pushes the stock of batches of products; opens the connection on the first write."""

    def __init__(self, ctx: JobContext, config: PosConfig, shops: Mapping[int, Sequence[str]]):
        self.ctx = ctx
        self.config = config
        self.shops = {shop_id: list(codes) for shop_id, codes in shops.items()}
        self.warehouses = sorted({c for codes in self.shops.values() for c in codes})
        self.connection: Connection | None = None
        self.writes = 0

    def client(self) -> Any:
        if self.connection is None:
            self.connection = open_connection(self.ctx)
        return self.connection.client

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()

    def push(self, product_ids: Sequence[int], *, read_qoh: bool = False) -> int:
        """Push the changed shop quantities of ``product_ids``; returns the items written."""
        ctx = self.ctx
        listings = [v for batch in ctx.listings(product_ids, enabled=True) for v in batch]
        if not listings:
            return 0
        items = ctx.vendor_ids("product", [v.product_id for v in listings])
        listings = [v for v in listings if v.product_id in items]
        if not listings:
            return 0
        stock = ctx.stock([v.product_id for v in listings], locations=self.warehouses)
        actual: dict[str, dict[str, int]] = {}
        if read_qoh:
            actual = self._read_qoh([items[v.product_id] for v in listings])
        pushed: dict[int | str, dict[str, Any]] = {}
        rows: list[tuple[Any, ...]] = []
        written = 0
        try:
            for view in listings:
                item_id = items[view.product_id]
                wanted = shop_quantities(stock.get(view.product_id, {}), self.shops)
                if read_qoh:
                    if item_id not in actual:
                        rows.append((view.sku, item_id, "", "missing", "not found on Lightspeed"))
                        continue
                    last = {k: v for k, v in actual[item_id].items()}
                else:
                    last = dict(view.last_pushed.get("qoh") or {})
                changed = changed_shop_quantities(wanted, last)
                if read_qoh and changed:
                    ctx.count("drift_corrected")
                if not changed:
                    if read_qoh and view.last_pushed.get("qoh") != last:
                        pushed[view.product_id] = {"qoh": last}
                    continue
                try:
                    self.client().update("Item", int(item_id), item_shops_payload(changed))
                except RSeriesAPIError as exc:
                    ctx.count("items_failed")
                    ctx.error(f"{view.sku}: Lightspeed refused the stock ({exc.status})")
                    rows.append((view.sku, item_id, _shops(changed), "error", exc.message[:200]))
                    continue
                written += 1
                self.writes += 1
                pushed[view.product_id] = {
                    "qoh": {**last, **{str(k): v for k, v in changed.items()}}
                }
                rows.append((view.sku, item_id, _shops(changed), "updated", ""))
        except (RSeriesUnavailableError, ReconnectNeeded):
            self._record(pushed, rows)
            raise
        self._record(pushed, rows)
        return written

    def _record(self, pushed: dict[int | str, dict[str, Any]], rows: list[tuple[Any, ...]]) -> None:
        if pushed:
            self.ctx.record_pushed(pushed)
        if rows:
            self.ctx.add_report_rows(REPORT_HEADER, rows)
        self.ctx.count("items_updated", sum(1 for r in rows if r[3] == "updated"))

    def _read_qoh(self, item_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        ids = sorted({int(i) for i in item_ids})
        for start in range(0, len(ids), q.MAX_IN_VALUES):
            chunk = ids[start : start + q.MAX_IN_VALUES]
            params = {"itemID": q.in_(chunk), "load_relations": q.load_relations("ItemShops")}
            for record in self.client().iterate("Item", params):
                shops = record.get("ItemShops") or {}
                rows = shops.get("ItemShop", []) if isinstance(shops, Mapping) else []
                rows = rows if isinstance(rows, list) else [rows]
                found[str(record.get("itemID"))] = {
                    str(r.get("shopID")): int(str(r.get("qoh") or "0"))
                    for r in rows
                    if str(r.get("shopID")) != "0"
                }
        return found


def _shops(changed: Mapping[int, int]) -> str:
    return ";".join(f"{shop}:{qty}" for shop, qty in sorted(changed.items()))


def _fingerprint(shops: Mapping[int, Sequence[str]]) -> str:
    text = json.dumps(sorted((k, list(v)) for k, v in shops.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def run_inventory_upload(ctx: JobContext, *, reconcile: bool = False) -> None:
    config = ctx.config
    assert isinstance(config, PosConfig)
    shops = effective_shops(config, ctx.location_codes())
    if not shops:
        ctx.skip("no Lightspeed shop to send stock to: refresh the shops and map them")
        return
    uploader = Uploader(ctx, config, shops)
    left = ""
    try:
        if reconcile:
            _reconcile(ctx, uploader)
        else:
            _incremental(ctx, uploader, shops)
    except HubError as exc:
        ctx.failed(exc.detail)
        return
    except ReconnectNeeded as exc:
        ctx.error(str(exc))
        ctx.failed(f"the Lightspeed connection was lost ({exc}): reconnect the install")
        return
    except RSeriesUnavailableError as exc:
        left = str(exc)
    finally:
        uploader.close()
    ctx.set_count("writes", uploader.writes)
    if left:
        ctx.error(f"Lightspeed: {left}")
        ctx.partial(
            f"Lightspeed stopped answering after {uploader.writes} item(s): the stock changes "
            "after the cursor are left for the next run"
        )
        return
    if ctx.errors:
        ctx.partial(f"{len(ctx.errors)} item(s) were refused; see the report")
    elif not uploader.writes and not reconcile and ctx.counts.get("candidates", 0) == 0:
        ctx.skip("no stock change since the last upload")


def _incremental(ctx: JobContext, uploader: Uploader, shops: Mapping[int, Sequence[str]]) -> None:
    fingerprint = _fingerprint(shops)
    if ctx.cursor(SHOPS_CURSOR) != fingerprint:
        # The mapping changed (or first run): compare every enabled listing once.
        cursor = None
        for batch in ctx.changed_inventory(None, batch=BATCH):
            cursor = batch.cursor
        for listing_batch in ctx.listings(enabled=True, batch=BATCH):
            ids = [v.product_id for v in listing_batch]
            ctx.count("candidates", len(ids))
            uploader.push(ids)
        if cursor is not None:
            ctx.set_cursor(INVENTORY_CURSOR, cursor)
        for lbatch in ctx.changed_listings(None, batch=BATCH):
            ctx.set_cursor(LISTINGS_CURSOR, lbatch.cursor)
        ctx.set_cursor(SHOPS_CURSOR, fingerprint)
        return
    for batch in ctx.changed_inventory(ctx.cursor(INVENTORY_CURSOR), batch=BATCH):
        ids = sorted({c.product_id for c in batch.items})
        ctx.count("candidates", len(ids))
        uploader.push(ids)
        ctx.set_cursor(INVENTORY_CURSOR, batch.cursor, checkpoint={"stage": "inventory"})
    for lbatch in ctx.changed_listings(ctx.cursor(LISTINGS_CURSOR), enabled=True, batch=BATCH):
        ids = [v.product_id for v in lbatch.items]
        ctx.count("candidates", len(ids))
        uploader.push(ids)
        ctx.set_cursor(LISTINGS_CURSOR, lbatch.cursor, checkpoint={"stage": "listings"})


def _reconcile(ctx: JobContext, uploader: Uploader) -> None:
    for listing_batch in ctx.listings(enabled=True, batch=100):
        ids = [v.product_id for v in listing_batch]
        ctx.count("candidates", len(ids))
        uploader.push(ids, read_qoh=True)
