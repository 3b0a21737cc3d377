"""Hub records → DMS documents and 3PA parts → hub inventory records (pure functions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hub.plugin import InventoryRecord, OrderView
from plugins.lightspeed_dms.config import DmsConfig, SupplierCode
from plugins.lightspeed_dms.weborders import (
    DmsCancellation,
    DmsCustomer,
    DmsOrderItem,
    DmsPayment,
    DmsWebOrder,
)
from plugins.lightspeed_dms.weborders.mapping import (
    guest_customer_id,
    map_payment_type,
    upper_customer,
)

__all__ = ["part_to_record", "to_dms_cancellation", "to_dms_order"]


def _customer(kind: str, address: dict[str, Any], customer_id: str) -> DmsCustomer:
    return DmsCustomer(
        type=kind,
        customer_id=customer_id,
        first_name=address.get("first_name", ""),
        last_name=address.get("last_name", ""),
        company_name=address.get("company", ""),
        address1=address.get("address1", ""),
        address2=address.get("address2", ""),
        city=address.get("city", ""),
        state=address.get("state", ""),
        county=address.get("county", ""),
        country=address.get("country", ""),
        zip_code=address.get("postal_code", ""),
        phone=address.get("phone", ""),
        email=address.get("email", ""),
    )


def to_dms_order(order: OrderView, config: DmsConfig) -> DmsWebOrder:
    """An order as the DMS downloads it (``webOrder``)."""
    email = order.billing.get("email") or order.shipping.get("email") or ""
    customer_id = order.customer_id or (guest_customer_id(email) if email else f"G{order.id}")
    customers = [
        _customer("BILLING", order.billing, customer_id),
        _customer("SHIPPING", order.shipping, customer_id),
    ]
    if config.uppercase_customer_fields:
        customers = [upper_customer(c) for c in customers]
    items = []
    for line in order.lines:
        code = config.supplier_code_for(line.catalog, line.brand)
        items.append(
            DmsOrderItem(
                item_id=str(line.id),
                manufacturer_id=code.supplier_code if code else config.default_supplier_code,
                manufacturer_name=code.brand if code else (line.brand or line.manufacturer),
                item_number=line.part_number or line.sku,
                description=line.description,
                quantity=line.quantity - line.canceled_quantity,
                amount=line.unit_price,
            )
        )
    payments = [
        DmsPayment(
            type=map_payment_type(p.get("method", ""), config.payment_type_map),
            amount=Decimal(str(p.get("amount", "0"))),
        )
        for p in order.payments
    ]
    return DmsWebOrder(
        order_id=order.number,
        date=order.placed_at,
        shipping_cost=order.shipping_cost,
        shipping_vendor=order.shipping_carrier,
        shipping_method=order.shipping_method,
        comment=order.comment,
        tax_rule_id=config.tax_rule_id,
        tax_amount=order.tax,
        customers=tuple(customers),
        payments=tuple(payments),
        items=tuple(items),
    )


def to_dms_cancellation(order: OrderView) -> DmsCancellation:
    assert order.canceled_at is not None
    return DmsCancellation(
        order_id=order.number, date=order.canceled_at, comment=order.cancel_reason
    )


def part_to_record(part: Any, code: SupplierCode, quantity_column: str) -> InventoryRecord:
    """A 3PA part as an inventory record for the code's catalog and brand."""
    quantity = part.on_hand if quantity_column == "on_hand" else part.available
    price = None
    if code.pricing == "retail":
        price = part.retail
    elif code.pricing == "current_active":
        price = part.current_active_price
    return InventoryRecord(
        key=part.part_number or "",
        quantity=max(int(quantity or 0), 0),
        catalog=code.catalog,
        brand=code.brand,
        sale_price=Decimal(price) if price is not None else None,
        lead_time_days=code.lead_time_days,
        ref=f"{code.supplier_code} {part.part_number}",
    )
