"""JSON bodies are checked against their msgspec types strictly: ``"true"`` is not a boolean.

Litestar converts request data with msgspec's lax rules (``strict=False``: the same pass
parses query strings), under which a body field documented as ``boolean`` or ``integer``
also takes the strings ``"true"`` or ``"5"``. The OpenAPI document says JSON types, so
before the handler runs, :func:`strict_body` decodes the body once more with the handler's
``data`` type in strict mode and answers 422 naming the field when a value has the wrong JSON
type. Bodies of pydantic models are left to pydantic (their models say what they take).
"""

from __future__ import annotations

import contextlib
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from hub.api._errors import ApiError

__all__ = ["strict_body"]

_NO_DECODER = object()
_decoders: dict[Any, Any] = {}
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def _has_struct(annotation: Any) -> bool:
    """Whether ``annotation`` is a Struct, or an optional / list / annotated Struct."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _has_struct(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _has_struct(args[0])
    if origin is list:
        return _has_struct(get_args(annotation)[0])
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def _decoder(handler: HTTPRouteHandler) -> Any:
    """The strict decoder of the handler's ``data`` type, kept per type (not per handler
    object: an id can be reused by another handler once the first is gone)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    annotation = getattr(data, "annotation", None)
    if annotation is None:
        return _NO_DECODER
    try:
        decoder = _decoders.get(annotation)
    except TypeError:  # an unhashable annotation: built each time
        decoder = None
    if decoder is None:
        decoder = _NO_DECODER
        if _has_struct(annotation):
            decoder = msgspec.json.Decoder(annotation, strict=True)
        with contextlib.suppress(TypeError):
            _decoders[annotation] = decoder
    return decoder


def _field(path: str | None) -> str:
    # "$.lines[0].sku" -> "lines.0.sku" (the dotted form of the API's other 422 answers)
    if not path:
        return "body"
    return re.sub(r"\[(\d+)\]", r".\1", path).lstrip(".") or "body"


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: 422 when the JSON body has a value of the wrong JSON type."""
    decoder = _decoder(request.route_handler)
    if decoder is _NO_DECODER:
        return
    body = await request.body()
    if not body.strip():
        return
    try:
        decoder.decode(body)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        message = match.group("message") if match else str(exc)
        path = match.group("path") if match else None
        raise ApiError(
            422, "the request is not valid", code="validation_error", fields={_field(path): message}
        ) from None
    except msgspec.DecodeError:
        return  # not JSON: Litestar answers 400 for it
