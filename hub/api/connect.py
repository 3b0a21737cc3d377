"""Connecting an install through OAuth 2: ``connect``, ``disconnect`` and the public callback.

``POST /api/v1/tenants/{slug}/plugins/{plugin_id}/connect`` (optional body
``{"return_to": "/admin/…"}``) answers ``{authorize_url}``: send the user's browser there. The
URL carries a single-use ``state`` that expires in 10 minutes, bound to this install and to the
key that asked. 404 for an unknown plugin or install (or another tenant's, as everywhere);
409 for a plugin that does not connect through OAuth; 422 for a ``return_to`` that is not a
same-origin path of the admin console (``/admin/…``; no scheme, host, fragment, backslash or
``..`` out of it). ``POST …/disconnect`` drops the tokens and answers the install
(``status: not_connected``).

``GET /oauth/callback`` is the hub's one redirect URI (``{HUB_PUBLIC_URL}/oauth/callback``),
public — no API key: the ``state`` is the credential. It answers a small self-contained HTML
page (every value escaped; no script, no third-party asset; ``Content-Security-Policy:
default-src 'none'``, ``Referrer-Policy: no-referrer``, ``Cache-Control: no-store``):

============  ==================================================================================
status        when
============  ==================================================================================
200           connected; the page names the account
400           the callback itself cannot be honoured: the ``state`` is missing, unknown, expired
              or used already, or the vendor sent no ``code``
409           the state was good but the connection was refused: the vendor sent ``error``
              (e.g. ``access_denied``: consent denied) or the code exchange / account check
              was refused or failed
429           too many callbacks from this address (``Retry-After``)
303           the connect was started with ``return_to``: back to it with ``connected=1``, or
              ``connected=0&reason=<reason>`` (see :data:`hub.core.connections.REFUSALS`)
============  ==================================================================================

Whatever the answer, nothing but the audit log changes unless the page says "connected" (see
:mod:`hub.core.connections`).
"""

from __future__ import annotations

import html
import math
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import MediaType, Request, Response, Router, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Redirect

from hub.api._auth import Caller, RateLimiter
from hub.api._openapi import errors
from hub.api.plugins import InstallOut
from hub.core.connections import ConnectOutcome
from hub.core.hub import Hub
from hub.core.tenants import TenantInfo

__all__ = [
    "CALLBACK_PATH",
    "ConnectIn",
    "ConnectOut",
    "build_callback_router",
    "build_router",
    "callback_status",
    "render_page",
]

CALLBACK_PATH = "/oauth/callback"
PluginId = Annotated[str, Parameter(max_length=64, description="e.g. lightspeed_pos")]
ReturnTo = Annotated[
    str,
    msgspec.Meta(
        max_length=500,
        pattern="^/admin/",
        description="A path of the admin console to come back to after the callback (303)",
    ),
]

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
HEADINGS = {
    "connected": "Connected",
    "unknown_state": "This connection link is not known",
    "expired_state": "This connection link expired",
    "used_state": "This connection link was used already",
    "denied": "Not authorised",
    "missing_code": "No authorisation code",
    "refused": "Not connected",
}
STATUSES = {
    "connected": 200,
    "unknown_state": 400,
    "expired_state": 400,
    "used_state": 400,
    "missing_code": 400,
    "denied": 409,
    "refused": 409,
}


class ConnectIn(msgspec.Struct, forbid_unknown_fields=True):
    """Where the admin console wants the callback to send the user back (optional)."""

    return_to: ReturnTo | None = None


class ConnectOut(msgspec.Struct):
    """Send the user's browser to ``authorize_url`` (valid 10 minutes, once)."""

    authorize_url: str


@post(
    "/{plugin_id:str}/connect",
    status_code=200,
    sync_to_thread=True,
    responses=errors(409, e409="The plugin does not connect through OAuth"),
    summary="Start connecting an install (OAuth 2)",
)
def connect(
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: PluginId,
    data: ConnectIn | None = None,
) -> ConnectOut:
    """``{authorize_url}`` of the vendor, with a fresh single-use ``state`` (10 minutes)."""
    return_to = data.return_to if data is not None else None
    url = hub.connect(tenant.id, plugin_id, caller.actor, return_to=return_to)
    return ConnectOut(authorize_url=url)


@post(
    "/{plugin_id:str}/disconnect",
    status_code=200,
    sync_to_thread=True,
    responses=errors(409, e409="The plugin does not connect through OAuth"),
    summary="Disconnect an install (drop its tokens)",
)
def disconnect(hub: Hub, tenant: TenantInfo, caller: Caller, plugin_id: PluginId) -> InstallOut:
    """Drop the install's tokens and connection: the install with ``status: not_connected``."""
    hub.disconnect(tenant.id, plugin_id, caller.actor)
    return msgspec.convert(hub.install_view(tenant.id, plugin_id), InstallOut)


def _html(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=str, media_type=MediaType.HTML, description=description, examples=None
    )


@get(
    CALLBACK_PATH,
    sync_to_thread=True,
    media_type=MediaType.HTML,
    include_in_schema=True,
    responses={
        303: ResponseSpec(
            data_container=None,
            description="Back to the console's `return_to` with `connected=1`, or "
            "`connected=0&reason=…`",
            generate_examples=False,
        ),
        400: _html("The state is missing, unknown, expired or used already, or no code"),
        409: _html("Consent denied at the vendor, or the code exchange was refused"),
        429: _html("Too many callbacks from this address; see `Retry-After`"),
    },
    tags=["connect"],
    summary="OAuth 2 redirect URI (public)",
)
def oauth_callback(
    request: Request[Any, Any, Any],
    hub: Hub,
    # ``state`` is a name Litestar reserves for the app state: read the query under another.
    oauth_state: Annotated[
        str | None, Parameter(query="state", description="The state the hub made")
    ] = None,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response[str]:
    """Where the vendor sends the user back: finds the install by ``state``, lets the plugin
    exchange ``code``, and says what happened (an HTML page, or a 303 to the console)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    host = request.client.host if request.client else "unknown"
    wait = limiter.take(f"oauth-callback:{host}")
    if wait > 0:
        page = _page("Too many attempts", "Too many callbacks from this address; wait.", False)
        retry = str(max(1, math.ceil(wait)))
        return Response(page, status_code=429, headers={**PAGE_HEADERS, "Retry-After": retry})
    outcome = hub.finish_connect(oauth_state, code, error, error_description)
    if outcome.return_to:
        params = {"connected": "1"} if outcome.ok else {"connected": "0", "reason": outcome.reason}
        joiner = "&" if "?" in outcome.return_to else "?"
        return Redirect(
            f"{outcome.return_to}{joiner}{urlencode(params)}",
            status_code=303,
            headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
        )
    return Response(
        render_page(outcome),
        status_code=callback_status(outcome),
        media_type=MediaType.HTML,
        headers=PAGE_HEADERS,
    )


def callback_status(outcome: ConnectOutcome) -> int:
    """The HTTP status of the callback page for ``outcome`` (see the module docstring)."""
    return STATUSES[outcome.reason]


def render_page(outcome: ConnectOutcome) -> str:
    """The callback page: a heading and the outcome's sentence, every value escaped."""
    return _page(HEADINGS[outcome.reason], outcome.detail, outcome.ok)


def _page(heading: str, detail: str, ok: bool) -> str:
    heading_html = html.escape(heading)
    more = (
        "You can close this window."
        if ok
        else "Nothing was changed. You can close this window and try again from the hub."
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{heading_html}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;"
        "padding:0 1rem;color:#222}h1{font-size:1.4rem}.ok{color:#17663a}.no{color:#a3261b}"
        "</style></head><body>"
        f'<h1 class="{"ok" if ok else "no"}">{heading_html}</h1>'
        f"<p>{html.escape(detail)}</p><p>{html.escape(more)}</p>"
        "</body></html>\n"
    )


def build_router() -> Router:
    """``/plugins/{plugin_id}/connect`` and ``…/disconnect`` under ``/api/v1/tenants/{slug}``."""
    return Router("/plugins", route_handlers=[connect, disconnect], tags=["connect"])


def build_callback_router() -> Router:
    """``GET /oauth/callback`` (public: mounted outside ``/api/v1``, no key)."""
    return Router("/", route_handlers=[oauth_callback])
