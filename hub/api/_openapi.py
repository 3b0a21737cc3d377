"""The OpenAPI document says what the server does: constraints, codes, headers and links.

Litestar builds the document from the handlers; this module fills in what it cannot know
(the conventions are in ``docs/api.md``):

* :class:`ClosedObjectsPlugin` marks the body models that refuse unknown fields (msgspec
  ``forbid_unknown_fields=True``, pydantic ``extra="forbid"``) with
  ``additionalProperties: false``;
* :func:`errors` documents a handler's own error answers (409, 412, 403 …) with the error
  shape; :func:`complete_document` adds the answers every route of a kind can give (401 with
  ``WWW-Authenticate``, 429 with ``Retry-After``, 404 under a tenant, 400/413/422 for a body,
  422 for constrained parameters, 400 for a malformed cursor, 500) and the links;
* :func:`links` declares, on a handler, the OpenAPI links from its success answers to the
  operations that take the ids it returns (a created tenant to its routes, an order to its
  detail, cancel and exports …), so generated clients and stateful tests follow real ids;
* :class:`AllowHeader` makes ``OPTIONS`` answer ``Allow`` with exactly the methods of the
  path (Litestar's own answer lists only the methods of one of a path's routers).

The document is completed once per app, lazily, when it is first rendered
(:func:`render_plugins`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Litestar, Request

# Litestar keeps its msgspec schema builder private; the closed-object plugin extends it.
from litestar._openapi.schema_generation.plugins import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)
from litestar.plugins import OpenAPISchemaPlugin
from litestar.plugins.pydantic import PydanticSchemaPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope
from litestar.typing import FieldDefinition
from pydantic import BaseModel

from hub.api._errors import ErrorBody

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema

__all__ = [
    "ERROR_DESCRIPTIONS",
    "TENANT_PATH",
    "AllowHeader",
    "ClosedObjectsPlugin",
    "Link",
    "complete_document",
    "errors",
    "links",
    "render_plugins",
]

TENANT_PATH = "/api/v1/tenants/{slug}"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: the body is not JSON, or the cursor is not one this API gave",
    401: "No key, or a key that is not valid (`WWW-Authenticate: Bearer`)",
    403: "The key may not do this",
    404: "Not found (another tenant's resources answer the same)",
    409: "Conflict with the stored state; `detail` says why",
    412: "`If-Match` does not match the current ETag: `detail` names the change in between; "
    "nothing was changed",
    413: "The request body is too large",
    422: "Validation failed; `fields` names each field and why",
    429: "Too many requests for this key; wait `Retry-After` seconds",
    500: "Internal error (never for bad input); nothing is leaked in `detail`",
    503: "Unavailable",
}


def errors(*codes: int, **descriptions: str) -> dict[int, ResponseSpec]:
    """Error answers of a handler, in the error shape: ``responses=errors(409, 412)``.

    A description given as ``e409="…"`` replaces the default one of that code. The answers
    every route of a kind gives (401, 429, 500, 404 under a tenant, 400/413/422 with a body)
    are added by :func:`complete_document`; list here what is the handler's own."""
    out: dict[int, ResponseSpec] = {}
    for code in codes:
        text = descriptions.get(f"e{code}", ERROR_DESCRIPTIONS.get(code, "Error"))
        out[code] = ResponseSpec(
            data_container=ErrorBody, description=text, generate_examples=False
        )
    return out


# -- links -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from a handler's success answers to another operation.

    ``target`` is ``"METHOD /path/template"``, or with ``under=True`` a path prefix
    (``"* /api/v1/tenants/{slug}"``): one link to every operation at or under it.
    ``parameters`` maps the target's parameter names to runtime expressions
    (``$response.body#/number``, ``$request.path.slug``)."""

    target: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    under: bool = False
    description: str = ""


def links(*items: Link) -> dict[str, Any]:
    """The handler ``opt`` that declares its links: ``@post(..., opt=links(Link(...)))``."""
    return {"openapi_links": tuple(items)}


# -- closed objects ------------------------------------------------------------------------


def _refuses_unknown_fields(annotation: Any) -> str | None:
    if isinstance(annotation, type):
        if issubclass(annotation, msgspec.Struct):
            config = getattr(annotation, "__struct_config__", None)
            return "struct" if getattr(config, "forbid_unknown_fields", False) else None
        if issubclass(annotation, BaseModel):
            return "pydantic" if annotation.model_config.get("extra") == "forbid" else None
    return None


class ClosedObjectsPlugin(OpenAPISchemaPlugin):
    """``additionalProperties: false`` on the models that refuse unknown fields.

    Litestar documents every object as open; a client (or a property-based test) that sends
    an extra field to a closed model is refused with 422, so the document must say so."""

    __slots__ = ("_pydantic", "_struct")

    def __init__(self) -> None:
        self._struct = StructSchemaPlugin()
        self._pydantic = PydanticSchemaPlugin()

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return not field_definition.is_union and bool(
            _refuses_unknown_fields(field_definition.annotation)
        )

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        kind = _refuses_unknown_fields(field_definition.annotation)
        base = self._struct if kind == "struct" else self._pydantic
        schema = base.to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


# -- completing the document ---------------------------------------------------------------


def _error_response(code: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if code == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "`Bearer`",
                "required": True,
                "schema": {"type": "string"},
            }
        }
    elif code == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before the next request with this key",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _common_codes(path: str, operation: dict[str, Any]) -> dict[int, str | None]:
    """The answers every operation of this kind can give, with their descriptions."""
    codes: dict[int, str | None] = {500: None}
    if path.startswith("/api/"):
        codes |= {401: None, 429: None}
    if path == TENANT_PATH or path.startswith(TENANT_PATH + "/"):
        codes[404] = None
    parameters = [p for p in operation.get("parameters", []) if isinstance(p, dict)]
    if "requestBody" in operation:
        codes |= {400: "Malformed request: the body is not JSON", 413: None, 422: None}
    if any(p.get("name") != "slug" for p in parameters):
        codes[422] = None
    if any(p.get("name") == "cursor" and p.get("in") == "query" for p in parameters):
        codes[400] = (
            ERROR_DESCRIPTIONS[400]
            if "requestBody" in operation
            else "Malformed cursor: not one this API gave (`error: bad_cursor`)"
        )
    return codes


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS and isinstance(operation, dict):
                yield path, method, operation


def _handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                yield route.path_format, method.lower(), handler


def _expand(link: Link, doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    method, _, path = link.target.partition(" ")
    for target_path, target_method, operation in _operations(doc):
        if link.under:
            if not (target_path == path or target_path.startswith(path + "/")):
                continue
        elif (target_path, target_method) != (path, method.lower()):
            continue
        names = {p.get("name") for p in operation.get("parameters", []) if isinstance(p, dict)}
        parameters = {k: v for k, v in link.parameters.items() if k in names}
        body: dict[str, Any] = {"operationId": operation["operationId"], "parameters": parameters}
        if link.description:
            body["description"] = link.description
        yield operation["operationId"], body


def _drop_null(schema: dict[str, Any]) -> None:
    # A string parameter (query, path, header) can be absent, never null: Litestar documents
    # ``str | None = None`` as ``oneOf: [string, null]``, and reads "null" as that string.
    branches = schema.get("oneOf")
    if not isinstance(branches, list):
        return
    kept = [b for b in branches if b != {"type": "null"}]
    # Only for strings: Litestar reads the query value "null" of an optional number or
    # boolean as null, so there the null branch is true.
    if (
        len(kept) == 1
        and len(kept) < len(branches)
        and isinstance(kept[0], dict)
        and kept[0].get("type") == "string"
    ):
        del schema["oneOf"]
        for key, value in kept[0].items():
            schema.setdefault(key, value)


def _is_litestar_validation_answer(response: Any) -> bool:
    # Litestar documents a 400 ``{status_code, detail, extra}`` for every handler with
    # parameters; this API answers validation errors with 422 in the error shape instead.
    schema = (response.get("content") or {}).get("application/json", {}).get("schema", {})
    return isinstance(schema, dict) and "status_code" in (schema.get("properties") or {})


def complete_document(doc: dict[str, Any], app: Litestar) -> None:
    """Add the common answers and the declared links to a rendered document (in place)."""
    for path, _method, operation in _operations(doc):
        responses = operation.setdefault("responses", {})
        if _is_litestar_validation_answer(responses.get("400", {})):
            del responses["400"]
        for response in responses.values():
            for header in (response.get("headers") or {}).values():
                header.setdefault("schema", {"type": "string"})
        for parameter in operation.get("parameters", []):
            if isinstance(parameter, dict) and isinstance(parameter.get("schema"), dict):
                _drop_null(parameter["schema"])
        for code, description in _common_codes(path, operation).items():
            common = _error_response(code, description)
            response = responses.setdefault(str(code), common)
            if "headers" in common:  # 401 and 429 always carry their header
                response.setdefault("headers", {}).update(common["headers"])
        operation["responses"] = dict(sorted(responses.items()))
    for path, method, handler in _handlers(app):
        declared: tuple[Link, ...] = handler.opt.get("openapi_links", ())
        operation = doc.get("paths", {}).get(path, {}).get(method)
        if not declared or operation is None:
            continue
        found: dict[str, dict[str, Any]] = {}
        for link in declared:
            found.update(_expand(link, doc))
        if not found:
            raise LookupError(f"the links of {method.upper()} {path} match no operation")
        for code, response in operation["responses"].items():
            if code.startswith("2"):
                response.setdefault("links", {}).update(found)


def _completed(request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> dict[str, Any]:
    state = request.app.state
    if state.get("openapi_completed") is not openapi_schema:
        complete_document(openapi_schema, request.app)
        state["openapi_completed"] = openapi_schema
    return openapi_schema


class _Completing(OpenAPIRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, _completed(request, openapi_schema))  # type: ignore[safe-super]


class _Swagger(_Completing, SwaggerRenderPlugin):
    pass


class _Redoc(_Completing, RedocRenderPlugin):
    pass


class _Json(_Completing, JsonRenderPlugin):
    pass


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger at ``/schema``, Redoc and ``/schema/openapi.json``, all of the completed
    document (for ``OpenAPIConfig(render_plugins=...)``)."""
    return [_Swagger(), _Redoc(), _Json()]


# -- Allow ---------------------------------------------------------------------------------


class AllowHeader:
    """``before_send`` hook: an ``OPTIONS`` answer's ``Allow`` lists every method of the path.

    Litestar answers ``OPTIONS`` from the first router that registered the path, so a path
    served by two routers (``GET`` and ``POST /tenants``) listed only some of its methods.
    A ``405`` already carries the full list. The methods are read from the app's routes on
    the first ``OPTIONS`` request."""

    def __init__(self) -> None:
        self.allow: dict[str, str] | None = None

    @staticmethod
    def methods_by_path(app: Litestar) -> dict[str, str]:
        """Every path template of ``app`` and its ``Allow`` value."""
        methods: dict[str, set[str]] = {}
        for path, method, _handler in _handlers(app):
            methods.setdefault(path, {"OPTIONS"}).add(method.upper())
        return {path: ", ".join(sorted(m)) for path, m in methods.items()}

    async def __call__(self, message: Message, scope: Scope) -> None:
        if (
            message["type"] != "http.response.start"
            or scope["type"] != "http"
            or scope.get("method") != "OPTIONS"
        ):
            return
        if self.allow is None:
            self.allow = self.methods_by_path(scope["app"])
        allow = self.allow.get(scope.get("path_template") or "")
        if allow is not None:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            headers.append((b"allow", allow.encode()))
            message["headers"] = headers
