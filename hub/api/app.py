"""The Litestar application of the hub: ``create_app(hub)``.

Layout of the routes::

    /healthz, /metrics                         no auth
    /oauth/callback                            no auth (the OAuth state is the credential)
    /schema (/schema/openapi.json, /schema/swagger, /schema/redoc …; see hub.api._openapi)
    /admin/…                                   the admin console (session cookie; see hub.admin)
    /api/v1/…                                  guard ``authenticate`` (401, 429)
        /plugins, /tenants                     POST /tenants: guard ``require_admin`` (403)
        /tenants/{slug}/…                      guard ``tenant_scope`` (404 for another tenant)
    plugin routes                              mounted as given (hub.plugins.http_routes())
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from hub.api import (
    actions,
    audit,
    catalog,
    connect,
    listings,
    ops,
    orders,
    plugins,
    runs,
    tenants,
    webhooks,
)
from hub.api._auth import (
    AuthCache,
    RateLimiter,
    authenticate,
    provide_caller,
    provide_hub,
    provide_tenant,
    tenant_scope,
)
from hub.api._bodies import strict_body
from hub.api._errors import exception_handlers
from hub.api._openapi import AllowHeader, ClosedObjectsPlugin, render_plugins
from hub.core.hub import Hub

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"


def build_api_router() -> Router:
    """Every ``/api/v1`` route, behind the key check; tenant routes behind the scope check."""
    tenant_collection, tenant_one = tenants.build_routers()
    tenant_router = Router(
        "/tenants/{slug:str}",
        guards=[tenant_scope],
        route_handlers=[
            tenant_one,
            plugins.build_installs_router(),
            actions.build_router(),
            connect.build_router(),
            listings.build_router(),
            catalog.build_router(),
            orders.build_router(),
            runs.build_router(),
            webhooks.build_router(),
            audit.build_router(),
        ],
    )
    return Router(
        API_PREFIX,
        guards=[authenticate],
        security=[{"BearerAuth": []}],
        route_handlers=[plugins.build_catalog_router(), tenant_collection, tenant_router],
    )


def create_app(hub: Hub) -> Litestar:
    """The hub's ASGI app; ``app.state.hub`` is ``hub`` (plugin routes fetch it there)."""
    # The console imports the API's auth records; imported here, not at the top, so that
    # either package can be imported first.
    from hub.admin import build_admin_router, template_config

    api_metrics = ops.ApiMetrics(hub)
    openapi = OpenAPIConfig(
        title="POS integration hub",
        version="1.0.0",
        description="Multi-tenant hub between webstores and Lightspeed POS / dealer systems.",
        path="/schema",
        render_plugins=render_plugins(),
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http", scheme="bearer", description="Authorization: Bearer <key>"
                ),
            }
        ),
        create_examples=False,
    )
    app = Litestar(
        route_handlers=[
            ops.build_router(),
            connect.build_callback_router(),
            build_api_router(),
            build_admin_router(),
            *hub.plugins.http_routes(),
        ],
        template_config=template_config(),
        dependencies={
            "hub": Provide(provide_hub, sync_to_thread=False),
            "caller": Provide(provide_caller, sync_to_thread=False),
            "tenant": Provide(provide_tenant, sync_to_thread=False),
        },
        exception_handlers=exception_handlers,
        before_send=[api_metrics.before_send, AllowHeader()],
        before_request=strict_body,
        plugins=[ClosedObjectsPlugin()],
        openapi_config=openapi,
        request_max_body_size=hub.settings.max_body_bytes,
    )
    app.state.hub = hub
    app.state.metrics = api_metrics
    app.state.auth_cache = AuthCache()
    app.state.rate_limiter = RateLimiter(hub.settings.api_rate_limit_per_minute)
    return app
