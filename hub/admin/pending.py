"""The pending mappings of a stock-master install (Lightspeed Retail): the vendor's items that
do not sync, with their reason, a page at a time, and the CSV of all of them.

The page runs the plugin's ``pending-mappings`` action as the API does (``run_action``: JSON
pages with ``cursor``, ``limit`` and ``reason``); the download is the same action's CSV
(``…/actions/pending-mappings``). A row's ``item_id``, ``item``, ``description``, ``reason``,
``explanation`` and ``seen_at`` have columns of their own; any other value of the rows gets a
column named after its key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.response import Template

from hub.admin import forms
from hub.admin._auth import PageNotFound, hub_of
from hub.admin._render import ADMIN, page, seg
from hub.admin.installs import PENDING_ACTION
from hub.api._auth import Caller
from hub.core.errors import HubError, NotFound
from hub.core.tenants import TenantInfo

__all__ = ["PAGE", "pending_page"]

PAGE = 50
_OWN_COLUMNS = ("item_id", "item", "description", "reason", "explanation", "seen_at")


def _seen(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _rows(items: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The extra columns (keys beyond the row's own, in order) and each row for the page."""
    rows = [r for r in items if isinstance(r, dict)]
    extra: list[str] = []
    for row in rows:
        extra.extend(k for k in row if k not in _OWN_COLUMNS and k not in extra)
    shown = [
        {
            "item_id": forms.display(row.get("item_id")),
            "item": forms.display(row.get("item")),
            "description": forms.display(row.get("description")),
            "reason": forms.display(row.get("reason")),
            "explanation": forms.display(row.get("explanation")),
            "seen": _seen(row.get("seen_at")),
            "extra": [forms.display(row.get(k)) for k in extra],
        }
        for row in rows
    ]
    return extra, shown


@get("/plugins/{plugin_id:str}/pending", sync_to_thread=True, include_in_schema=False)
def pending_page(request: Request[Any, Any, Any], plugin_id: str) -> Template:
    """50 pending items a page (``cursor`` from the previous page's "Next"), optionally of
    one ``reason``; a refusal (a reason the plugin does not know, a disabled install) is
    shown on the page."""
    hub = hub_of(request)
    viewer: Caller = request.state.viewer
    tenant: TenantInfo = request.state.tenant
    try:
        manifest = hub.plugins.manifest(plugin_id)
        hub.install_view(tenant.id, plugin_id)
    except NotFound:
        raise PageNotFound(f"no install {plugin_id!r}") from None
    if manifest.action(PENDING_ACTION) is None:
        raise PageNotFound(f"{plugin_id!r} lists no pending mappings")
    query = request.query_params
    cursor = str(query.get("cursor") or "").strip()[:32]
    reason = str(query.get("reason") or "").strip()[:64]
    try:
        start = max(0, int(str(query.get("start") or "0")))
    except ValueError:
        start = 0
    params = {"limit": str(PAGE)}
    if cursor:
        params["cursor"] = cursor
    if reason:
        params["reason"] = reason
    problem, status = "", 200
    data: dict[str, Any] = {}
    try:
        answer = hub.run_action(tenant.id, plugin_id, PENDING_ACTION, params, actor=viewer.actor)
        data = answer.data if isinstance(answer.data, dict) else {}
    except HubError as exc:
        if exc.status == 404:
            raise
        named = "; ".join(
            f"{k.removeprefix('params.')}: {v}" for k, v in (exc.fields or {}).items()
        )
        problem = f"{exc.detail} ({named})" if named else exc.detail
        status = exc.status
    items = data.get("items")
    columns, rows = _rows(items if isinstance(items, list) else [])
    total = data.get("total")
    base = f"{ADMIN}/tenants/{seg(tenant.slug)}/plugins/{seg(plugin_id)}"
    return page(
        request,
        "pending.html",
        status_code=status,
        title=f"Pending mappings — {manifest.title}",
        manifest=manifest,
        base=base,
        rows=rows,
        columns=columns,
        total=total if isinstance(total, int) else None,
        next_cursor=data.get("next_cursor"),
        start=start,
        cursor=cursor,
        reason=reason,
        problem=problem,
        csv_url=f"{base}/actions/{PENDING_ACTION}",
    )
