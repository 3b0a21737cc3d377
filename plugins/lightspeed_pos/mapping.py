"""Pure functions: Lightspeed sales → hub orders and stock movements, hub stock and prices →
Lightspeed item writes. No I/O here; the jobs feed these what they read.

Rules decided here (the one place each lives):

- **Order number** ``LS-{saleID}``, channel ``local_store``.
- **Line matching**: the item's binding, then the item's ``customSku`` equal to a hub SKU,
  then its UPC; an unmatched line keeps sku ``UNKNOWN`` and the item's description.
- **Returns**: a negative ``unitQuantity`` is a returned item. The hub order line carries the
  positive quantity at the negated price (so the order's total is Lightspeed's), a
  description starting with :data:`RETURN_PREFIX`, and the returns warehouse as its
  location; its stock goes back into that warehouse.
- **Deductions**: a sold line takes from the sale's shop's warehouses in their mapped order,
  the first warehouse with stock first; what no warehouse has is taken from the first one
  (it goes below zero) and reported as a shortfall. A line may be split over warehouses:
  one order line per warehouse, each with its location.
- **Totals**: the order's total is the sale's; what the lines do not explain (tax, discounts)
  is the order's ``tax``.
- **Stock out**: per shop, the sum of its warehouses' quantities (never below zero);
  only values that differ from the listing's last pushed ones are sent, all changed shops
  of one item in one ``PUT Item``.
- **UPC / EAN**: 11–14 digits on R-Series; any other value is left out of a create and
  reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from hub.plugin import AddressIn, OrderIn, OrderView

__all__ = [
    "CHANNEL",
    "RETURN_PREFIX",
    "UNKNOWN_SKU",
    "Allocation",
    "MatchedLine",
    "SaleLineIn",
    "allocate",
    "build_order",
    "changed_prices",
    "changed_shop_quantities",
    "company_address",
    "item_create_payload",
    "movements_of_lines",
    "movements_of_order",
    "order_number",
    "sale_id_of_number",
    "shop_quantities",
    "valid_barcode",
]

CHANNEL = "local_store"
UNKNOWN_SKU = "UNKNOWN"
RETURN_PREFIX = "Return: "
NUMBER_PREFIX = "LS-"
CENT = Decimal("0.01")
_BARCODE = re.compile(r"^[0-9]{11,14}$")


def order_number(sale_id: int) -> str:
    """The hub order number of a Lightspeed sale."""
    return f"{NUMBER_PREFIX}{sale_id}"


def sale_id_of_number(number: str) -> int | None:
    """The saleID of an ``LS-…`` order number, else None."""
    if number.startswith(NUMBER_PREFIX) and number[len(NUMBER_PREFIX) :].isdigit():
        return int(number[len(NUMBER_PREFIX) :])
    return None


# -- sales in ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaleLineIn:
    """A sale line with what Lightspeed knows of its item (``custom_sku``/``upc`` when the
    item was read)."""

    item_id: int | None
    quantity: int
    unit_price: Decimal
    description: str = ""
    custom_sku: str | None = None
    upc: str | None = None


@dataclass(frozen=True, slots=True)
class ProductRef:
    """The hub product a line matched."""

    product_id: int
    sku: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class MatchedLine:
    """A sale line and the product it matched (None: ``UNKNOWN``), with how it matched."""

    line: SaleLineIn
    product: ProductRef | None
    matched_by: str  # binding | custom_sku | upc | "" (unknown)

    @property
    def sku(self) -> str:
        return self.product.sku if self.product is not None else UNKNOWN_SKU

    @property
    def is_return(self) -> bool:
        return self.line.quantity < 0


def match_lines(
    lines: Sequence[SaleLineIn],
    *,
    bound: Mapping[int, ProductRef],
    by_sku: Mapping[str, ProductRef],
    by_upc: Mapping[str, ProductRef],
) -> list[MatchedLine]:
    """Match each line: binding (item id → product), then customSku = SKU, then UPC."""
    matched: list[MatchedLine] = []
    for line in lines:
        product: ProductRef | None = None
        how = ""
        if line.item_id is not None and line.item_id in bound:
            product, how = bound[line.item_id], "binding"
        elif line.custom_sku and line.custom_sku in by_sku:
            product, how = by_sku[line.custom_sku], "custom_sku"
        elif line.upc and line.upc in by_upc:
            product, how = by_upc[line.upc], "upc"
        matched.append(MatchedLine(line, product, how))
    return matched


@dataclass(slots=True)
class Allocation:
    """Where one line's quantity is taken from: ``(warehouse, quantity)`` parts, and what
    no warehouse had (taken from the first one all the same)."""

    parts: list[tuple[str, int]] = field(default_factory=list)
    shortfall: int = 0


def allocate(quantity: int, warehouses: Sequence[str], stock: dict[str, int]) -> Allocation:
    """Take ``quantity`` from ``warehouses`` in order, first warehouse with stock first;
    the rest from the first warehouse. ``stock`` (code → on hand) is lowered in place, so
    the lines and sales that follow see what this one took."""
    result = Allocation()
    if quantity <= 0 or not warehouses:
        return result
    remaining = quantity
    taken: dict[str, int] = {}
    for code in warehouses:
        available = stock.get(code, 0)
        if available <= 0 or remaining <= 0:
            continue
        take = min(available, remaining)
        taken[code] = taken.get(code, 0) + take
        remaining -= take
    if remaining > 0:
        taken[warehouses[0]] = taken.get(warehouses[0], 0) + remaining
        result.shortfall = remaining
    for code in warehouses:  # in mapped order
        if code in taken:
            result.parts.append((code, taken[code]))
            stock[code] = stock.get(code, 0) - taken[code]
    return result


_ADDRESS_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "address1",
    "address2",
    "city",
    "state",
    "county",
    "postal_code",
    "country",
    "phone",
    "email",
)


def company_address(company: Mapping[str, Any], company_name: str) -> AddressIn:
    """The tenant's company address as an order address (the company name when the
    address names none)."""
    values = {k: str(company.get(k) or "") for k in _ADDRESS_FIELDS}
    aliases = {"zip": "postal_code", "line1": "address1", "line2": "address2"}
    for alias, name in aliases.items():
        if not values[name] and company.get(alias):
            values[name] = str(company[alias])
    if not values["company"]:
        values["company"] = company_name
    values["country"] = values["country"][:2].upper()
    return AddressIn(**values)


def customer_address(customer: Mapping[str, Any] | None) -> AddressIn:
    """A Lightspeed customer (as loaded with the sale: names, ``Contact``) as an address."""
    if not customer:
        return AddressIn()
    contact = customer.get("Contact") or {}
    if not isinstance(contact, Mapping):
        contact = {}

    def first(container: Any, child: str) -> Mapping[str, Any]:
        if isinstance(container, Mapping):
            container = container.get(child, container)
        if isinstance(container, list):
            container = container[0] if container else {}
        return container if isinstance(container, Mapping) else {}

    address = first(contact.get("Addresses"), "ContactAddress")
    email = first(contact.get("Emails"), "ContactEmail")
    phone = first(contact.get("Phones"), "ContactPhone")
    return AddressIn(
        first_name=str(customer.get("firstName") or "")[:200],
        last_name=str(customer.get("lastName") or "")[:200],
        company=str(customer.get("company") or "")[:200],
        address1=str(address.get("address1") or "")[:200],
        address2=str(address.get("address2") or "")[:200],
        city=str(address.get("city") or "")[:200],
        state=str(address.get("state") or "")[:200],
        postal_code=str(address.get("zip") or "")[:32],
        country=str(address.get("country") or "")[:2].upper(),
        phone=str(phone.get("number") or "")[:64],
        email=str(email.get("address") or "")[:200],
    )


@dataclass(slots=True)
class BuiltOrder:
    """A sale as a hub order, with what the run reports about it."""

    order: OrderIn
    matched: int
    unknown: list[MatchedLine]
    deducted: dict[str, int]
    returned: dict[str, int]
    shortfalls: list[str]
    no_payments: bool


def build_order(
    *,
    sale_id: int,
    placed_at: datetime,
    total: Decimal,
    lines: Sequence[MatchedLine],
    payments: Iterable[tuple[str, Decimal]],
    warehouses: Sequence[str],
    returns_warehouse: str,
    stock: dict[str, dict[str, int]] | None = None,
    billing: AddressIn | None = None,
    shipping: AddressIn | None = None,
    customer_id: str = "",
    comment: str = "",
    currency: str = "USD",
) -> BuiltOrder:
    """The hub order of one Lightspeed sale (see the module's rules).

    :param stock: product id (as text) → warehouse → on hand, lowered in place as lines are
        allocated (so the sales of one page see each other).
    """
    stock = stock if stock is not None else {}
    # The lines as fields, validated once, by the order: a LineIn built here would be
    # checked again inside the OrderIn.
    out: list[dict[str, Any]] = []
    deducted: dict[str, int] = {}
    returned: dict[str, int] = {}
    shortfalls: list[str] = []
    unknown: list[MatchedLine] = []
    matched = 0
    for m in lines:
        quantity = m.line.quantity
        if quantity == 0:
            continue
        description = (m.line.description or (m.product.title if m.product else ""))[:480]
        price = m.line.unit_price.quantize(CENT)
        if m.product is None:
            unknown.append(m)
        else:
            matched += 1
        if m.is_return:
            out.append(
                {
                    "sku": m.sku,
                    "quantity": -quantity,
                    "unit_price": -price,
                    "description": f"{RETURN_PREFIX}{description}",
                    "location": returns_warehouse if m.product is not None else "",
                }
            )
            if m.product is not None and returns_warehouse:
                returned[returns_warehouse] = returned.get(returns_warehouse, 0) - quantity
            continue
        if m.product is None or not warehouses:
            out.append(
                {
                    "sku": m.sku,
                    "quantity": quantity,
                    "unit_price": price,
                    "description": description,
                }
            )
            continue
        on_hand = stock.setdefault(str(m.product.product_id), {})
        allocation = allocate(quantity, warehouses, on_hand)
        if allocation.shortfall:
            shortfalls.append(
                f"{m.sku}: {allocation.shortfall} more than the shop's warehouses hold, "
                f"taken from {warehouses[0]}"
            )
        for code, part in allocation.parts:
            out.append(
                {
                    "sku": m.sku,
                    "quantity": part,
                    "unit_price": price,
                    "description": description,
                    "location": code,
                }
            )
            deducted[code] = deducted.get(code, 0) + part
    if not out:
        raise ValueError(f"sale {sale_id} has no line with a quantity")
    lines_total = sum((line["unit_price"] * line["quantity"] for line in out), Decimal(0))
    total = total.quantize(CENT)
    paid = [(method, amount.quantize(CENT)) for method, amount in payments]
    order = OrderIn.model_validate(
        {
            "number": order_number(sale_id),
            "placed_at": placed_at,
            "currency": currency,
            "customer_id": customer_id,
            "billing": billing if billing is not None else {},
            "shipping": shipping if shipping is not None else {},
            "payments": [
                {"method": method, "amount": amount, "captured": True} for method, amount in paid
            ],
            "lines": out,
            "tax": (total - lines_total).quantize(CENT),
            "total": total,
            "comment": comment[:4000],
            "channel": CHANNEL,
        }
    )
    return BuiltOrder(
        order=order,
        matched=matched,
        unknown=unknown,
        deducted=deducted,
        returned=returned,
        shortfalls=shortfalls,
        no_payments=not paid,
    )


def movements_of_order(view: OrderView) -> list[tuple[int, str, int]]:
    """The stock movements a stored POS order stands for — ``(product id, location,
    delta)``: each matched line with a location takes its quantity from there, a return
    line (:data:`RETURN_PREFIX`) puts it back. Derived from the stored order, so a retried
    import books exactly what the order says, whatever the stock is now."""
    moves: list[tuple[int, str, int]] = []
    for line in view.lines:
        if line.product_id is None or not line.location_code:
            continue
        sign = 1 if line.description.startswith(RETURN_PREFIX) else -1
        moves.append((line.product_id, line.location_code, sign * line.quantity))
    return moves


def movements_of_lines(
    order: OrderIn, product_ids: Mapping[str, int]
) -> tuple[tuple[int, str, int], ...]:
    """:func:`movements_of_order` for an order about to be stored (SKU → product id)."""
    moves: list[tuple[int, str, int]] = []
    for line in order.lines:
        product_id = product_ids.get(line.sku)
        if product_id is None or not line.location:
            continue
        sign = 1 if line.description.startswith(RETURN_PREFIX) else -1
        moves.append((product_id, line.location, sign * line.quantity))
    return tuple(moves)


# -- stock and prices out -------------------------------------------------------------------


def shop_quantities(stock: Mapping[str, int], shops: Mapping[int, Sequence[str]]) -> dict[int, int]:
    """Per shop, the sum of its warehouses' quantities (never below zero)."""
    return {
        shop_id: max(0, sum(stock.get(code, 0) for code in codes))
        for shop_id, codes in shops.items()
    }


def changed_shop_quantities(
    wanted: Mapping[int, int], last_pushed: Mapping[str, Any] | None
) -> dict[int, int]:
    """The shops whose quantity differs from what was last pushed (``{"1": 4, …}``)."""
    pushed = last_pushed or {}
    return {
        shop_id: qty for shop_id, qty in sorted(wanted.items()) if pushed.get(str(shop_id)) != qty
    }


def item_shops_payload(quantities: Mapping[int, int]) -> dict[str, Any]:
    """``PUT Item`` body setting ``qoh`` of several shops in one request."""
    return {
        "ItemShops": {
            "ItemShop": [
                {"shopID": shop_id, "qoh": qty} for shop_id, qty in sorted(quantities.items())
            ]
        }
    }


def money_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def changed_prices(
    price: Decimal | None,
    cost: Decimal | None,
    last_pushed: Mapping[str, Any],
    *,
    price_upload: bool,
    cost_upload: bool,
) -> dict[str, str]:
    """``{"price": "…", "cost": "…"}`` for the values to send: enabled, known, and different
    from what was last pushed."""
    changed: dict[str, str] = {}
    if price_upload and price is not None and last_pushed.get("price") != money_text(price):
        changed["price"] = money_text(price) or ""
    if cost_upload and cost is not None and last_pushed.get("cost") != money_text(cost):
        changed["cost"] = money_text(cost) or ""
    return changed


def price_payload(changed: Mapping[str, str]) -> dict[str, Any]:
    """``PUT Item`` body for changed price (Default level) and cost."""
    body: dict[str, Any] = {}
    if "cost" in changed:
        body["defaultCost"] = _number(changed["cost"])
    if "price" in changed:
        body["Prices"] = {
            "ItemPrice": [
                {"amount": _number(changed["price"]), "useTypeID": 1, "useType": "Default"}
            ]
        }
    return body


def _number(text: str) -> int | float:
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() else float(value)


def valid_barcode(value: str | None) -> bool:
    """UPC and EAN on R-Series: 11–14 digits."""
    return bool(value) and bool(_BARCODE.match(value or ""))


def item_create_payload(
    *,
    sku: str,
    title: str,
    upc: str | None,
    ean: str | None,
    mpn: str | None,
    price: Decimal | None,
    cost: Decimal | None,
) -> tuple[dict[str, Any], list[str]]:
    """``POST Item`` body for a hub product, and the problems reported (a UPC/EAN that is not
    11–14 digits is left out)."""
    body: dict[str, Any] = {"description": (title or sku)[:255], "customSku": sku}
    problems: list[str] = []
    for name, value in (("upc", upc), ("ean", ean)):
        if not value:
            continue
        if valid_barcode(value):
            body[name] = value
        else:
            problems.append(f"{name.upper()} {value!r} is not 11–14 digits: created without it")
    if mpn:
        body["manufacturerSku"] = mpn[:255]
    if cost is not None:
        body["defaultCost"] = _number(str(cost.quantize(CENT)))
    if price is not None:
        body["Prices"] = {
            "ItemPrice": [
                {"amount": _number(str(price.quantize(CENT))), "useTypeID": 1, "useType": "Default"}
            ]
        }
    return body, problems
