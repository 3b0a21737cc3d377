"""The install config of ``lightspeed_dms`` (Web Orders part and 3PA part)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.plugin import CATALOGS, ScheduleSpec, Weekday, secret_field, vendor_url_field

__all__ = ["DmsConfig", "SupplierCode", "hash_password", "verify_password"]

HASH_PREFIX = "scrypt$"
DEFAULT_SCHEDULE = ScheduleSpec(cron="0 1-23/6 * * *", window="01:00-07:00")


def hash_password(password: str) -> str:
    """scrypt hash of a Web Commerce password: ``scrypt$<salt hex>$<hash hex>``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"{HASH_PREFIX}{salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Compare in constant time against a stored :func:`hash_password` value."""
    if not stored.startswith(HASH_PREFIX):
        return False
    try:
        salt_hex, digest_hex = stored[len(HASH_PREFIX) :].split("$")
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest, expected)


class SupplierCode(BaseModel):
    """A Lightspeed supplier code mapped to a hub catalog and brand."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    catalog: Literal["aftermarket", "oem", "private_label"] = Field(title="Catalog")
    supplier_code: str = Field(min_length=1, max_length=16, title="Lightspeed supplier code")
    brand: str = Field(min_length=1, max_length=200, title="Manufacturer / distributor")
    lead_time_days: int = Field(default=1, ge=0, le=365, title="Lead time (days)")
    pricing: Literal["disabled", "retail", "current_active"] = Field(
        default="disabled", title="Lightspeed pricing"
    )


class DmsConfig(BaseModel):
    """``lightspeed_dms`` settings. The Web Orders password is kept only as a hash."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Web Orders (the DMS polls the hub)
    web_orders_enabled: bool = Field(default=False, title="Enable Web Order Module")
    web_orders_username: str = Field(default="", max_length=200)
    web_orders_password: str | None = secret_field(
        None, description="Web Commerce password; stored as a scrypt hash."
    )
    machine_addresses: list[str] = Field(default_factory=list, max_length=50)
    allowed_ips: list[str] = Field(default_factory=list, max_length=100, title="Allowed IPs")
    uppercase_customer_fields: bool = True
    payment_type_map: dict[str, str] = Field(default_factory=dict)
    default_supplier_code: str = Field(default="", max_length=16)
    tax_rule_id: int = Field(default=1, ge=1, le=3)

    # 3PA / Data Warehouse (the hub pulls inventory)
    threepa_enabled: bool = Field(default=False, title="Enable Lightspeed 3PA / Data Warehouse")
    threepa_username: str = Field(default="", max_length=200, title="3PA username")
    threepa_password: str | None = secret_field(None, title="3PA password")
    dealer_id: str = Field(default="", max_length=32, title="3PA dealer ID")
    threepa_base_url: str = vendor_url_field(
        title="3PA base URL",
        description="Admin only. Default: the production 3PA host (HUB_THREEPA_BASE_URL).",
    )
    location: str = Field(default="", max_length=64)
    supplier_codes: list[SupplierCode] = Field(default_factory=list, max_length=500)
    quantity_column: Literal["on_hand", "available"] = "on_hand"
    clear_previous_quantities: bool = True
    disabled_days: list[Weekday] = Field(default_factory=list)
    schedule: ScheduleSpec = DEFAULT_SCHEDULE
    incremental_interval_minutes: int = Field(
        default=0,
        ge=0,
        le=1440,
        description="Pull changes between full pulls every N minutes (0 = off).",
    )
    incremental_overlap_minutes: int = Field(default=15, ge=0, le=1440)

    @field_validator("web_orders_password")
    @classmethod
    def _hash_password(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        return value if value.startswith(HASH_PREFIX) else hash_password(value)

    @field_validator("allowed_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value

    @field_validator("payment_type_map")
    @classmethod
    def _payment_types(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = {"VISA", "MASTERCARD", "DISCOVER", "AMEX", "PAYPAL", "OTHER"}
        for method, dms_type in value.items():
            if dms_type.upper() not in allowed:
                raise ValueError(f"{method!r} maps to {dms_type!r}, not one of {sorted(allowed)}")
        return {k.strip().lower(): v.upper() for k, v in value.items()}

    @model_validator(mode="after")
    def _complete(self) -> DmsConfig:
        if self.web_orders_enabled and not self.web_orders_username:
            raise ValueError("web_orders_username is required when web orders are enabled")
        if self.web_orders_enabled and not self.web_orders_password:
            raise ValueError("web_orders_password is required when web orders are enabled")
        if self.threepa_enabled and not self.dealer_id:
            raise ValueError("dealer_id is required when 3PA is enabled")
        seen = set()
        for code in self.supplier_codes:
            key = (code.catalog, code.supplier_code.upper())
            if key in seen:
                raise ValueError(
                    f"supplier code {code.supplier_code!r} appears twice under {code.catalog}"
                )
            seen.add(key)
        assert set(CATALOGS) >= {c.catalog for c in self.supplier_codes}
        return self

    def supplier_code_for(self, catalog: str | None, brand: str | None) -> SupplierCode | None:
        """The supplier code whose catalog and brand match a product (DMS manufacturerID)."""
        if not brand:
            return None
        wanted = " ".join(brand.split()).casefold()
        for code in self.supplier_codes:
            if code.catalog == catalog and " ".join(code.brand.split()).casefold() == wanted:
                return code
        return None
