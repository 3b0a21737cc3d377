"""Listings: which products an install (a sales-channel plugin) publishes.

``PUT …/plugins/{plugin_id}/listings`` takes a JSON array of at most 1000 ``{sku, enabled}``:
it creates or updates the install's listings → ``{created, updated}``; an unknown SKU answers
422 naming it (``fields["items[3].sku"]``) and nothing is applied. ``GET`` pages through
them (filters ``enabled``, ``sku``). The install must exist (404 otherwise). The rules are
:mod:`hub.core.listings`'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get, put
from litestar.params import Parameter

from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import Cursor, Limit, decode_cursor, encode_cursor
from hub.core import listings as core_listings
from hub.core.errors import Invalid
from hub.core.hub import Hub
from hub.core.installs import require_install
from hub.core.tenants import TenantInfo

__all__ = ["ListingIn", "ListingOut", "ListingPage", "ListingsResult", "build_router"]

PluginId = Annotated[str, Parameter(max_length=64, description="e.g. lightspeed_pos")]
SkuFilter = Annotated[str | None, Parameter(max_length=128, description="exact SKU")]


class ListingIn(msgspec.Struct, forbid_unknown_fields=True):
    """Whether the install publishes the product with ``sku``."""

    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    enabled: bool


class ListingsResult(msgspec.Struct):
    created: int
    updated: int


class ListingOut(msgspec.Struct):
    """A listing: ``vendor_id`` is the product's id on the vendor (when known),
    ``last_pushed`` the values the plugin last sent there."""

    sku: str
    enabled: bool
    vendor_id: str | None
    last_pushed: dict[str, Any]
    updated_at: datetime

    @classmethod
    def of(cls, view: core_listings.ListingView) -> ListingOut:
        return cls(view.sku, view.enabled, view.vendor_id, view.last_pushed, view.updated_at)


class ListingPage(msgspec.Struct):
    items: list[ListingOut]
    next_cursor: str | None


def _install_id(hub: Hub, tenant: TenantInfo, plugin_id: str) -> int:
    with hub.db.read() as session:
        install = require_install(session, tenant.id, plugin_id)
    assert install.id is not None
    return install.id


@put("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="Set listings")
def put_listings(
    data: list[ListingIn], hub: Hub, tenant: TenantInfo, plugin_id: PluginId
) -> ListingsResult:
    """Create or update up to 1000 listings by SKU: ``{created, updated}``; an unknown SKU
    → 422 naming it, nothing applied."""
    install_id = _install_id(hub, tenant, plugin_id)
    limit = core_listings.MAX_LISTINGS_PER_CALL
    if len(data) > limit:
        raise Invalid(
            f"at most {limit} listings per call", fields={"body": f"at most {limit} items"}
        )
    with hub.db.session() as session:
        result = core_listings.put_listings(
            session, tenant.id, install_id, [(item.sku, item.enabled) for item in data]
        )
    return ListingsResult(**result)


@get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List listings")
def list_listings(
    hub: Hub,
    tenant: TenantInfo,
    plugin_id: PluginId,
    cursor: Cursor = None,
    limit: Limit = 100,
    enabled: bool | None = None,
    sku: SkuFilter = None,
) -> ListingPage:
    """The install's listings in creation order, optionally only enabled (``true``) or
    disabled (``false``) ones, or the one of ``sku``."""
    install_id = _install_id(hub, tenant, plugin_id)
    after = decode_cursor(cursor)
    with hub.db.read() as session:
        rows = core_listings.page_listings(
            session, install_id, after_id=after, limit=limit + 1, enabled=enabled, sku=sku
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return ListingPage(
        [ListingOut.of(view) for _, view in rows],
        encode_cursor(rows[-1][0]) if more else None,
    )


def build_router() -> Router:
    """``/plugins/{plugin_id}/listings`` under ``/api/v1/tenants/{slug}``."""
    return Router(
        "/plugins/{plugin_id:str}/listings",
        route_handlers=[put_listings, list_listings],
        tags=["plugins"],
    )
