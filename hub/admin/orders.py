"""Orders: the list (filter by status and export state) and one order (lines with shipped,
fulfilled and canceled quantities, payments and balance due, notes, shipments, one row per
export with "Retry" on a rejected or failed one, and "Cancel")."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from hub.admin._auth import PageNotFound, hub_of
from hub.admin._render import ADMIN, blocking, page, posted_form, redirect, seg
from hub.api._auth import Caller
from hub.core import exports, orders
from hub.core.errors import HubError, NotFound
from hub.core.tenants import TenantInfo
from hub.core.types import money

__all__ = ["cancel_order", "order_page", "orders_page", "retry_export"]

PAGE = 50
RETRYABLE = ("rejected", "failed")


def _choice(request: Request[Any, Any, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name) or None
    return value if value in allowed else None


@get("/orders", sync_to_thread=True, include_in_schema=False)
def orders_page(request: Request[Any, Any, Any]) -> Template:
    """The tenant's orders, newest first, 50 a page, each with its exports' states."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    status = _choice(request, "status", orders.ORDER_STATUSES)
    export_state = _choice(request, "export_state", exports.EXPORT_STATES)
    try:
        before = int(request.query_params.get("before") or 0) or None
    except ValueError:
        before = None
    with hub.db.read() as session:
        rows = orders.page_orders(
            session, tenant.id, status=status, export_state=export_state, before=before, limit=PAGE
        )
        shown = rows[:PAGE]
        by_order = exports.export_states_of(session, [o.id or 0 for o in shown])
    return page(
        request,
        "orders.html",
        title="Orders",
        orders=shown,
        exports_of=by_order,
        more=rows[PAGE - 1].id if len(rows) > PAGE else None,
        status=status,
        export_state=export_state,
        statuses=orders.ORDER_STATUSES,
        export_states=exports.EXPORT_STATES,
        money=money,
    )


@get("/orders/{number:str}", sync_to_thread=True, include_in_schema=False)
def order_page(request: Request[Any, Any, Any], number: str) -> Template:
    """One order, as the API's order detail shows it."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    try:
        detail = hub.order_detail(tenant.id, number)
    except NotFound:
        raise PageNotFound(f"no order {number!r}") from None
    return page(
        request,
        "order.html",
        title=f"Order {number}",
        order=detail,
        retryable=RETRYABLE,
        base=f"{ADMIN}/tenants/{seg(tenant.slug)}/orders/{seg(number)}",
    )


@post("/orders/{number:str}/exports/{plugin_id:str}/retry", include_in_schema=False)
async def retry_export(request: Request[Any, Any, Any], number: str, plugin_id: str) -> Redirect:
    """Put a rejected or failed export back to pending (the vendor is offered it again)."""
    await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    back = f"{ADMIN}/tenants/{seg(tenant.slug)}/orders/{seg(number)}"
    try:
        await blocking(lambda: hub.retry_export(tenant.id, number, plugin_id, actor=viewer.actor))
    except HubError as exc:
        return redirect(request, back + "#exports", ("error", f"Not retried: {exc.detail}"))
    return redirect(request, back + "#exports", ("ok", f"The {plugin_id} export is pending again."))


@post("/orders/{number:str}/cancel", include_in_schema=False)
async def cancel_order(request: Request[Any, Any, Any], number: str) -> Redirect:
    """Cancel the order (refused once shipped or completed)."""
    form = await posted_form(request)
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    reason = str(form.get("reason") or "").strip()[:1000]
    back = f"{ADMIN}/tenants/{seg(tenant.slug)}/orders/{seg(number)}"
    try:
        await blocking(lambda: hub.cancel_order(tenant.id, number, reason, actor=viewer.actor))
    except HubError as exc:
        return redirect(request, back, ("error", f"Not canceled: {exc.detail}"))
    return redirect(request, back, ("ok", f"Order {number} canceled."))
