"""Pure functions between Lightspeed Retail records and the hub's: tested without a server.

Items are read from the raw records the client returns (string scalars, single-object
quirks undone by :mod:`plugins.lightspeed_rseries.normalise`), not through the pydantic
models: an import reads 100,000 items, and this is the hot path of the local apply.

The rules of the spec, each in one place:

- **Import filters** (:func:`stocks_pass`): an item is imported if any enabled condition
  holds at any mapped shop — qoh > 0, backorder > 0, reorderPoint or reorderLevel > 0.
- **Requirements** (:func:`missing_requirement`): a price at the base level (Default or MSRP),
  a UPC or an EAN, a manufacturer SKU; the first one missing is the pending reason.
- **Identifiers**: UPC → ``upc`` (GTIN1), EAN → ``ean`` (GTIN2), Manufact. SKU → ``mpn``;
  matched by the core (``MatchRule.UPC_EAN_MPN``: UPC, then EAN, then MPN + brand).
- **Quantities** (:func:`quantity_of`): the shop's qoh, never below 0 (Lightspeed lets qoh go negative; a webstore
  shows 0); a shop without an ItemShop row holds 0.
- **POS pricing** (:func:`pos_prices`): levels by id (``useTypeID`` = ``priceLevelID``).
- **The sale** (:func:`sale_lines`, :func:`sale_payments`): lines by itemID, the shipping
  line, payments of exactly Lightspeed's total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.plugin import InventoryRecord, OrderView
from plugins.lightspeed_rseries import normalise

__all__ = [
    "REASONS",
    "ItemFacts",
    "ShopStock",
    "inventory_record",
    "item_facts",
    "missing_requirement",
    "pos_prices",
    "quantity_of",
    "sale_lines",
    "sale_payments",
    "stock_at",
    "stocks_at",
    "stocks_pass",
]

NO_UPC_OR_EAN = "no_upc_or_ean"
NO_MANUFACTURER_SKU = "no_manufacturer_sku"
NO_PRICE_AT_LEVEL = "no_price_at_level"
NO_MATCHING_PRODUCT = "no_matching_product"
SEVERAL_MATCHING_PRODUCTS = "several_matching_products"
REASONS: dict[str, str] = {
    NO_UPC_OR_EAN: "The item has neither a UPC nor an EAN.",
    NO_MANUFACTURER_SKU: "The item has no manufacturer SKU (Manufact. SKU).",
    NO_PRICE_AT_LEVEL: "The item has no price at the selected level.",
    NO_MATCHING_PRODUCT: "No hub product has the item's UPC, EAN or MPN.",
    SEVERAL_MATCHING_PRODUCTS: "Several hub products (or Lightspeed items) match.",
}
CENT = Decimal("0.01")


# An item's stock at one shop: (shopID, qoh, backorder, reorderPoint, reorderLevel), by these
# indexes. Plain tuples of ints, in a tuple (``ItemFacts.shops``): a full pass keeps 100,000
# items, and the garbage collector stops following such tuples (not named tuples, nor dicts).
ShopStock = tuple[int, int, int, int, int]
SHOP, QOH, BACKORDER, REORDER_POINT, REORDER_LEVEL = range(5)


@dataclass(slots=True)
class ItemFacts:
    """What the import needs of one Lightspeed item (built once per item read: kept plain,
    it is the hot path of a 100,000-item pass)."""

    item_id: int
    system_sku: str
    custom_sku: str
    upc: str
    ean: str
    mpn: str
    description: str
    archived: bool
    manufacturer_id: int
    timestamp: str
    # useTypeID → amount, and level name (lower case) → amount
    prices_by_id: dict[int, Decimal] = field(default_factory=dict)
    prices_by_name: dict[str, Decimal] = field(default_factory=dict)
    shops: tuple[ShopStock, ...] = ()  # one per ItemShop row of a shop (see stock_at)

    @property
    def ref(self) -> str:
        """How people find the item in Lightspeed: its custom SKU, system SKU, or id."""
        return self.custom_sku or self.system_sku or str(self.item_id)


def _text(value: Any) -> str:
    if value.__class__ is str:
        return value.strip()  # type: ignore[no-any-return]
    return "" if value is None else str(value).strip()


def _int(value: Any) -> int:
    if value.__class__ is str:
        try:
            return int(value)
        except ValueError:
            pass
    number = normalise.to_int(value)
    return number if isinstance(number, int) else 0


def _rows(value: Any, child: str) -> list[Any]:
    """A nested container (``{"ItemShop": [...]}``, one bare object, or ``""``) as a list."""
    if value.__class__ is dict:
        inner = value.get(child)
        if inner.__class__ is list:
            return inner  # type: ignore[no-any-return]
        if inner.__class__ is dict:
            return [inner]
    return normalise.from_container(value, child) if value else []


def item_facts(raw: Mapping[str, Any]) -> ItemFacts:
    """An item record as the API returns it (``load_relations`` ItemShops and Prices).
    Written for speed: the API's own shape (string scalars, wrapped containers) first, any
    other through :func:`_any_item_facts` (the quirks, via
    :mod:`~plugins.lightspeed_rseries.normalise`)."""
    try:
        return _api_item_facts(raw)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation):
        return _any_item_facts(raw)


def _api_item_facts(raw: Mapping[str, Any]) -> ItemFacts:
    """An item exactly as the API sends it; raises on anything else."""
    prices = raw["Prices"]["ItemPrice"]
    by_id: dict[int, Decimal] = {}
    by_name: dict[str, Decimal] = {}
    for price in (prices,) if prices.__class__ is dict else prices:
        amount = Decimal(price["amount"])
        type_id = int(price["useTypeID"])
        if type_id:
            by_id[type_id] = amount
        name = price.get("useType")
        if name:
            by_name[name.strip().lower()] = amount
    rows = raw["ItemShops"]["ItemShop"]
    shops = []
    for row in (rows,) if rows.__class__ is dict else rows:
        shop_id = int(row["shopID"])
        if shop_id:  # 0 is the all-shops summary row
            shops.append(
                (
                    shop_id,
                    int(row["qoh"]),
                    int(row["backorder"]),
                    int(row["reorderPoint"]),
                    int(row["reorderLevel"]),
                )
            )
    get = raw.get
    archived = get("archived")
    return ItemFacts(
        int(raw["itemID"]),
        get("systemSku", "").strip(),
        get("customSku", "").strip(),
        get("upc", "").strip(),
        get("ean", "").strip(),
        get("manufacturerSku", "").strip(),
        get("description", "").strip(),
        archived == "true" or archived is True,
        int(get("manufacturerID", 0)),
        get("timeStamp", "").strip(),
        by_id,
        by_name,
        tuple(shops),
    )


def _any_item_facts(raw: Mapping[str, Any]) -> ItemFacts:
    """:func:`item_facts` of any shape the API or a hand-built record may take."""
    get = raw.get
    by_id: dict[int, Decimal] = {}
    by_name: dict[str, Decimal] = {}
    value = get("Prices")
    inner = value.get("ItemPrice") if value.__class__ is dict else None
    if inner.__class__ is dict:
        prices = [inner]
    elif inner.__class__ is list:
        prices = inner
    else:
        prices = _rows(value, "ItemPrice")
    for price in prices:
        text = price.get("amount")
        try:
            amount = Decimal(text) if text.__class__ is str else normalise.to_decimal(text)
        except (InvalidOperation, ValueError):
            continue
        if amount.__class__ is not Decimal:
            continue
        type_id = price.get("useTypeID")
        type_id = (
            _int(type_id) if type_id.__class__ is not str or not type_id.isdigit() else int(type_id)
        )
        if type_id:
            by_id[type_id] = amount
        name = price.get("useType")
        if name:
            by_name[(name if name.__class__ is str else str(name)).strip().lower()] = amount
    shops: list[ShopStock] = []
    value = get("ItemShops")
    inner = value.get("ItemShop") if value.__class__ is dict else None
    rows: list[Any] = inner if inner.__class__ is list else _rows(value, "ItemShop")
    for row in rows:
        rget = row.get
        try:
            shop_id = int(rget("shopID"))  # the API's "7" strings
            if not shop_id:
                continue  # 0 is the all-shops summary row
            point = rget("reorderPoint")
            level = rget("reorderLevel")
            shops.append(
                (
                    shop_id,
                    int(rget("qoh")),
                    int(rget("backorder")),
                    int(point) if point.__class__ is str else _int(point),
                    int(level) if level.__class__ is str else _int(level),
                )
            )
        except (TypeError, ValueError):
            stock = _shop_stock(row)
            if stock[SHOP]:
                shops.append(stock)
    item_id = get("itemID")
    maker = get("manufacturerID")
    archived = get("archived")
    # The text fields, stripped (inline: six per item).
    system_sku = get("systemSku")
    custom_sku = get("customSku")
    upc = get("upc")
    ean = get("ean")
    mpn = get("manufacturerSku")
    description = get("description")
    stamp = get("timeStamp")
    return ItemFacts(
        int(item_id) if item_id.__class__ is str and item_id.isdigit() else _int(item_id),
        system_sku.strip() if system_sku.__class__ is str else _text(system_sku),
        custom_sku.strip() if custom_sku.__class__ is str else _text(custom_sku),
        upc.strip() if upc.__class__ is str else _text(upc),
        ean.strip() if ean.__class__ is str else _text(ean),
        mpn.strip() if mpn.__class__ is str else _text(mpn),
        description.strip() if description.__class__ is str else _text(description),
        archived == "true" or archived is True,
        int(maker) if maker.__class__ is str and maker.isdigit() else _int(maker),
        stamp.strip() if stamp.__class__ is str else _text(stamp),
        by_id,
        by_name,
        tuple(shops),
    )


def _shop_stock(row: Any) -> ShopStock:
    """One ItemShop row of an uncommon shape (numbers that are not plain digit strings)."""
    values = (row.get("shopID"), row.get("qoh"), row.get("backorder"))
    try:
        shop_id, qoh, backorder = (int(v) for v in values)
    except (TypeError, ValueError):
        shop_id, qoh, backorder = (_int(v) for v in values)
    return (
        shop_id,
        qoh,
        backorder,
        _int(row.get("reorderPoint")),
        _int(row.get("reorderLevel")),
    )


def stock_at(item: ItemFacts, shop_id: int) -> ShopStock | None:
    """The item's stock at ``shop_id`` (its last ItemShop row there), or None without one."""
    for stock in reversed(item.shops):
        if stock[SHOP] == shop_id:
            return stock
    return None


def stocks_at(item: ItemFacts, shop_ids: Iterable[int]) -> list[ShopStock | None]:
    """:func:`stock_at` of each of ``shop_ids``, in their order."""
    shops = item.shops
    if len(shops) < 2:
        return [shops[0] if shops and shops[0][SHOP] == shop else None for shop in shop_ids]
    last = {stock[SHOP]: stock for stock in shops}  # the last row of a shop wins
    return [last.get(shop) for shop in shop_ids]


def stocks_pass(
    stocks: Iterable[ShopStock | None], *, on_hand: bool, on_order: bool, reorder_levels: bool
) -> bool:
    """The import settings: any enabled condition at any mapped shop, given the item's stocks
    there (:func:`stocks_at`)."""
    for stock in stocks:
        if stock is None:
            continue
        if on_hand and stock[QOH] > 0:
            return True
        if on_order and stock[BACKORDER] > 0:
            return True
        if reorder_levels and (stock[REORDER_POINT] > 0 or stock[REORDER_LEVEL] > 0):
            return True
    return False


def base_price(item: ItemFacts, level: str) -> Decimal | None:
    """The item's price at the base level (``Default`` or ``MSRP``, Lightspeed's built-in
    levels 1 and 2), or None when it has none (a zero amount is no price)."""
    amount = item.prices_by_name.get(level.lower())
    if amount is None:
        amount = item.prices_by_id.get({"default": 1, "msrp": 2}[level.lower()])
    return amount if amount is not None and amount > 0 else None


def missing_requirement(item: ItemFacts, base_level: str) -> str | None:
    """The first requirement the item misses (a pending reason), or None."""
    if not item.upc and not item.ean:
        return NO_UPC_OR_EAN
    if not item.mpn:
        return NO_MANUFACTURER_SKU
    if base_price(item, base_level) is None:
        return NO_PRICE_AT_LEVEL
    return None


def inventory_record(item: ItemFacts, brand: str) -> InventoryRecord:
    """The item for the core's apply engine: its identifiers (matched UPC, then EAN, then
    MPN + ``brand``) and its id as the ref; the quantity of each shop is
    :func:`quantity_of`, passed beside it (one record per item, for every location)."""
    # Positional (key, quantity, catalog, brand, sale_price, lead_time_days, ref, upc, ean,
    # mpn): a full pass builds one per item.
    return InventoryRecord(
        item.upc or item.ean or item.mpn,
        0,
        "",
        brand,
        None,
        None,
        str(item.item_id),
        item.upc,
        item.ean,
        item.mpn,
    )


def quantity_of(stock: ShopStock | None) -> int:
    """The item's quantity at one shop from its stock there (:func:`stock_at`): its qoh,
    never below 0; 0 without an ItemShop row. (An item that left the filters or was
    archived goes to 0 everywhere instead.)"""
    return 0 if stock is None or stock[QOH] < 0 else stock[QOH]


def pos_prices(
    item: ItemFacts, regular_level: int, sale_level: int | None
) -> tuple[Decimal | None, Decimal | None]:
    """(price, sale_price) from the chosen levels (by id); None where the item has none."""
    regular = item.prices_by_id.get(regular_level)
    sale = item.prices_by_id.get(sale_level) if sale_level is not None else None
    return (
        regular.quantize(CENT) if regular is not None else None,
        sale.quantize(CENT) if sale is not None and sale > 0 else None,
    )


# -- the sale ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LineChoice:
    """How an order line is sold in Lightspeed: the item, and a note when it is the
    placeholder."""

    line_no: int
    item_id: int
    quantity: int
    unit_price: Decimal
    note: str = ""


def sale_lines(
    order: OrderView,
    items: Mapping[int, int],
    *,
    placeholder_item_id: int | None,
    shipping_item_id: int | None,
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """The sale's lines for ``order``: ``items`` maps each line number to a Lightspeed
    itemID (found by binding or lookup); lines without one go on the placeholder item.
    Returns (SaleLine payloads, notes for the order, or a refusal sentence)."""
    lines: list[dict[str, Any]] = []
    notes: list[str] = []
    for line in order.lines:
        quantity = line.quantity - line.canceled_quantity
        if quantity <= 0:
            continue
        item_id = items.get(line.line_no)
        if item_id is None:
            if placeholder_item_id is None:
                return (
                    [],
                    [],
                    (
                        f"No Lightspeed item matches line {line.line_no} (SKU {line.sku}) and no "
                        "placeholder item is configured"
                    ),
                )
            item_id = placeholder_item_id
            notes.append(
                f"Line {line.line_no} (SKU {line.sku}) was exported on the placeholder item "
                f"{placeholder_item_id}: no Lightspeed item matches it"
            )
        lines.append(
            {"itemID": item_id, "unitQuantity": quantity, "unitPrice": _number(line.unit_price)}
        )
    if order.shipping_cost > 0:
        if shipping_item_id is None:
            return (
                [],
                [],
                (
                    f"The order has shipping of {order.shipping_cost} and no shipping item is "
                    "configured (shipping_item_id)"
                ),
            )
        lines.append(
            {
                "itemID": shipping_item_id,
                "unitQuantity": 1,
                "unitPrice": _number(order.shipping_cost),
            }
        )
    return lines, notes, None


def sale_payments(
    payments: Sequence[Mapping[str, Any]],
    total: Decimal,
    type_for: Any,
) -> tuple[list[dict[str, Any]], str | None]:
    """SalePayments of exactly ``total`` (Lightspeed's total): the order's captured payments
    mapped to paymentTypeIDs by ``type_for(method)``, the last one adjusted by the tax
    difference (within the tolerance, checked before). Returns (payloads, refusal)."""
    captured = [p for p in payments if p.get("captured", True)]
    if not captured:
        return [], "The order has no captured payment"
    out: list[dict[str, Any]] = []
    for payment in captured:
        type_id = type_for(str(payment.get("method") or ""))
        if type_id is None:
            return [], (
                f"No Lightspeed payment type for the webstore method {payment.get('method')!r} "
                "(payment_type_map, default_payment_type_id)"
            )
        out.append({"paymentTypeID": type_id, "amount": Decimal(str(payment.get("amount")))})
    paid = sum((p["amount"] for p in out), Decimal("0"))
    out[-1]["amount"] += total - paid
    return [{**p, "amount": _number(p["amount"].quantize(CENT))} for p in out], None


def _number(value: Decimal) -> float | int:
    return normalise.number_for_json(value.quantize(CENT))
