"""Job ``catalog_upload``: prices and costs up, new products enabled and created.

In this order, each from its own cursor:

1. ``auto_enable_new_products``: products created in the hub since the option was first
   seen on get an enabled listing (a listing the integrator disabled stays so).
2. ``price_upload`` / ``cost_upload``: for changed products with an enabled listing and a
   binding, the Default price (``Prices.ItemPrice`` useType Default) and ``defaultCost``, only
   values that differ from the listing's last pushed ones, one ``PUT Item`` per item.
3. ``auto_create_products``: an enabled, unbound product is looked up on Lightspeed
   (``customSku`` = SKU, then UPC) and bound if found; else created (description,
   customSku, UPC, EAN, manufacturerSku = MPN, Default price, cost, and its shops' stock
   when inventory upload is on) and bound to the new ``itemID``. The create is claimed before
   it is sent (``ctx.create_once``): after a timeout or a crash between Lightspeed's create
   and the bind, the next attempt finds the item by its ``customSku`` and binds it — it
   never creates a second one. A UPC or EAN that is not 11–14 digits is left out and
   reported.

Items are never deleted: ``DELETE Item`` archives the item **and zeroes its inventory**.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.plugin import CreateRefused, HubError, JobContext, TransientJobError, utcnow
from plugins.lightspeed_pos.config import PosConfig
from plugins.lightspeed_pos.connection import Connection, open_connection
from plugins.lightspeed_pos.mapping import (
    changed_prices,
    item_create_payload,
    money_text,
    price_payload,
    shop_quantities,
    valid_barcode,
)
from plugins.lightspeed_pos.shops import effective_shops
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesUnavailableError,
)

__all__ = ["PRODUCTS_CURSOR", "REPORT_HEADER", "run_catalog_upload"]

PRODUCTS_CURSOR = "catalog_products"
LISTINGS_CURSOR = "catalog_listings"
AUTO_ENABLE_SINCE = "auto_enable_since"
REPORT_HEADER = ("sku", "item_id", "what", "outcome", "message")
BATCH = 500


class CatalogUploader:
    def __init__(self, ctx: JobContext, config: PosConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.connection: Connection | None = None
        self.writes = 0
        shops = effective_shops(config, ctx.location_codes())
        self.shops = {k: list(v) for k, v in shops.items()}
        self.warehouses = sorted({c for codes in self.shops.values() for c in codes})

    def client(self) -> Any:
        if self.connection is None:
            self.connection = open_connection(self.ctx)
        return self.connection.client

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()

    # -- prices and costs ---------------------------------------------------------------

    def push_prices(self, product_ids: Sequence[int]) -> None:
        ctx, config = self.ctx, self.config
        if not (config.price_upload or config.cost_upload) or not product_ids:
            return
        listings = [v for b in ctx.listings(product_ids, enabled=True) for v in b]
        items = ctx.vendor_ids("product", [v.product_id for v in listings])
        listings = [v for v in listings if v.product_id in items]
        if not listings:
            return
        products = {
            p.product_id: p for p in ctx.find_products(ids=[v.product_id for v in listings])
        }
        pushed: dict[int | str, dict[str, Any]] = {}
        rows: list[tuple[Any, ...]] = []
        try:
            for view in listings:
                product = products.get(view.product_id)
                if product is None:
                    continue
                changed = changed_prices(
                    product.price,
                    product.cost,
                    view.last_pushed,
                    price_upload=config.price_upload,
                    cost_upload=config.cost_upload,
                )
                if not changed:
                    continue
                item_id = items[view.product_id]
                try:
                    self.client().update("Item", int(item_id), price_payload(changed))
                except RSeriesAPIError as exc:
                    ctx.count("items_failed")
                    ctx.error(f"{view.sku}: Lightspeed refused the price ({exc.status})")
                    rows.append((view.sku, item_id, ",".join(changed), "error", exc.message[:200]))
                    continue
                self.writes += 1
                pushed[view.product_id] = dict(changed)
                ctx.count("prices_updated")
                rows.append((view.sku, item_id, ",".join(sorted(changed)), "updated", ""))
        finally:
            if pushed:
                ctx.record_pushed(pushed)
            if rows:
                ctx.add_report_rows(REPORT_HEADER, rows)

    # -- creating -----------------------------------------------------------------------

    def create_missing(self, product_ids: Sequence[int]) -> None:
        ctx, config = self.ctx, self.config
        if not config.auto_create_products or not product_ids:
            return
        listings = [v for b in ctx.listings(product_ids, enabled=True) for v in b]
        bound = ctx.vendor_ids("product", [v.product_id for v in listings])
        todo = [v for v in listings if v.product_id not in bound]
        if not todo:
            return
        products = {p.product_id: p for p in ctx.find_products(ids=[v.product_id for v in todo])}
        stock: dict[int, dict[str, int]] = {}
        if config.inventory_upload and self.shops:
            stock = ctx.stock(list(products), locations=self.warehouses)
        for view in todo:
            product = products.get(view.product_id)
            if product is None:
                continue
            payload, problems = item_create_payload(
                sku=product.sku,
                title=product.title,
                upc=product.upc,
                ean=product.ean,
                mpn=product.mpn,
                price=product.price,
                cost=product.cost,
            )
            qoh: dict[int, int] = {}
            if config.inventory_upload and self.shops:
                qoh = shop_quantities(stock.get(product.product_id, {}), self.shops)
                payload["ItemShops"] = {
                    "ItemShop": [{"shopID": s, "qoh": n} for s, n in sorted(qoh.items())]
                }
            created: dict[str, Any] = {}

            def lookup(sku: str = product.sku, upc: str | None = product.upc) -> str | None:
                return self._lookup(sku, upc)

            def create(body: dict[str, Any] = payload, out: dict[str, Any] = created) -> str:
                try:
                    record = self.client().create("Item", body)
                except RSeriesAPIError as exc:
                    raise CreateRefused(f"{exc.status}: {exc.message}") from exc
                out["created"] = True
                return str(record["itemID"])

            try:
                # Looked up first, always: the item may exist on Lightspeed already (made at
                # the till, or by an earlier attempt); only a miss is created, claimed first.
                found = lookup()
                if found is not None:
                    ctx.bind("product", product.product_id, found)
                    item_id = found
                else:
                    item_id = ctx.create_once(
                        "product", product.product_id, lookup=lookup, create=create
                    )
            except CreateRefused as exc:
                ctx.count("items_failed")
                ctx.error(f"{product.sku}: Lightspeed refused the item ({exc})")
                ctx.add_report_rows(
                    REPORT_HEADER, [(product.sku, "", "create", "error", str(exc)[:200])]
                )
                continue
            if created:
                self.writes += 1
                ctx.count("items_created")
                outcome = "created"
            else:
                ctx.count("items_bound")
                outcome = "bound"
            pushed: dict[str, Any] = {}
            if created:
                # What the create carried is what Lightspeed holds now.
                if product.price is not None:
                    pushed["price"] = money_text(product.price)
                if product.cost is not None:
                    pushed["cost"] = money_text(product.cost)
                if qoh:
                    pushed["qoh"] = {str(k): v for k, v in qoh.items()}
            ctx.record_pushed(
                {product.product_id: pushed}, vendor_ids={product.product_id: item_id}
            )
            rows = [(product.sku, item_id, "create", outcome, "")]
            for problem in problems:
                ctx.count("barcodes_left_out")
                rows.append((product.sku, item_id, "barcode", "reported", problem))
            ctx.add_report_rows(REPORT_HEADER, rows)
            if not created:
                # A bound item may hold other prices: send ours (changed values only).
                self.push_prices([product.product_id])

    def _lookup(self, sku: str, upc: str | None) -> str | None:
        """The Lightspeed item of a hub product, by customSku, then by UPC (archived ones
        too: an archived item is still the product's, and creating another would double
        it)."""
        client = self.client()
        for field, value in (("customSku", sku), ("upc", upc)):
            if not value or (field == "upc" and not valid_barcode(value)):
                continue
            page = client.get("Item", params={field: value, "archived": "true"})
            if page.records:
                return str(page.records[0]["itemID"])
        return None


def _auto_enable(ctx: JobContext, created: list[tuple[int, datetime]]) -> int:
    """Enable listings of products created since the option was first seen on."""
    since_text = ctx.cursor(AUTO_ENABLE_SINCE)
    if since_text is None:
        ctx.set_cursor(AUTO_ENABLE_SINCE, utcnow().isoformat())
        return 0
    since = datetime.fromisoformat(since_text)
    new = [pid for pid, at in created if at >= since]
    if not new:
        return 0
    result = ctx.set_listing_enabled(new, True, only_missing=True)
    ctx.count("listings_enabled", result.get("created", 0))
    return int(result.get("created", 0))


def run_catalog_upload(ctx: JobContext) -> None:
    config = ctx.config
    assert isinstance(config, PosConfig)
    uploader = CatalogUploader(ctx, config)
    problem = ""
    try:
        if config.auto_enable_new_products and ctx.cursor(AUTO_ENABLE_SINCE) is None:
            _auto_enable(ctx, [])
        for batch in ctx.changed_products(ctx.cursor(PRODUCTS_CURSOR), batch=BATCH):
            ids = [p.product_id for p in batch.items]
            if config.auto_enable_new_products:
                _auto_enable(ctx, [(p.product_id, p.created_at) for p in batch.items])
            uploader.push_prices(ids)
            uploader.create_missing(ids)
            ctx.set_cursor(PRODUCTS_CURSOR, batch.cursor, checkpoint={"stage": "products"})
        if config.auto_create_products:
            for lbatch in ctx.changed_listings(
                ctx.cursor(LISTINGS_CURSOR), enabled=True, batch=BATCH
            ):
                ids = [v.product_id for v in lbatch.items]
                uploader.create_missing(ids)
                uploader.push_prices(ids)
                ctx.set_cursor(LISTINGS_CURSOR, lbatch.cursor, checkpoint={"stage": "listings"})
    except HubError as exc:
        ctx.failed(exc.detail)
        return
    except ReconnectNeeded as exc:
        ctx.error(str(exc))
        ctx.failed(f"the Lightspeed connection was lost ({exc}): reconnect the install")
        return
    except TransientJobError:
        raise
    except RSeriesUnavailableError as exc:
        problem = str(exc)
    finally:
        uploader.close()
    ctx.set_count("writes", uploader.writes)
    if problem:
        ctx.error(f"Lightspeed: {problem}")
        ctx.partial(
            f"Lightspeed stopped answering after {uploader.writes} write(s): the products "
            "after the cursor are left for the next run (an unfinished create is looked up "
            "first, never sent twice)"
        )
    elif ctx.errors:
        ctx.partial(f"{len(ctx.errors)} product(s) were refused; see the report")
