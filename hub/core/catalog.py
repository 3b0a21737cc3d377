"""Catalog: products and locations of a tenant."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlmodel import Session, col, select

from hub.core.changes import transaction_seq
from hub.core.errors import Invalid
from hub.core.inputs import (
    DATETIME_PATTERN,
    NONBLANK_PATTERN,
    PRICE_PATTERN,
    AwareDateTime,
    Price,
    aware_datetime,
    nonblank,
    strip_strings,
)
from hub.core.models import Location, Product
from hub.core.records import CATALOGS, normalise_brand, normalise_part_number
from hub.core.types import utcnow

__all__ = [
    "ProductIn",
    "get_location",
    "locations_of",
    "put_location",
    "sale_active",
    "set_prices",
    "upsert_products",
]


class ProductIn(BaseModel):
    """A product as the webstore sends it (keyed by ``sku``)."""

    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=128, json_schema_extra={"pattern": NONBLANK_PATTERN})
    title: str = Field(default="", max_length=500)
    catalog: str = Field(default="aftermarket", json_schema_extra={"enum": list(CATALOGS)})
    brand: str = Field(default="", max_length=200)
    part_number: str = Field(default="", max_length=128)
    upc: str | None = Field(default=None, max_length=32)
    ean: str | None = Field(default=None, max_length=32)
    mpn: str | None = Field(default=None, max_length=128)
    # Strings matching PRICE_PATTERN / DATETIME_PATTERN, as documented (hub.core.inputs);
    # the pattern is repeated on the field: the document does not see it through `| None`.
    price: Price | None = Field(default=None, json_schema_extra={"pattern": PRICE_PATTERN})
    cost: Price | None = Field(default=None, json_schema_extra={"pattern": PRICE_PATTERN})
    sale_price: Price | None = Field(default=None, json_schema_extra={"pattern": PRICE_PATTERN})
    sale_starts_at: AwareDateTime | None = Field(
        default=None, json_schema_extra={"pattern": DATETIME_PATTERN}
    )
    sale_ends_at: AwareDateTime | None = Field(
        default=None, json_schema_extra={"pattern": DATETIME_PATTERN}
    )

    @field_validator("catalog")
    @classmethod
    def _known_catalog(cls, value: str) -> str:
        if value not in CATALOGS:
            raise ValueError(f"must be one of {', '.join(CATALOGS)}")
        return value

    @field_validator("sale_starts_at", "sale_ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return aware_datetime(value)

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return nonblank(value)

    @model_validator(mode="after")
    def _strip(self) -> ProductIn:
        # Lengths are checked on the strings as sent (what the document states); the stored
        # values are stripped.
        strip_strings(self)
        if self.upc == "":
            self.upc = None
        if self.ean == "":
            self.ean = None
        if self.mpn == "":
            self.mpn = None
        return self

    @field_validator("upc", "ean", "mpn")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


LOCATION_CODE_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""A location code (the API's path pattern ``^[A-Za-z0-9._-]{1,64}$``)."""


def put_location(session: Session, tenant_id: int, code: str, name: str) -> tuple[Location, bool]:
    """Create or rename a location; returns it and whether it was created. 422 for a code
    outside :data:`LOCATION_CODE_RE` or a name over 200 characters."""
    if not LOCATION_CODE_RE.fullmatch(code):
        raise Invalid("not a location code", fields={"code": "1-64 of A-Z a-z 0-9 . _ -"})
    if len(name) > 200:
        raise Invalid("the location name is too long", fields={"name": "at most 200 characters"})
    row = get_location(session, tenant_id, code)
    created = row is None
    if row is None:
        row = Location(tenant_id=tenant_id, code=code, name=name)
    else:
        row.name = name
    session.add(row)
    session.flush()
    return row, created


def locations_of(session: Session, tenant_id: int) -> list[Location]:
    """The tenant's locations, in creation order."""
    return list(
        session.exec(
            select(Location).where(Location.tenant_id == tenant_id).order_by(col(Location.id))
        )
    )


def get_location(session: Session, tenant_id: int, code: str) -> Location | None:
    return session.exec(
        select(Location).where(Location.tenant_id == tenant_id, Location.code == code)
    ).first()


def upsert_products(session: Session, tenant_id: int, items: Sequence[ProductIn]) -> dict[str, Any]:
    """Create or update products by SKU; returns ``{created, updated, product_ids}``.

    The last occurrence of a SKU in one call wins.
    """
    by_sku = {item.sku: item for item in items}
    existing = {
        p.sku: p
        for p in session.exec(
            select(Product).where(Product.tenant_id == tenant_id, col(Product.sku).in_(by_sku))
        )
    }
    now = utcnow()
    new: list[dict[str, Any]] = []
    changed: list[tuple[Product, dict[str, Any]]] = []
    for sku, item in by_sku.items():
        values = item.model_dump()
        values["brand_norm"] = normalise_brand(item.brand)
        values["part_norm"] = normalise_part_number(item.part_number or item.sku)
        values["sku_norm"] = normalise_part_number(item.sku)
        product = existing.get(sku)
        if product is None:
            new.append(values)
            continue
        diff = {key: value for key, value in values.items() if getattr(product, key) != value}
        if diff:
            changed.append((product, diff))
    if new or changed:
        # Numbered for exporters (hub.core.changes), before any product row is written.
        seq = transaction_seq(session, tenant_id)
        for values in new:
            session.add(Product(tenant_id=tenant_id, change_seq=seq, **values))
        for product, diff in changed:
            for key, value in diff.items():
                setattr(product, key, value)
            product.updated_at = now
            product.change_seq = seq
            session.add(product)
    created, updated = len(new), len(changed)
    session.flush()
    ids = [
        p.id
        for p in session.exec(
            select(Product).where(Product.tenant_id == tenant_id, col(Product.sku).in_(by_sku))
        )
    ]
    return {"created": created, "updated": updated, "product_ids": ids}


# -- prices a stock master sets (e.g. Lightspeed Retail's price levels) ----------------------


def set_prices(
    session: Session,
    tenant_id: int,
    prices: Sequence[tuple[int, Decimal | None, Decimal | None]],
    *,
    sale: bool,
) -> list[int]:
    """Set ``(product id, price, sale_price)`` of the tenant's products; ``sale`` False
    leaves every sale price alone (no sale level chosen). A product's sale *dates* are the
    webstore's and are never changed here (see :func:`sale_active`). Only changed products
    are written, numbered for exporters; returns their ids. Unknown ids are skipped."""
    wanted = {int(pid): (price, sale_price) for pid, price, sale_price in prices}
    ids = sorted(wanted)
    found: list[Product] = []
    for start in range(0, len(ids), 500):
        found.extend(
            session.exec(
                select(Product).where(
                    Product.tenant_id == tenant_id, col(Product.id).in_(ids[start : start + 500])
                )
            )
        )

    def same(a: Decimal | None, b: Decimal | None) -> bool:
        return (a is None and b is None) or (
            a is not None and b is not None and Decimal(a).quantize(_CENTS) == b.quantize(_CENTS)
        )

    changed = [
        product
        for product in found
        if not same(product.price, wanted[int(product.id or 0)][0])
        or (sale and not same(product.sale_price, wanted[int(product.id or 0)][1]))
    ]
    if not changed:
        return []
    seq = transaction_seq(session, tenant_id)
    now = utcnow()
    for product in changed:
        price, sale_price = wanted[int(product.id or 0)]
        product.price = price
        if sale:
            product.sale_price = sale_price
        product.updated_at = now
        product.change_seq = seq
        session.add(product)
    session.flush()
    return [int(p.id or 0) for p in changed]


def sale_active(
    sale_price: Decimal | None,
    starts_at: datetime | None,
    ends_at: datetime | None,
    now: datetime | None = None,
) -> bool:
    """Whether a product's sale price applies now: it has one and a start date that has
    come, and no end date or one still ahead. A sale price without a start date is stored
    but not active (the webstore's dates decide, as the seed says)."""
    if sale_price is None or starts_at is None:
        return False
    moment = now or utcnow()
    return starts_at <= moment and (ends_at is None or moment < ends_at)


_CENTS = Decimal("0.0001")
