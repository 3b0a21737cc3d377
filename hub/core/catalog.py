"""Catalog: products and locations of a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from hub.core.changes import transaction_seq
from hub.core.models import Location, Product
from hub.core.records import CATALOGS, normalise_brand, normalise_part_number
from hub.core.types import utcnow

__all__ = ["ProductIn", "get_location", "put_location", "upsert_products"]


class ProductIn(BaseModel):
    """A product as the webstore sends it (keyed by ``sku``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sku: str = Field(min_length=1, max_length=128)
    title: str = Field(default="", max_length=500)
    catalog: str = "aftermarket"
    brand: str = Field(default="", max_length=200)
    part_number: str = Field(default="", max_length=128)
    upc: str | None = Field(default=None, max_length=32)
    ean: str | None = Field(default=None, max_length=32)
    mpn: str | None = Field(default=None, max_length=128)
    price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    sale_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=4)
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None

    @field_validator("catalog")
    @classmethod
    def _known_catalog(cls, value: str) -> str:
        if value not in CATALOGS:
            raise ValueError(f"must be one of {', '.join(CATALOGS)}")
        return value

    @field_validator("sale_starts_at", "sale_ends_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone offset")
        return value

    @field_validator("upc", "ean", "mpn")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


def put_location(session: Session, tenant_id: int, code: str, name: str) -> tuple[Location, bool]:
    """Create or rename a location; returns it and whether it was created."""
    row = get_location(session, tenant_id, code)
    created = row is None
    if row is None:
        row = Location(tenant_id=tenant_id, code=code, name=name)
    else:
        row.name = name
    session.add(row)
    session.flush()
    return row, created


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
