"""Pages, redirects with flash messages, and posted forms (checked for their CSRF token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import anyio.to_thread
from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from hub.admin._auth import CsrfRefused, hub_of, signer_of
from hub.admin._session import FLASH_COOKIE, SESSION_COOKIE
from hub.api._auth import Caller
from hub.core.tenants import TenantInfo

__all__ = [
    "ADMIN",
    "blocking",
    "cookie",
    "page",
    "posted_form",
    "redirect",
    "seg",
]

ADMIN = "/admin"
T = TypeVar("T")


def seg(value: Any) -> str:
    """A value as one URL path segment (an order number may hold a slash)."""
    return quote(str(value), safe="")


def secure(request: Request[Any, Any, Any]) -> bool:
    """Cookies are ``Secure`` when the hub's public URL is https."""
    return hub_of(request).settings.public_url.startswith("https://")


def cookie(
    request: Request[Any, Any, Any], key: str, value: str, *, max_age: int | None = None
) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path=ADMIN,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        max_age=max_age,
    )


def _expired(request: Request[Any, Any, Any], key: str, path: str = ADMIN) -> Cookie:
    return Cookie(
        key=key,
        value="",
        path=path,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        max_age=0,
        expires=0,
    )


def page(
    request: Request[Any, Any, Any],
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A page of the console: ``template`` with the viewer, the CSRF token, the tenant (on
    tenant pages) and the flash messages (read once, then cleared)."""
    hub = hub_of(request)
    signer = signer_of(hub)
    flashed = request.cookies.get(FLASH_COOKIE)
    viewer: Caller | None = getattr(request.state, "viewer", None)
    tenant: TenantInfo | None = getattr(request.state, "tenant", None)
    context.setdefault("tenant", tenant)
    context.setdefault("title", "Hub console")
    response = Template(
        template_name=template,
        context={
            "viewer": viewer,
            "csrf_token": getattr(request.state, "csrf_token", ""),
            "messages": signer.load_flash(flashed),
            "path": request.url.path,
            "seg": seg,
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    if flashed:
        response.cookies.append(_expired(request, FLASH_COOKIE))
    return response


def redirect(
    request: Request[Any, Any, Any],
    to: str,
    *messages: tuple[str, str],
    extra_cookies: list[Cookie] | None = None,
) -> Redirect:
    """303 to ``to`` (POST-redirect-GET) with flash messages: ``("ok" | "error", text)``."""
    response = Redirect(path=to, status_code=303)
    if messages:
        signer = signer_of(hub_of(request))
        response.cookies.append(cookie(request, FLASH_COOKIE, signer.dump_flash(list(messages))))
    response.cookies.extend(extra_cookies or [])
    return response


def logout_cookies(request: Request[Any, Any, Any]) -> list[Cookie]:
    return [_expired(request, SESSION_COOKIE)]


async def posted_form(request: Request[Any, Any, Any]) -> Any:
    """The posted form, after checking its CSRF token against the session (403 if not)."""
    form = await request.form()
    session = getattr(request.state, "console", None)
    token = form.get("_csrf")
    signer = signer_of(hub_of(request))
    if session is None or not signer.csrf_ok(session.session_id, str(token) if token else None):
        raise CsrfRefused("the form's CSRF token is missing or wrong; reload the page")
    return form


async def blocking(fn: Callable[[], T]) -> T:
    """``fn()`` (core services, which use the database) off the event loop."""
    return await anyio.to_thread.run_sync(fn)
