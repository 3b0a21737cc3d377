"""Logging in with an API key, and out; ``/admin`` sends each viewer to their start page."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from hub.admin._auth import CsrfRefused, console_session, hub_of, signer_of
from hub.admin._render import (
    ADMIN,
    blocking,
    cookie,
    logout_cookies,
    page,
    posted_form,
    redirect,
    seg,
)
from hub.admin._session import LOGIN_COOKIE, SESSION_COOKIE
from hub.api._auth import Caller
from hub.core import audit, connections
from hub.core.errors import Invalid
from hub.core.keys import verify_key

__all__ = ["index", "login", "login_page", "logout"]


def _next(value: Any) -> str:
    """Where to go after the login: a path of the console (the core's same-origin rule)."""
    try:
        checked = connections.checked_return_to(str(value or "")) if value else None
    except Invalid:
        checked = None
    return checked or f"{ADMIN}/"


def _login_page(
    request: Request[Any, Any, Any], *, status_code: int = 200, error: str = ""
) -> Template:
    signer = signer_of(hub_of(request))
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    response = page(
        request,
        "login.html",
        status_code=status_code,
        title="Log in",
        login_token=signer.csrf_token(f"login:{nonce}"),
        next_path=_next(request.query_params.get("next")),
        error=error,
    )
    response.cookies.append(cookie(request, LOGIN_COOKIE, nonce, max_age=3600))
    return response


@get("/login", sync_to_thread=False, include_in_schema=False)
def login_page(request: Request[Any, Any, Any]) -> Template:
    """The login form (a key, admin or tenant-scoped)."""
    return _login_page(request)


@post("/login", include_in_schema=False)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the key; open a session (a signed cookie) and go on to ``next``."""
    hub = hub_of(request)
    signer = signer_of(hub)
    form = await request.form()
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    token = str(form.get("_csrf") or "")
    if not nonce or not signer.csrf_ok(f"login:{nonce}", token):
        raise CsrfRefused("the login form is out of date; reload the page")
    key = str(form.get("api_key") or "").strip()

    def check() -> tuple[int, str, int | None, str] | None:
        with hub.db.session() as session:
            row = verify_key(session, key) if 0 < len(key) <= 200 else None
            if row is None or row.id is None:
                return None
            audit.record(
                session,
                actor=f"key:{row.prefix}" + (f" ({row.label})" if row.label else ""),
                action="console.login",
                tenant_id=row.tenant_id,
            )
            return row.id, row.key_hash, row.tenant_id, row.prefix

    found = await blocking(check)
    if found is None:
        return _login_page(
            request, status_code=401, error="That key is not valid (or was revoked)."
        )
    key_id, key_hash, _tenant_id, _prefix = found
    session = signer.new_session(key_id, key_hash)
    session_cookie = cookie(
        request, SESSION_COOKIE, signer.dump_session(session), max_age=signer.lifetime_seconds
    )
    return redirect(request, _next(form.get("next")), extra_cookies=[session_cookie])


@post("/logout", guards=[console_session], include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    """End the session (the cookie is dropped)."""
    await posted_form(request)
    return redirect(
        request,
        f"{ADMIN}/login",
        ("ok", "You are logged out."),
        extra_cookies=logout_cookies(request),
    )


@get("/", guards=[console_session], sync_to_thread=False, include_in_schema=False)
def index(request: Request[Any, Any, Any]) -> Redirect:
    """An admin starts at the tenants, a tenant key at its tenant."""
    viewer: Caller = request.state.viewer
    if viewer.tenant is not None:
        return Redirect(path=f"{ADMIN}/tenants/{seg(viewer.tenant.slug)}", status_code=303)
    return Redirect(path=f"{ADMIN}/tenants", status_code=303)
