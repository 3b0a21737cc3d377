"""Routes vendors call (the DMS polls its Web Orders endpoints), owned by the core.

A plugin describes a route with :func:`vendor_route` and writes a plain function of a
:class:`VendorRequest`. The core does the rest: it finds the tenant and the plugin's install
from the path (``{tenant_slug}`` must be in it), limits the body, and runs the handler where
it belongs — on the event loop when the work never has to wait (a few short SQLite
statements), otherwise in a worker thread (see :mod:`hub.core.waiting`). A handler about to
do something slow on purpose (hash a password) calls :func:`call_blocking`; it never decides
itself where it runs, and never reads the web app's state.

A handler may be started twice: the first attempt is stopped *before* it changes anything
when it would have to wait, and the request runs again in a thread. Once an attempt has
written, it finishes where it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from litestar import Request, Response, route
from litestar.handlers import HTTPRouteHandler

from hub.core.errors import HubError
from hub.core.waiting import check_may_wait
from hub.plugin.context import PluginContext

__all__ = ["VendorHandler", "VendorRequest", "call_blocking", "vendor_route"]

log = logging.getLogger("hub.plugin.routes")
T = TypeVar("T")
HttpMethodName = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
DEFAULT_MAX_BODY_BYTES = 1_048_576


@dataclass(frozen=True)
class VendorRequest:
    """One request of a vendor, with the install it is for.

    ``ctx`` is None when the tenant, or its install of this plugin, does not exist — or when
    the install cannot be read (``problem`` then says why, e.g. unreadable secrets). The
    handler authenticates the vendor itself (its protocol decides how)."""

    tenant_slug: str
    ctx: PluginContext | None
    method: str
    headers: Mapping[str, str]
    body: bytes
    client_host: str
    path_params: dict[str, str] = field(default_factory=dict)
    problem: str = ""


VendorHandler = Callable[[VendorRequest], Response[Any]]


def call_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)``, which blocks or takes many milliseconds of CPU (a password hash).

    Inside a vendor route this first moves the request off the event loop when it is still
    there (nothing was changed yet); elsewhere it simply calls ``fn``."""
    check_may_wait()
    return fn(*args)


def vendor_route(
    path: str,
    *,
    plugin_id: str,
    name: str,
    methods: tuple[HttpMethodName, ...] = ("GET", "POST"),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Callable[[VendorHandler], HTTPRouteHandler]:
    """Make ``handler`` a route at ``path`` (which holds ``{tenant_slug:str}``) for the
    install of ``plugin_id``; return it from :func:`hub.plugin.spec.hub_http_routes`.

    Bodies over ``max_body_bytes`` are answered 413 by the server before the handler runs.
    The routes are not part of the hub's OpenAPI document (they follow the vendor's protocol).
    """
    if "{tenant_slug" not in path:
        raise ValueError(f"vendor route {path!r} must contain {{tenant_slug:str}}")

    def decorate(handler: VendorHandler) -> HTTPRouteHandler:
        async def endpoint(
            request: Request[Any, Any, Any], tenant_slug: str, body: bytes
        ) -> Response[Any]:
            services = request.app.state.hub
            params = {k: str(v) for k, v in request.path_params.items() if k != "tenant_slug"}
            client = request.client.host if request.client else ""

            def run() -> Response[Any]:
                problem = ""
                try:
                    ctx = services.context_for(tenant_slug, plugin_id)
                except HubError as exc:  # e.g. secrets unreadable with the configured keys
                    log.error("the %s install of %s cannot be read", plugin_id, tenant_slug)
                    ctx, problem = None, exc.detail
                return handler(
                    VendorRequest(
                        tenant_slug=tenant_slug,
                        ctx=ctx,
                        method=request.method,
                        headers=request.headers,
                        body=body,
                        client_host=client,
                        path_params=params,
                        problem=problem,
                    )
                )

            return await services.run_on_loop_or_thread(run)  # type: ignore[no-any-return]

        endpoint.__name__ = f"{plugin_id}_{name}".replace("-", "_")
        return route(
            path,
            http_method=list(methods),
            name=f"{plugin_id}-{name}",
            request_max_body_size=max_body_bytes,
            include_in_schema=False,
        )(endpoint)

    return decorate
