"""The actions of ``lightspeed_retail``: what the integrator picks from when saving the
settings (shops, price levels, employees, registers, payment types) and the pending
mappings report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.plugin import ActionResult, Invalid, PluginContext, Refused, report_csv
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.connection import open_connection
from plugins.lightspeed_rseries.errors import RSeriesAPIError, RSeriesError

from .config import RetailConfig
from .mapping import REASONS

__all__ = ["PENDING_HEADER", "run_action"]

PENDING_HEADER = (
    "item_id",
    "reason",
    "explanation",
    "item",
    "description",
    "upc",
    "ean",
    "manufacturer_sku",
    "brand",
    "matched_skus",
    "seen_at",
)
MAX_PAGE = 500


def run_action(ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
    if action == "pending-mappings":
        return _pending(ctx, params)
    readers: dict[str, Callable[[RSeriesClient, RetailConfig], Any]] = {
        "shops": _shops,
        "price-levels": _price_levels,
        "employees": _employees,
        "registers": _registers,
        "payment-types": _payment_types,
    }
    reader = readers.get(action)
    if reader is None:  # the manifest declares no other action
        raise Invalid(f"unknown action {action!r}")
    config = ctx.config
    assert isinstance(config, RetailConfig)
    try:
        with open_connection(ctx, max_attempts=3) as connection:
            return ActionResult(data=reader(connection.client, config))
    except RSeriesAPIError as exc:
        raise Refused(f"Lightspeed refused the request ({exc.status}: {exc.message})") from None
    except RSeriesError as exc:
        raise Refused(f"Lightspeed could not be reached ({exc})") from None


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _shops(client: RSeriesClient, config: RetailConfig) -> list[dict[str, Any]]:
    mapped = config.location_of_shop()
    return [
        {
            "shop_id": int(shop["shopID"]),
            "name": shop.get("name") or "",
            "time_zone": shop.get("timeZone") or "",
            "location": mapped.get(int(shop["shopID"])),
        }
        for shop in client.iterate("Shop", {"archived": "false"})
    ]


def _price_levels(client: RSeriesClient, config: RetailConfig) -> list[dict[str, Any]]:
    chosen = {config.regular_price_level: "regular", config.sale_price_level: "sale"}
    return [
        {
            "price_level_id": int(level["priceLevelID"]),
            "name": level.get("name") or "",
            "type": level.get("type") or "",
            "used_as": chosen.get(int(level["priceLevelID"])),
        }
        for level in client.iterate("PriceLevel")
        if not _flag(level.get("archived"))
    ]


def _employees(client: RSeriesClient, config: RetailConfig) -> list[dict[str, Any]]:
    return [
        {
            "employee_id": int(e["employeeID"]),
            "name": f"{e.get('firstName') or ''} {e.get('lastName') or ''}".strip(),
            "chosen": int(e["employeeID"]) == config.export_employee_id,
        }
        for e in client.iterate("Employee", {"archived": "false"})
        if not _flag(e.get("lockOut"))
    ]


def _registers(client: RSeriesClient, config: RetailConfig) -> list[dict[str, Any]]:
    return [
        {
            "register_id": int(r["registerID"]),
            "name": r.get("name") or "",
            "shop_id": int(r.get("shopID") or 0),
            "chosen": int(r["registerID"]) == config.export_register_id,
        }
        for r in client.iterate("Register", {"archived": "false"})
    ]


def _payment_types(client: RSeriesClient, config: RetailConfig) -> list[dict[str, Any]]:
    used = {type_id: method for method, type_id in config.payment_type_map.items()}
    return [
        {
            "payment_type_id": int(t["paymentTypeID"]),
            "name": t.get("name") or "",
            "type": t.get("type") or "",
            "mapped_from": used.get(int(t["paymentTypeID"])),
        }
        for t in client.iterate("PaymentType")
    ]


def _row(row: dict[str, Any]) -> dict[str, Any]:
    details = row["details"]
    return {
        "item_id": row["vendor_id"],
        "reason": row["reason"],
        "explanation": REASONS.get(row["reason"], ""),
        "item": row["ref"],
        "description": details.get("description", ""),
        "upc": details.get("upc", ""),
        "ean": details.get("ean", ""),
        "manufacturer_sku": details.get("manufacturer_sku", ""),
        "brand": details.get("brand", ""),
        "matched_skus": details.get("matched_skus", ""),
        "seen_at": row["seen_at"].isoformat() if row["seen_at"] else "",
    }


def _pending(ctx: PluginContext, params: dict[str, Any]) -> ActionResult:
    """JSON: one page (``cursor``, ``limit``, ``reason``) with ``total`` and ``next_cursor``;
    CSV: every row (with ``reason``, those only)."""
    try:
        limit = int(params.get("limit") or 100)
        cursor = int(params["cursor"]) if params.get("cursor") not in (None, "") else None
    except (TypeError, ValueError):
        raise Invalid(
            "cursor and limit are whole numbers",
            fields={"params.limit": "1-500", "params.cursor": "a next_cursor"},
        ) from None
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit is 1-{MAX_PAGE}", fields={"params.limit": f"1-{MAX_PAGE}"})
    reason = str(params.get("reason") or "")
    if reason and reason not in REASONS:
        raise Invalid(
            f"unknown reason {reason!r}", fields={"params.reason": ", ".join(sorted(REASONS))}
        )

    chosen = reason or None
    page = ctx.pending_page(after_id=cursor, limit=limit + 1, reason=chosen)
    items = [_row(row) for _, row in page[:limit]]
    more = len(page) > limit

    def everything() -> str:
        """Every pending row (of ``reason``), read in pages: built only for ``format=csv``."""
        rows: list[list[Any]] = []
        last: int | None = None
        while batch := ctx.pending_page(after_id=last, limit=1000, reason=chosen):
            rows.extend([_row(row)[k] for k in PENDING_HEADER] for _, row in batch)
            last = batch[-1][0]
        return report_csv(PENDING_HEADER, rows)

    return ActionResult(
        data={
            "items": items,
            "total": ctx.pending_count(reason=chosen),
            "next_cursor": str(page[limit - 1][0]) if more else None,
        },
        csv=everything,
    )
