"""The install config of ``lightspeed_pos``: the seed's settings table, field by field.

| seed setting | field |
|---|---|
| Lightspeed POS Enabled | ``enabled`` |
| Enable Lightspeed Shops Mapping | ``shops_mapping_enabled`` (and ``shops``) |
| AccountID | ``account_id`` |
| Shop Name | ``shop_name`` |
| Lightspeed EmployeeID (and Register ID) | ``employee_id``, ``register_id`` |
| Redirect URI | ``redirect_uri`` (read-only: the hub's one callback) |
| Auth Token, Refresh Token, Token Received On | ``auth_token``, ``refresh_token``, ``token_received_on`` (filled by connecting) |
| Returns Warehouse | ``returns_warehouse`` |
| Enable Order Download / Inventory / Price / Cost Upload | ``order_download``, ``inventory_upload``, ``price_upload``, ``cost_upload`` |
| Auto Enable New Products For Lightspeed | ``auto_enable_new_products`` |
| Enable Auto Create Enabled Products On Lightspeed | ``auto_create_products`` |
| Use Company Address As Billing/Shipping Address | ``use_company_address`` |

The connection fields (``client_id``/``client_secret``, the admin-only ``api_url`` and
``cloud_url``, the token secrets) come from the R-Series mixin shared with the Retail plugin.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.plugin import managed_secret_field
from plugins.lightspeed_rseries.config import RSeriesConnectionConfig

__all__ = ["PosConfig", "RegisterRef", "ShopMapping"]

LocationCode = str
_EMPLOYEES: dict[str, Any] = {
    "field": "employees",
    "value": "employee_id",
    "label": "name",
    "refresh": "refresh-shops",
}


class RegisterRef(BaseModel):
    """A register of a shop, as ``refresh-shops`` read it from Lightspeed."""

    model_config = ConfigDict(extra="forbid")

    register_id: int = Field(ge=1)
    name: str = Field(default="", max_length=200)


class EmployeeRef(BaseModel):
    """An employee of the account, as ``refresh-shops`` read it (to pick one per shop)."""

    model_config = ConfigDict(extra="forbid")

    employee_id: int = Field(ge=1)
    name: str = Field(default="", max_length=200)


class ShopMapping(BaseModel):
    """One Lightspeed shop and the hub warehouses (location codes) behind it.

    ``name``, ``registers`` and ``archived`` are what ``refresh-shops`` last read (a shop
    gone from Lightspeed is kept, ``archived``, and stops syncing); ``warehouses``,
    ``employee_id`` and ``register_id`` are the integrator's mapping."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Read from Lightspeed (``readOnly``: the console shows them and sends them back; the
    # rows come from refresh-shops, not from typing).
    shop_id: int = Field(ge=1, title="Shop", json_schema_extra={"readOnly": True})
    name: str = Field(default="", max_length=200, json_schema_extra={"readOnly": True})
    warehouses: list[LocationCode] = Field(
        default_factory=list,
        max_length=50,
        # The admin console offers the tenant's locations (hub/admin/forms.py).
        json_schema_extra={"x-choices": "locations"},
    )
    # The admin console offers the employees and this shop's registers as read by
    # refresh-shops (``x-hub-options``, hub/admin/forms.py).
    employee_id: int | None = Field(
        default=None, ge=1, title="Employee", json_schema_extra={"x-hub-options": _EMPLOYEES}
    )
    register_id: int | None = Field(
        default=None,
        ge=1,
        title="Register",
        json_schema_extra={
            "x-hub-options": {
                "row": "registers",
                "value": "register_id",
                "label": "name",
                "refresh": "refresh-shops",
            }
        },
    )
    registers: list[RegisterRef] = Field(
        default_factory=list, max_length=200, json_schema_extra={"readOnly": True}
    )
    archived: bool = Field(default=False, json_schema_extra={"readOnly": True})

    @field_validator("warehouses")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        seen: list[str] = []
        for code in value:
            if not code:
                raise ValueError("a warehouse code must not be empty")
            if code not in seen:
                seen.append(code)
        return seen


class PosConfig(RSeriesConnectionConfig):
    """``lightspeed_pos`` settings (see the module docstring for the seed's names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    enabled: bool = Field(default=False, description="Lightspeed POS Enabled.")
    account_id: str = Field(
        default="",
        max_length=32,
        pattern=r"^[0-9]*$",
        description="The Lightspeed account (Site ID); connecting must reach this account.",
    )
    shop_name: str = Field(default="", max_length=200, description="Display name.")
    employee_id: int | None = Field(
        default=None,
        ge=1,
        description="Default employee for shops without their own.",
        json_schema_extra={"x-hub-options": _EMPLOYEES},
    )
    register_id: int | None = Field(
        default=None,
        ge=1,
        description="Default register for shops without their own.",
        json_schema_extra={
            "x-hub-options": {
                "field": "shops.registers",
                "value": "register_id",
                "label": "name",
                "refresh": "refresh-shops",
            }
        },
    )
    redirect_uri: str = Field(
        default="",
        max_length=500,
        description=(
            "Read-only: the hub's one OAuth callback ({HUB_PUBLIC_URL}/oauth/callback), to "
            "register on the Lightspeed API client."
        ),
        json_schema_extra={"readOnly": True},
    )
    token_received_on: str | None = managed_secret_field(
        description="When the current token pair was received (from connecting)."
    )
    returns_warehouse: str = Field(
        default="",
        max_length=64,
        description="Location code that receives returned (negative-quantity) lines.",
    )
    order_download: bool = Field(default=False, description="Enable Order Download.")
    inventory_upload: bool = Field(default=False, description="Enable Inventory Upload.")
    price_upload: bool = Field(default=False, description="Enable Price Upload.")
    cost_upload: bool = Field(default=False, description="Enable Cost Upload.")
    auto_enable_new_products: bool = Field(
        default=False, description="New hub products get an enabled listing automatically."
    )
    auto_create_products: bool = Field(
        default=False,
        description="Enabled products unknown on Lightspeed are created there.",
    )
    use_company_address: bool = Field(
        default=False,
        description="Orders get the tenant's company address as billing and shipping.",
    )
    shops_mapping_enabled: bool = Field(
        default=False, description="Map each Lightspeed shop to one or more warehouses."
    )
    shops: list[ShopMapping] = Field(default_factory=list, max_length=200)
    employees: list[EmployeeRef] = Field(
        default_factory=list,
        max_length=1000,
        description="The account's employees as refresh-shops last read them.",
    )

    def shop(self, shop_id: int) -> ShopMapping | None:
        return next((s for s in self.shops if s.shop_id == shop_id), None)

    def active_shops(self) -> list[ShopMapping]:
        """The shops that sync: not archived (with mapping on, only those with warehouses)."""
        shops = [s for s in self.shops if not s.archived]
        if self.shops_mapping_enabled:
            shops = [s for s in shops if s.warehouses]
        return shops
