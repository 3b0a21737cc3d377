"""The order export (job ``order_export``): balanced webstore orders into Lightspeed as
completed sales, exactly once.

For each order on the install's export queue (oldest first, the whole queue):

1. **Balanced only.** ``balance_due`` must be 0 (captured payments = total); otherwise the
   export stays on the queue with the message ``Unbalanced`` (shown in the order list and
   detail). With ``export_when_fulfilled`` a paid order also waits, ``Waiting for
   fulfilment``, until every line is fulfilled (by a supplier or in store). Recording the
   payment or fulfilment that makes it exportable queues this job at once (the core).
2. **The shop** of the order's location mapping (the first line naming a location), else the
   first mapped store.
3. **Lines** by the item bound to each line's product (the import binds them); an unbound line
   is looked up by UPC, EAN, then customSku = the line's SKU; else it goes on the
   placeholder item (the sale still balances) with a note on the order. Shipping is a line on
   the shipping item. The customer is found by e-mail, else created.
4. **Export once.** The sale is claimed before it is created (``ctx.create_once``): a claim
   left by an attempt that timed out or died is resolved by looking the sale up by
   ``referenceNumber`` (the order number), never by creating a second one; the client also
   looks it up when a POST's answer is lost.
5. **The tax rule (decided).** The sale is created uncompleted, so Lightspeed computes its
   tax from the sale's tax category and the items' tax classes; its total is read back and,
   when within ``tax_tolerance`` of the order's total, the sale is completed with payments of
   exactly that total (mapped by ``payment_type_map``). Otherwise the export fails naming both
   totals; the uncompleted sale stays, and a retry completes that same sale once it balances
   (the retry sets the configured tax category on it first).
6. ``status_after_export`` is applied, then the export is acknowledged with the sale's id. A
   crash in between finds the sale completed on the next run and only acknowledges.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hub.plugin import (
    CreateRefused,
    JobContext,
    OrderView,
    Refused,
    TransientJobError,
)
from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.connection import open_connection
from plugins.lightspeed_rseries.errors import (
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesUnavailableError,
)
from plugins.lightspeed_rseries.normalise import to_bool, to_decimal

from .config import RetailConfig
from .importer import BINDING_KIND
from .mapping import sale_lines, sale_payments

__all__ = ["FULFILMENT", "UNBALANCED", "export_order", "run_export"]

UNBALANCED = "Unbalanced"
FULFILMENT = "Waiting for fulfilment"
SALE_RELATIONS = q.load_relations("SaleLines", "SalePayments")


class ExportFailed(Exception):
    """The export cannot succeed as things are (the sentence says why)."""


def run_export(ctx: JobContext) -> None:
    config = ctx.config
    assert isinstance(config, RetailConfig)
    try:
        connection = open_connection(ctx)
    except Refused as exc:
        ctx.failed(exc.detail)
        return
    unavailable: list[str] = []
    with connection:
        for batch in ctx.open_exports():
            for order in batch:
                try:
                    outcome = export_order(ctx, connection.client, config, order)
                except ReconnectNeeded as exc:
                    ctx.failed(f"the Lightspeed connection was lost: reconnect it ({exc})")
                    return
                except (RSeriesUnavailableError, TransientJobError) as exc:
                    # The claim (if any) stays: the next attempt looks the sale up.
                    unavailable.append(f"{order.number}: {exc}")
                    ctx.error(f"order {order.number}: Lightspeed could not be reached ({exc})")
                    continue
                ctx.count(outcome)
    if unavailable:
        raise TransientJobError(
            f"{len(unavailable)} order(s) could not be exported for now: {unavailable[0]}"
        )


def export_order(
    ctx: JobContext, client: RSeriesClient, config: RetailConfig, order: OrderView
) -> str:
    """Export one order (or say why it waits); returns what happened, as a count name."""
    if order.balance_due != 0:
        ctx.set_export_message(order.number, UNBALANCED)
        return "waiting_unbalanced"
    if config.export_when_fulfilled and not order.fulfilled:
        ctx.set_export_message(order.number, FULFILMENT)
        return "waiting_fulfilment"
    try:
        sale_id = _sale_for(ctx, client, config, order)
        sale = client.get("Sale", sale_id, {"load_relations": SALE_RELATIONS})
        if not _flag(sale.get("completed")):
            _complete(client, config, order, sale_id, sale)
    except ExportFailed as exc:
        ctx.fail_export(order.number, str(exc))
        ctx.error(f"order {order.number}: {exc}")
        return "failed"
    except RSeriesAPIError as exc:
        message = f"Lightspeed refused the sale ({exc.status}: {exc.message})"
        ctx.fail_export(order.number, message)
        ctx.error(f"order {order.number}: {message}")
        return "failed"
    if config.status_after_export != "no_change":
        ctx.set_order_status(order.number, config.status_after_export)
    ctx.acknowledge_export(
        order.number,
        external_ref=str(sale_id),
        notes=[("exported", f"Exported to Lightspeed Retail as completed sale {sale_id}")],
    )
    return "exported"


# -- the sale ----------------------------------------------------------------------------------


def _sale_for(
    ctx: JobContext, client: RSeriesClient, config: RetailConfig, order: OrderView
) -> int:
    """The Lightspeed sale of ``order``: bound already, found by its referenceNumber after an
    unfinished attempt, or created (uncompleted) now — at most once. Everything the sale
    needs (items, customer) is found before the claim: only the POST runs under it."""
    bound = ctx.vendor_id("sale", order.id)
    if bound is not None:
        return int(bound)
    payload, notes = _sale_payload(ctx, client, config, order)

    def lookup() -> str | None:
        found = client.find_sale_by_reference(order.number)
        return str(found["saleID"]) if found else None

    def create() -> str:
        try:
            created = client.create("Sale", payload)
        except RSeriesAPIError as exc:
            # A 4xx: Lightspeed created nothing, the claim is released.
            raise CreateRefused(
                f"Lightspeed refused the sale ({exc.status}: {exc.message})"
            ) from exc
        return str(created["saleID"])

    try:
        sale_id = ctx.create_once("sale", order.id, lookup=lookup, create=create)
    except CreateRefused as exc:
        raise ExportFailed(str(exc)) from None
    # Said when the sale is made (an export that then fails on the tax rule keeps them).
    for note in notes:
        ctx.add_order_note(order.number, note, code="placeholder")
    return int(sale_id)


def _sale_payload(
    ctx: JobContext, client: RSeriesClient, config: RetailConfig, order: OrderView
) -> tuple[dict[str, Any], list[str]]:
    items = _items_of_lines(ctx, client, order)
    lines, notes, refusal = sale_lines(
        order,
        items,
        placeholder_item_id=config.placeholder_item_id,
        shipping_item_id=config.shipping_item_id,
    )
    if refusal:
        raise ExportFailed(refusal)
    payload: dict[str, Any] = {
        "employeeID": config.export_employee_id,
        "registerID": config.export_register_id,
        "shopID": _shop_of(config, order),
        "customerID": _customer_of(ctx, client, order),
        "completed": False,
        "referenceNumber": order.number,
        "referenceNumberSource": "webstore",
        "SaleLines": {"SaleLine": lines},
    }
    if config.tax_category_id:
        payload["taxCategoryID"] = config.tax_category_id
    return payload, notes


def _complete(
    client: RSeriesClient,
    config: RetailConfig,
    order: OrderView,
    sale_id: int,
    sale: dict[str, Any],
) -> None:
    if _flag(sale.get("voided")) or _flag(sale.get("archived")):
        raise ExportFailed(f"the Lightspeed sale {sale_id} of this order was voided or archived")
    if config.tax_category_id and str(sale.get("taxCategoryID") or "0") != str(
        config.tax_category_id
    ):
        sale = client.update("Sale", sale_id, {"taxCategoryID": config.tax_category_id})
    total = to_decimal(sale.get("total"))
    assert isinstance(total, Decimal)
    difference = abs(total - order.total)
    if difference > config.tax_tolerance:
        raise ExportFailed(
            f"Lightspeed's total {total:.2f} differs from the order's total {order.total:.2f} "
            f"by {difference:.2f}, more than the tax tolerance {config.tax_tolerance:.2f}"
        )
    payments, refusal = sale_payments(order.payments, total, config.payment_type_for)
    if refusal:
        raise ExportFailed(refusal)
    body = {"completed": True, "SalePayments": {"SalePayment": payments}}
    try:
        client.update("Sale", sale_id, body)
    except (RSeriesAPIError, RSeriesUnavailableError):
        # The PUT may have been applied before its answer was lost (a retried PUT then adds
        # the payments twice and is refused): what Lightspeed holds decides.
        current = client.get("Sale", sale_id)
        if not _flag(current.get("completed")):
            raise


def _items_of_lines(ctx: JobContext, client: RSeriesClient, order: OrderView) -> dict[int, int]:
    """Line number → Lightspeed itemID: the binding of the line's product, else a lookup by
    UPC, EAN, then customSku (bound for next time)."""
    product_ids = [line.product_id for line in order.lines if line.product_id is not None]
    bound = ctx.vendor_ids(BINDING_KIND, product_ids)
    found: dict[int, int] = {}
    for line in order.lines:
        if line.product_id is not None and line.product_id in bound:
            found[line.line_no] = int(bound[line.product_id])
            continue
        for field, value in (("upc", line.upc), ("ean", line.ean), ("customSku", line.sku)):
            if not value:
                continue
            page = client.get("Item", params={field: value})
            if len(page.records) == 1:
                item_id = int(page.records[0]["itemID"])
                found[line.line_no] = item_id
                if line.product_id is not None:
                    ctx.bind(BINDING_KIND, line.product_id, str(item_id))
                break
    return found


def _shop_of(config: RetailConfig, order: OrderView) -> int:
    for line in order.lines:
        if line.location_code:
            shop = config.shop_of_location(line.location_code)
            if shop is not None:
                return shop
    return config.stores[0].shop_id


def _customer_of(ctx: JobContext, client: RSeriesClient, order: OrderView) -> int:
    """The customer by the billing e-mail, else created (once: claimed like the sale)."""
    billing = order.billing
    email = str(billing.get("email") or "").strip()

    def lookup() -> str | None:
        if not email:
            return None
        page = client.get(
            "Customer",
            params={"Contact.email": email, "load_relations": q.load_relations("Contact")},
        )
        return str(page.records[0]["customerID"]) if page.records else None

    found = lookup()
    if found is not None:
        return int(found)
    contact: dict[str, Any] = {}
    if email:
        contact["Emails"] = {"ContactEmail": [{"address": email, "useType": "Primary"}]}
    if billing.get("address1"):
        contact["Addresses"] = {
            "ContactAddress": [
                {
                    "address1": billing.get("address1", ""),
                    "address2": billing.get("address2", ""),
                    "city": billing.get("city", ""),
                    "state": billing.get("state", ""),
                    "zip": billing.get("postal_code", ""),
                    "country": billing.get("country", ""),
                }
            ]
        }
    payload = {
        "firstName": billing.get("first_name", ""),
        "lastName": billing.get("last_name", ""),
        "company": billing.get("company", ""),
        "Contact": contact,
    }

    def create() -> str:
        try:
            created = client.create(
                "Customer", payload, lookup=lambda: _customer_record(client, email)
            )
        except RSeriesAPIError as exc:
            raise CreateRefused(f"Lightspeed refused the customer ({exc.status})") from exc
        return str(created["customerID"])

    try:
        return int(ctx.create_once("order_customer", order.id, lookup=lookup, create=create))
    except CreateRefused as exc:
        raise ExportFailed(str(exc)) from None


def _customer_record(client: RSeriesClient, email: str) -> dict[str, Any] | None:
    if not email:
        return None
    page = client.get("Customer", params={"Contact.email": email})
    return page.records[0] if page.records else None


def _flag(value: Any) -> bool:
    try:
        return bool(to_bool(value))
    except ValueError:
        return False
