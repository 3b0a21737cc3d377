"""Plugin actions: ``GET`` or ``POST /api/v1/tenants/{slug}/plugins/{plugin_id}/actions/{action}``.

An action is run with the method its manifest declares (``GET /api/v1/plugins`` lists them);
the other method answers 405 with ``Allow``. A POST takes ``{"params": {…}}`` (no other
field); a GET takes its parameters from the query string (as strings). ``format`` is reserved
for the answer's format: ``format=csv`` where the action returns CSV answers ``text/csv``;
otherwise the answer is JSON ``{"data": …}`` (a CSV action's rows as objects when the plugin
gives no ``data``). A parameter the action does not declare is refused (422 naming
``params.<name>``), so nothing runs on a typo.

An action that returns a redirect (e.g. "open the vendor's back office") answers
``303 See Other`` with ``Location`` *and* the body ``{"redirect": url}``: a browser form
follows it, and a client that does not follow redirects reads the URL from the body.

404 for an unknown plugin, action or install (or another tenant's: the tenant scope); 409 when
the install is disabled or the action needs a connection it does not have; see
:meth:`hub.core.hub.Hub.run_action`.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from hub.api._auth import Caller
from hub.api._errors import ERROR_RESPONSES, ApiError, ErrorBody
from hub.core.errors import Invalid, NotFound
from hub.core.hub import Hub
from hub.core.tenants import TenantInfo

__all__ = ["ActionAnswer", "ActionIn", "ActionRedirect", "build_router"]

PluginId = Annotated[str, Parameter(max_length=64, description="e.g. lightspeed_pos")]
ActionName = Annotated[
    str, Parameter(max_length=64, description="an action the plugin's manifest declares")
]
AnswerFormat = Annotated[
    Literal["json", "csv"] | None,
    Parameter(
        query="format",
        required=False,
        description="`csv` for a CSV action's text (`text/csv`); JSON `{data}` otherwise",
    ),
]
FORMAT_PARAM = "format"


class ActionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The parameters of a POST action (names as the manifest's ``params`` declares)."""

    params: dict[str, Any] = msgspec.field(default_factory=dict)


class ActionAnswer(msgspec.Struct):
    """What a JSON (or CSV, as rows) action answered."""

    data: Any


class ActionRedirect(msgspec.Struct):
    """Where a redirect action sends the caller (also in ``Location``)."""

    redirect: str


RESPONSES: dict[int, ResponseSpec] = {
    **ERROR_RESPONSES,
    303: ResponseSpec(
        data_container=ActionRedirect,
        description="A redirect action: `Location` and the body name the URL",
        generate_examples=False,
    ),
    405: ResponseSpec(
        data_container=ErrorBody,
        description="The action is run with the other method (see `Allow`)",
        generate_examples=False,
    ),
}


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _run(
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: str,
    action: str,
    method: str,
    params: dict[str, Any],
    answer_format: str | None,
) -> Response[Any]:
    spec = hub.plugins.manifest(plugin_id).action(action)
    if spec is None:
        raise NotFound(f"plugin {plugin_id!r} has no action {action!r}")
    if spec.method != method:
        raise ApiError(
            405,
            f"the {action} action is run with {spec.method}",
            headers={"Allow": spec.method},
        )
    if answer_format == "csv" and spec.returns != "csv":
        raise Invalid(
            f"the {action} action does not answer CSV",
            fields={FORMAT_PARAM: "only an action that returns CSV has format=csv"},
        )
    result = hub.run_action(tenant.id, plugin_id, action, params, actor=caller.actor)
    if spec.returns == "redirect":
        if not result.redirect:
            raise RuntimeError(f"action {plugin_id}/{action} gave no redirect URL")
        return Response(
            ActionRedirect(result.redirect),
            status_code=303,
            headers={"Location": result.redirect},
        )
    if spec.returns == "csv":
        if answer_format == "csv":
            return Response(result.csv_text() or "", media_type="text/csv; charset=utf-8")
        data = result.data if result.data is not None else _csv_rows(result.csv_text() or "")
        return Response(ActionAnswer(data))
    return Response(ActionAnswer(result.data))


@get(
    "/{plugin_id:str}/actions/{action:str}",
    sync_to_thread=True,
    responses=RESPONSES,
    summary="Run a GET action",
)
def run_get_action(
    request: Request[Any, Any, Any],
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: PluginId,
    action: ActionName,
    answer_format: AnswerFormat = None,
) -> Response[ActionAnswer]:
    """Run an action declared with ``GET``; its parameters are the query string's (all but
    ``format``). ``{data}``, ``text/csv`` with ``format=csv``, or 303 for a redirect."""
    params = {k: v for k, v in request.query_params.items() if k != FORMAT_PARAM}
    return _run(hub, tenant, caller, plugin_id, action, "GET", params, answer_format)


@post(
    "/{plugin_id:str}/actions/{action:str}",
    status_code=200,
    sync_to_thread=True,
    responses=RESPONSES,
    summary="Run a POST action",
)
def run_post_action(
    hub: Hub,
    tenant: TenantInfo,
    caller: Caller,
    plugin_id: PluginId,
    action: ActionName,
    data: ActionIn | None = None,
    answer_format: AnswerFormat = None,
) -> Response[ActionAnswer]:
    """Run an action declared with ``POST`` with ``{"params": {…}}`` (audited).
    ``{data}``, ``text/csv`` with ``format=csv``, or 303 for a redirect."""
    params = data.params if data is not None else {}
    return _run(hub, tenant, caller, plugin_id, action, "POST", params, answer_format)


def build_router() -> Router:
    """``/plugins/{plugin_id}/actions/{action}`` under ``/api/v1/tenants/{slug}``."""
    return Router("/plugins", route_handlers=[run_get_action, run_post_action], tags=["actions"])
