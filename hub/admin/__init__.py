"""The admin console: the integrator's web pages at ``/admin``, served by ``hub serve``.

Server-rendered (Jinja2 through Litestar's template engine), every form works without
JavaScript (POST-redirect-GET with flash messages), our own small CSS and script only. The
console holds no rule of its own: each page calls the same core services as the REST API
(``Hub.configure_install``, ``install_view``, ``queue_job``, ``order_detail``,
``retry_export`` …) and shows their answers; anything it can do, the API can do. Config
forms are generated from each plugin's JSON Schema (:mod:`hub.admin.forms`), so a new plugin
gets its pages without new templates. See ``docs/admin.md``.
"""

from hub.admin.app import ADMIN, build_admin_router, template_config

__all__ = ["ADMIN", "build_admin_router", "template_config"]
