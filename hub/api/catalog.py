"""Catalog: locations, products (bulk upsert) and inventory of a tenant.

``PUT /products`` takes a JSON array of at most 1000 products (more answers 422 with
``fields.body``): a bulk upsert keyed by ``sku``, the last occurrence of a SKU winning.
``PUT /inventory`` likewise takes at most 1000 ``{sku, location, quantity}``: the integrator's
own quantities (source ``api``); an unknown SKU or location answers 422 naming it
(``items[3].sku``) and nothing is applied.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Response, Router, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter
from sqlmodel import Session, col, select

from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import Cursor, Limit, decode_cursor, next_cursor
from hub.core import catalog as core_catalog
from hub.core import inventory as core_inventory
from hub.core.errors import Invalid, NotFound
from hub.core.hub import Hub
from hub.core.models import InventoryLevel, Location, PluginInstall, Product
from hub.core.tenants import TenantInfo

__all__ = [
    "InventoryIn",
    "InventoryRow",
    "InventorySetResult",
    "LocationIn",
    "LocationOut",
    "ProductDetail",
    "ProductOut",
    "UpsertResult",
    "build_router",
]

MAX_PRODUCTS_PER_CALL = 1000
LocationCode = Annotated[
    str, Parameter(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="[A-Za-z0-9._-]{1,64}")
]
Sku = Annotated[str, Parameter(min_length=1, max_length=128)]
SkuFilter = Annotated[str | None, Parameter(max_length=128, description="exact SKU")]
LocationFilter = Annotated[str | None, Parameter(max_length=64, description="location code")]


class LocationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class LocationOut(msgspec.Struct):
    code: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, row: Location) -> LocationOut:
        return cls(row.code, row.name, row.created_at)


class LocationPage(msgspec.Struct):
    items: list[LocationOut]
    next_cursor: str | None


class UpsertResult(msgspec.Struct):
    created: int
    updated: int


def _money(value: Decimal | None) -> str | None:
    return (
        None
        if value is None
        else f"{value:.2f}"
        if value == value.quantize(Decimal("0.01"))
        else str(value)
    )


class ProductOut(msgspec.Struct):
    sku: str
    title: str
    catalog: str
    brand: str
    part_number: str
    upc: str | None
    ean: str | None
    mpn: str | None
    price: str | None
    cost: str | None
    sale_price: str | None
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # The sale price applies now: it has a start date that has come and no end date passed
    # (a sale price without a start date is stored, not active).
    sale_active: bool = False

    @classmethod
    def fields_of(cls, p: Product) -> dict[str, object]:
        return {
            "sku": p.sku,
            "title": p.title,
            "catalog": p.catalog,
            "brand": p.brand,
            "part_number": p.part_number,
            "upc": p.upc,
            "ean": p.ean,
            "mpn": p.mpn,
            "price": _money(p.price),
            "cost": _money(p.cost),
            "sale_price": _money(p.sale_price),
            "sale_starts_at": p.sale_starts_at,
            "sale_ends_at": p.sale_ends_at,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
            "sale_active": core_catalog.sale_active(p.sale_price, p.sale_starts_at, p.sale_ends_at),
        }

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        return cls(**cls.fields_of(p))  # type: ignore[arg-type]


class ProductPage(msgspec.Struct):
    items: list[ProductOut]
    next_cursor: str | None


class InventoryRow(msgspec.Struct):
    """A quantity of one product at one location, from one source (a plugin, or ``api``:
    the integrator's own, set with ``PUT /inventory``)."""

    sku: str
    location: str
    quantity: int
    sale_price: str | None
    lead_time_days: int | None
    source: str
    updated_at: datetime


class InventoryIn(msgspec.Struct, forbid_unknown_fields=True):
    """A quantity of the product ``sku`` at the location ``location``."""

    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    location: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    quantity: Annotated[int, msgspec.Meta(ge=0, le=1_000_000_000)]


class InventorySetResult(msgspec.Struct):
    updated: int
    unchanged: int


class InventoryPage(msgspec.Struct):
    items: list[InventoryRow]
    next_cursor: str | None


class ProductDetail(ProductOut):
    """A product with its inventory rows."""

    inventory: list[InventoryRow] = msgspec.field(default_factory=list)


# -- locations -------------------------------------------------------------------------------


@put(
    "/locations/{code:str}",
    sync_to_thread=True,
    responses={
        201: ResponseSpec(
            data_container=LocationOut, description="Created", generate_examples=False
        )
    },
    response_description="Renamed (the location existed)",
    summary="Create or rename a location",
)
def put_location(
    data: LocationIn, hub: Hub, tenant: TenantInfo, code: LocationCode
) -> Response[LocationOut]:
    """Create (201) or rename (200) a location (a warehouse or a store)."""
    with hub.db.session() as session:
        row, created = core_catalog.put_location(session, tenant.id, code, data.name)
        out = LocationOut.of(row)
    return Response(out, status_code=201 if created else 200)


@get("/locations", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List locations")
def list_locations(
    hub: Hub, tenant: TenantInfo, cursor: Cursor = None, limit: Limit = 100
) -> LocationPage:
    """The tenant's locations, in creation order."""
    after = decode_cursor(cursor)
    query = select(Location).where(Location.tenant_id == tenant.id)
    if after is not None:
        query = query.where(col(Location.id) > after)
    with hub.db.read() as session:
        rows = list(session.exec(query.order_by(col(Location.id)).limit(limit + 1)))
    return LocationPage(
        [LocationOut.of(r) for r in rows[:limit]], next_cursor([r.id or 0 for r in rows], limit)
    )


# -- products --------------------------------------------------------------------------------


@put("/products", sync_to_thread=True, summary="Upsert products")
def put_products(
    data: Annotated[
        list[core_catalog.ProductIn],
        Body(max_items=MAX_PRODUCTS_PER_CALL, description="At most 1000 products, keyed by sku"),
    ],
    hub: Hub,
    tenant: TenantInfo,
) -> UpsertResult:
    """Create or update up to 1000 products by SKU: ``{created, updated}``."""
    if len(data) > MAX_PRODUCTS_PER_CALL:
        raise Invalid(
            f"at most {MAX_PRODUCTS_PER_CALL} products per call",
            fields={"body": f"at most {MAX_PRODUCTS_PER_CALL} items"},
        )
    with hub.db.session() as session:
        result = core_catalog.upsert_products(session, tenant.id, data)
    return UpsertResult(created=result["created"], updated=result["updated"])


@get("/products", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List products")
def list_products(
    hub: Hub, tenant: TenantInfo, cursor: Cursor = None, limit: Limit = 100, sku: SkuFilter = None
) -> ProductPage:
    """Products in creation order, optionally only the one with ``sku``."""
    after = decode_cursor(cursor)
    query = select(Product).where(Product.tenant_id == tenant.id)
    if sku is not None:
        query = query.where(Product.sku == sku)
    if after is not None:
        query = query.where(col(Product.id) > after)
    with hub.db.read() as session:
        rows = list(session.exec(query.order_by(col(Product.id)).limit(limit + 1)))
    return ProductPage(
        [ProductOut.of(r) for r in rows[:limit]], next_cursor([r.id or 0 for r in rows], limit)
    )


@get("/products/{sku:str}", sync_to_thread=True, responses=ERROR_RESPONSES, summary="A product")
def get_product(hub: Hub, tenant: TenantInfo, sku: Sku) -> ProductDetail:
    """One product with its inventory rows."""
    with hub.db.read() as session:
        product = session.exec(
            select(Product).where(Product.tenant_id == tenant.id, Product.sku == sku)
        ).first()
        if product is None:
            raise NotFound(f"no product {sku!r}")
        rows = _inventory_rows(session, tenant.id, product_id=product.id)
    return ProductDetail(**ProductOut.fields_of(product), inventory=rows)  # type: ignore[arg-type]


# -- inventory -------------------------------------------------------------------------------


def _inventory_query(tenant_id: int):  # type: ignore[no-untyped-def]
    return (
        select(InventoryLevel, Product.sku, Location.code, PluginInstall.plugin_id)
        .join(Product, col(Product.id) == col(InventoryLevel.product_id))
        .join(Location, col(Location.id) == col(InventoryLevel.location_id))
        .join(PluginInstall, col(PluginInstall.id) == col(InventoryLevel.install_id), isouter=True)
        .where(InventoryLevel.tenant_id == tenant_id)
    )


def _row(level: InventoryLevel, sku: str, location: str, source: str | None) -> InventoryRow:
    return InventoryRow(
        sku=sku,
        location=location,
        quantity=level.quantity,
        sale_price=_money(level.sale_price),
        lead_time_days=level.lead_time_days,
        source=source or "api",
        updated_at=level.updated_at,
    )


def _inventory_rows(
    session: Session, tenant_id: int, *, product_id: int | None
) -> list[InventoryRow]:
    query = _inventory_query(tenant_id).where(InventoryLevel.product_id == product_id)
    rows = session.exec(query.order_by(col(Location.code), col(InventoryLevel.id))).all()
    return [_row(*r) for r in rows]


@get("/inventory", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List inventory")
def list_inventory(
    hub: Hub,
    tenant: TenantInfo,
    cursor: Cursor = None,
    limit: Limit = 100,
    sku: SkuFilter = None,
    location: LocationFilter = None,
) -> InventoryPage:
    """Inventory rows ``{sku, location, quantity, sale_price, lead_time_days, source,
    updated_at}``, optionally for one SKU and/or one location."""
    after = decode_cursor(cursor)
    query = _inventory_query(tenant.id)
    if sku is not None:
        query = query.where(Product.sku == sku)
    if location is not None:
        query = query.where(Location.code == location)
    if after is not None:
        query = query.where(col(InventoryLevel.id) > after)
    with hub.db.read() as session:
        rows = session.exec(query.order_by(col(InventoryLevel.id)).limit(limit + 1)).all()
    return InventoryPage(
        [_row(*r) for r in rows[:limit]], next_cursor([r[0].id or 0 for r in rows], limit)
    )


@put("/inventory", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Set inventory")
def put_inventory(data: list[InventoryIn], hub: Hub, tenant: TenantInfo) -> InventorySetResult:
    """Set up to 1000 quantities ``{sku, location, quantity}`` (source ``api``):
    ``{updated, unchanged}``; raises ``inventory.changed`` for what changed."""
    if len(data) > MAX_PRODUCTS_PER_CALL:
        raise Invalid(
            f"at most {MAX_PRODUCTS_PER_CALL} quantities per call",
            fields={"body": f"at most {MAX_PRODUCTS_PER_CALL} items"},
        )
    with hub.db.session() as session:
        result = core_inventory.set_quantities(
            session, tenant.id, [(i.sku, i.location, i.quantity) for i in data]
        )
        for code, product_ids in sorted(result.changed.items()):
            core_inventory.emit_inventory_changed(session, tenant.id, code, "api", product_ids)
    return InventorySetResult(updated=result.updated, unchanged=result.unchanged)


def build_router() -> Router:
    """Locations, products and inventory under ``/api/v1/tenants/{slug}``."""
    return Router(
        "/",
        route_handlers=[
            put_location,
            list_locations,
            put_products,
            list_products,
            get_product,
            list_inventory,
            put_inventory,
        ],
        tags=["catalog"],
    )
