"""The install config of ``lightspeed_retail``: the seed's setup, import, pricing and export
settings, field by field.

| seed setting | field |
|---|---|
| Connect (Lightspeed credentials, Admin role) | the core's connect flow; the R-Series mixin's ``client_id``/``client_secret``, admin-only ``api_url``/``cloud_url``, token secrets |
| Connect Stores (at least one store → location) | ``stores``: ``[{shop_id, location}]`` |
| Import Settings: Balance On Hand > 0 / On Order > 0 / Reorder Point or Max Level > 0 | ``import_if_on_hand`` (on), ``import_if_on_order`` (off), ``import_if_reorder_levels`` (off) |
| Items need "Default OR MSRP (whichever you have selected)" | ``base_price_level`` |
| Use POS Pricing, Regular Price Level, Sale Price Level | ``use_pos_pricing``, ``regular_price_level``, ``sale_price_level`` (price level ids) |
| Every 30 minutes during the day (ours: 2) | ``incremental_interval_minutes``, ``day_window``, ``full_import_at``, ``disabled_days`` |
| Use order exporting; Employee; Register | ``order_export_enabled``, ``export_employee_id``, ``export_register_id`` |
| Status applied to exported orders | ``status_after_export`` (``no_change`` by default) |
| Export when all items are fulfilled | ``export_when_fulfilled`` |

Beyond the seed (the spec's decisions): ``payment_type_map`` (webstore method →
paymentTypeID), ``default_payment_type_id``, ``placeholder_item_id`` for lines no Lightspeed
item matches, ``shipping_item_id`` (a non-inventory item for the shipping line),
``tax_category_id`` of the sales, ``tax_tolerance``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plugins.lightspeed_rseries.config import RSeriesConnectionConfig

__all__ = ["EXPORT_STATUSES", "RetailConfig", "StoreMapping"]

EXPORT_STATUSES = ("no_change", "open", "partially_shipped", "shipped", "completed")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _options(action: str, value: str) -> dict[str, Any]:
    """The admin console offers the rows of ``action`` (by id, named) as a select
    (``x-hub-options``, hub/admin/forms.py)."""
    return {"action": action, "value": value, "label": "name"}


_PAYMENT_TYPES: dict[str, Any] = {"x-hub-options": _options("payment-types", "payment_type_id")}


class StoreMapping(BaseModel):
    """A Lightspeed shop and the hub location its stock goes to (and web orders of that
    location come from)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    shop_id: int = Field(
        ge=1,
        title="Shop",
        description="Lightspeed shopID (action `shops` lists them).",
        json_schema_extra={"x-hub-options": _options("shops", "shop_id")},
    )
    location: str = Field(
        min_length=1,
        max_length=64,
        description="A hub location code.",
        # The admin console offers the tenant's locations (hub/admin/forms.py).
        json_schema_extra={"x-choices": "locations"},
    )


class RetailConfig(RSeriesConnectionConfig):
    """``lightspeed_retail`` settings (see the module docstring for the seed's words)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # -- connect stores
    stores: list[StoreMapping] = Field(
        default_factory=list,
        max_length=100,
        description="Lightspeed shops mapped to hub locations; at least one for setup.",
    )

    # -- import settings (an item is imported if any enabled condition holds at any
    # mapped shop)
    import_if_on_hand: bool = Field(True, description="Import items with qoh > 0.")
    import_if_on_order: bool = Field(False, description="Import items with backorder > 0.")
    import_if_reorder_levels: bool = Field(
        False, description="Import items with reorderPoint or reorderLevel > 0."
    )
    base_price_level: Literal["Default", "MSRP"] = Field(
        "Default", description="An item syncs only with a price at this level."
    )

    # -- POS pricing (levels are kept by id: they can be renamed)
    use_pos_pricing: bool = False
    regular_price_level: int | None = Field(
        None,
        ge=1,
        description="priceLevelID setting the product price (required with POS pricing).",
        json_schema_extra={"x-hub-options": _options("price-levels", "price_level_id")},
    )
    sale_price_level: int | None = Field(
        None,
        ge=1,
        description="priceLevelID setting sale_price (optional).",
        json_schema_extra={"x-hub-options": _options("price-levels", "price_level_id")},
    )

    # -- schedule (tenant time zone)
    incremental_interval_minutes: int = Field(2, ge=1, le=60)
    day_window: str = Field("06:00-22:00", description="When incremental imports run.")
    full_import_at: str = Field("02:30", description="The nightly full import (HH:MM).")
    overlap_seconds: int = Field(
        120, ge=0, le=3600, description="How far back each incremental read starts again."
    )
    disabled_days: list[Day] = Field(default_factory=list)

    # -- order exporting
    order_export_enabled: bool = False
    export_employee_id: int | None = Field(
        None, ge=1, json_schema_extra={"x-hub-options": _options("employees", "employee_id")}
    )
    export_register_id: int | None = Field(
        None, ge=1, json_schema_extra={"x-hub-options": _options("registers", "register_id")}
    )
    export_when_fulfilled: bool = Field(
        False, description="A paid order waits until every line is fulfilled."
    )
    status_after_export: Literal[
        "no_change", "open", "partially_shipped", "shipped", "completed"
    ] = "no_change"
    payment_type_map: dict[str, Annotated[int, Field(json_schema_extra=_PAYMENT_TYPES)]] = Field(
        default_factory=dict, description="Webstore payment method → Lightspeed paymentTypeID."
    )
    default_payment_type_id: int | None = Field(
        None,
        ge=1,
        description="paymentTypeID for a method the map does not name.",
        json_schema_extra=_PAYMENT_TYPES,
    )
    placeholder_item_id: int | None = Field(
        None, ge=1, description="itemID for a line no Lightspeed item matches (a note says so)."
    )
    shipping_item_id: int | None = Field(
        None, ge=1, description="A non-inventory itemID carrying the shipping cost."
    )
    tax_category_id: int | None = Field(None, ge=1, description="The sales' taxCategoryID.")
    tax_tolerance: Decimal = Field(
        Decimal("0.05"),
        ge=0,
        le=100,
        decimal_places=2,
        description="Largest difference between Lightspeed's total and the order's.",
    )

    @field_validator("day_window")
    @classmethod
    def _window(cls, value: str) -> str:
        start, _, end = value.partition("-")
        if not (_HHMM.match(start.strip()) and _HHMM.match(end.strip())):
            raise ValueError('must look like "06:00-22:00"')
        return f"{start.strip()}-{end.strip()}"

    @field_validator("full_import_at")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError('must look like "02:30"')
        return value

    @field_validator("payment_type_map")
    @classmethod
    def _methods(cls, value: dict[str, int]) -> dict[str, int]:
        for method, type_id in value.items():
            if not method.strip() or type_id < 1:
                raise ValueError(f"{method!r} must map to a paymentTypeID ≥ 1")
        return {k.strip().lower(): v for k, v in value.items()}

    @model_validator(mode="after")
    def _distinct_shops(self) -> RetailConfig:
        seen: set[int] = set()
        for store in self.stores:
            if store.shop_id in seen:
                raise ValueError(f"shop {store.shop_id} is mapped twice")
            seen.add(store.shop_id)
        return self

    # -- derived

    def location_of_shop(self) -> dict[int, str]:
        return {s.shop_id: s.location for s in self.stores}

    def shop_of_location(self, location: str) -> int | None:
        return next((s.shop_id for s in self.stores if s.location == location), None)

    def payment_type_for(self, method: str) -> int | None:
        return self.payment_type_map.get(method.strip().lower(), self.default_payment_type_id)
