"""Listings of a sales-channel install (POS): which products it publishes, the vendor's item
id, the last values pushed; enable or disable in bulk (the API's ``…/listings``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from hub.admin._auth import PageNotFound, hub_of
from hub.admin._render import ADMIN, blocking, page, posted_form, redirect, seg
from hub.core import listings as core_listings
from hub.core.errors import HubError, NotFound
from hub.core.installs import require_install
from hub.core.tenants import TenantInfo

__all__ = ["listings_page", "set_listings"]

PAGE = 50


def _install_id(request: Request[Any, Any, Any], plugin_id: str) -> int:
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    try:
        hub.plugins.manifest(plugin_id)
        with hub.db.read() as session:
            install = require_install(session, tenant.id, plugin_id)
    except NotFound:
        raise PageNotFound(f"no install {plugin_id!r}") from None
    assert install.id is not None
    return install.id


@get("/plugins/{plugin_id:str}/listings", sync_to_thread=True, include_in_schema=False)
def listings_page(request: Request[Any, Any, Any], plugin_id: str) -> Template:
    """50 listings a page, filtered by enabled / disabled or one SKU."""
    hub = hub_of(request)
    install_id = _install_id(request, plugin_id)
    wanted = request.query_params.get("enabled")
    enabled = {"true": True, "false": False}.get(wanted or "")
    sku = (request.query_params.get("sku") or "").strip()[:128] or None
    try:
        after = int(request.query_params.get("after") or 0) or None
    except ValueError:
        after = None
    with hub.db.read() as session:
        rows = core_listings.page_listings(
            session, install_id, after_id=after, limit=PAGE + 1, enabled=enabled, sku=sku
        )
    return page(
        request,
        "listings.html",
        title="Listings",
        manifest=hub.plugins.manifest(plugin_id),
        rows=[view for _, view in rows[:PAGE]],
        more=rows[PAGE - 1][0] if len(rows) > PAGE else None,
        enabled=wanted if enabled is not None else "",
        sku=sku or "",
        base=f"{ADMIN}/tenants/{seg(request.state.tenant.slug)}/plugins/{seg(plugin_id)}",
    )


@post("/plugins/{plugin_id:str}/listings", include_in_schema=False)
async def set_listings(request: Request[Any, Any, Any], plugin_id: str) -> Redirect:
    """Enable or disable the ticked listings, or the SKUs typed (one per line)."""
    form = await posted_form(request)
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    install_id = await blocking(lambda: _install_id(request, plugin_id))
    enable = form.get("set") == "enable"
    try:
        ticked = list(form.getall("sku"))
    except KeyError:
        ticked = []
    typed = [line.strip() for line in str(form.get("skus") or "").splitlines() if line.strip()]
    skus = list(dict.fromkeys([str(s) for s in ticked] + typed))
    back = f"{ADMIN}/tenants/{seg(tenant.slug)}/plugins/{seg(plugin_id)}/listings"
    if not skus:
        return redirect(request, back, ("error", "Tick some listings or type SKUs first."))
    if len(skus) > core_listings.MAX_LISTINGS_PER_CALL:
        return redirect(request, back, ("error", "At most 1000 SKUs at a time."))

    def store() -> dict[str, int]:
        with hub.db.session() as session:
            return core_listings.put_listings(
                session, tenant.id, install_id, [(sku, enable) for sku in skus]
            )

    try:
        result = await blocking(store)
    except HubError as exc:
        named = ", ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items())
        return redirect(request, back, ("error", f"Nothing changed: {exc.detail} {named}".strip()))
    word = "enabled" if enable else "disabled"
    return redirect(
        request,
        back,
        (
            "ok",
            f"{len(skus)} listing(s) {word} ({result['created']} new, {result['updated']} changed).",
        ),
    )
