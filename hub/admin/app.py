"""The console's router (mounted by :func:`hub.api.app.create_app` at ``/admin``), its template
engine and how its errors look (HTML pages, never the API's JSON).

Layout of the routes::

    /admin/static/…                          our CSS and script (no auth)
    /admin/login, /admin/logout              the session
    /admin/                                  to the viewer's start page
    /admin/tenants                           guard ``console_session``
    /admin/tenants/{slug}/…                  guard ``console_tenant`` (404 for another tenant)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response, Router
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from hub.admin import installs, listings, login, orders, pending, runs, tenants
from hub.admin._auth import (
    CsrfRefused,
    LoginRequired,
    PageNotFound,
    console_session,
    console_tenant,
)
from hub.admin._render import ADMIN, logout_cookies, page, redirect
from hub.admin.filters import FILTERS
from hub.core.errors import HubError

__all__ = ["ADMIN", "build_admin_router", "template_config"]

log = logging.getLogger("hub.admin")
HERE = Path(__file__).parent


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja2 (autoescaped, strict about undefined names) over ``hub/admin/templates``."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def _error_page(request: Request[Any, Any, Any], status: int, title: str, detail: str) -> Template:
    return page(request, "error.html", status_code=status, title=title, detail=detail)


def _login_required(request: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    target = f"{ADMIN}/login?next={quote(exc.next_path, safe='')}"
    messages = [("error", exc.message)] if exc.message else []
    return redirect(request, target, *messages, extra_cookies=logout_cookies(request))


def _csrf_refused(request: Request[Any, Any, Any], exc: CsrfRefused) -> Template:
    return _error_page(request, 403, "Refused", str(exc))


def _not_found(request: Request[Any, Any, Any], exc: PageNotFound) -> Template:
    return _error_page(request, 404, "Not found", "There is no such page here.")


def _hub_error(request: Request[Any, Any, Any], exc: HubError) -> Template:
    status = 404 if exc.status == 404 else exc.status
    return _error_page(request, status, "Not found" if status == 404 else "Refused", exc.detail)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Template | Redirect:
    status = exc.status_code
    titles = {400: "Bad request", 404: "Not found", 405: "Not allowed", 413: "Too large"}
    return _error_page(request, status, titles.get(status, "Error"), str(exc.detail))


def _crash(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.exception("console page %s failed", request.url.path)
    return _error_page(request, 500, "Something went wrong", "The error was logged.")


def build_admin_router() -> Router:
    """Every console route under ``/admin``, with its guards and error pages."""
    tenant_pages = Router(
        "/tenants/{slug:str}",
        guards=[console_session, console_tenant],
        route_handlers=[
            tenants.tenant_page,
            tenants.put_location,
            installs.install_page,
            installs.save_install,
            installs.install_field_page,
            installs.save_install_field,
            installs.test_connection,
            installs.start_connect,
            installs.disconnect,
            installs.queue_job,
            installs.run_action_get,
            installs.run_action_post,
            listings.listings_page,
            listings.set_listings,
            pending.pending_page,
            runs.runs_page,
            runs.run_page,
            runs.run_json,
            runs.run_report,
            orders.orders_page,
            orders.order_page,
            orders.retry_export,
            orders.cancel_order,
        ],
    )
    signed_in = Router(
        "/",
        guards=[console_session],
        route_handlers=[tenants.tenants_page, tenants.create_tenant],
    )
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], include_in_schema=False, cache_control=None
    )
    return Router(
        ADMIN,
        route_handlers=[
            static,
            login.login_page,
            login.login,
            login.logout,
            login.index,
            signed_in,
            tenant_pages,
        ],
        exception_handlers={
            LoginRequired: _login_required,
            CsrfRefused: _csrf_refused,
            PageNotFound: _not_found,
            HubError: _hub_error,
            HTTPException: _http_error,
            Exception: _crash,
        },
        include_in_schema=False,
    )
