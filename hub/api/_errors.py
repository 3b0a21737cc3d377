"""The error shape of the API and the exception handlers that produce it.

Every error answers ``{"error": code, "detail": sentence, "fields": {...}?}``. Core errors
(:class:`~hub.core.errors.HubError`) carry their status and code; Litestar's own exceptions
(validation, 401/403/404/405/413/429) are mapped by status; anything else is a 500 whose
detail never echoes the exception (it may hold a secret).
"""

from __future__ import annotations

import logging
import re
from decimal import InvalidOperation
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError, IntegrityError

from hub.core.errors import HubError
from hub.core.installs import validation_fields

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "ErrorBody",
    "exception_handlers",
]

log = logging.getLogger("hub.api")

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The body of every error response."""

    error: str
    detail: str
    fields: dict[str, str] | None = None


class ApiError(HubError):
    """An error raised by the API layer itself (auth, scope, rate limit, paging)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, fields=fields)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.headers = headers or {}


def _error_response(
    status: int,
    code: str,
    detail: str,
    fields: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    body = ErrorBody(
        error=code,
        detail=detail,
        fields={str(k): str(v) for k, v in fields.items()} if fields else None,
    )
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _hub_error(_: Request[Any, Any, Any], exc: HubError) -> Response[ErrorBody]:
    headers = exc.headers if isinstance(exc, ApiError) else None
    return _error_response(exc.status, exc.code, exc.detail, exc.fields, headers)


def _data_model_fields(request: Request[Any, Any, Any]) -> set[str]:
    """Field names of the handler's body model (to name a model-level error's field)."""
    try:
        data = request.route_handler.parsed_fn_signature.parameters.get("data")
    except Exception:  # no handler resolved: a routing error
        return set()
    annotation = getattr(data, "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return set(annotation.model_fields)
    return set()


_LEADING_WORD = re.compile(r"^(?:Value error, )?([a-z_][a-z0-9_]*)\b")


def _validation_fields(request: Request[Any, Any, Any], exc: ValidationException) -> dict[str, str]:
    """Litestar's error list as ``{"dotted.field": reason}``.

    Body fields come as dotted paths (``lines.0.sku``); query, path and header parameters
    by their name. A model-level error (no field) names the field its message starts with
    when that is a field of the body model (``total …`` → ``total``), else ``body``.
    """
    fields: dict[str, str] = {}
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        key = item.get("key")
        if key and message == repr(str(key)):
            # Litestar re-checks every signature field after a body error and reports the
            # router's path parameters (``slug``) as a KeyError: not a fault of the request.
            continue
        if not key:
            match = _LEADING_WORD.match(message)
            key = (
                match.group(1)
                if match and match.group(1) in _data_model_fields(request)
                else "body"
            )
        elif key == "data":
            key = "body"
        fields[str(key)] = message.removeprefix("Value error, ")
    return fields or {"body": str(exc.detail)}


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        return _error_response(
            422, "validation_error", "the request is not valid", _validation_fields(request, exc)
        )
    if status >= 500:
        log.error("%s %s answered %s: %s", request.method, request.url.path, status, exc.detail)
        return _error_response(status, CODES.get(status, "internal_error"), "internal error")
    detail = str(exc.detail) if exc.detail else "error"
    if status == 400 and "json" in detail.lower():
        detail = "the request body is not valid JSON"
    elif status == 413:
        detail = "the request body is too large"
    return _error_response(status, CODES.get(status, "error"), detail, headers=exc.headers)


def _pydantic_error(_: Request[Any, Any, Any], exc: PydanticValidationError) -> Response[ErrorBody]:
    return _error_response(
        422, "validation_error", "the request is not valid", validation_fields(exc, prefix="")
    )


def _integrity_error(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[ErrorBody]:
    # Two requests creating the same row at once: the loser sees the unique constraint.
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc.orig)
    return _error_response(409, "conflict", "the change conflicts with the stored data")


def _data_error(request: Request[Any, Any, Any], exc: DataError) -> Response[ErrorBody]:
    log.info("data error on %s %s: %s", request.method, request.url.path, exc.orig)
    return _error_response(400, "bad_request", "a value cannot be stored (too long or malformed)")


def _bad_decimal(request: Request[Any, Any, Any], exc: InvalidOperation) -> Response[ErrorBody]:
    # A money validator of the core lets decimal.InvalidOperation (not a ValueError) escape
    # pydantic on input like "" or "abc"; it is the client's input, so 422, not 500.
    log.info("invalid decimal on %s %s", request.method, request.url.path)
    return _error_response(
        422,
        "validation_error",
        "the request is not valid",
        {"body": "an amount is not a decimal number"},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(500, "internal_error", "internal error")


exception_handlers: ExceptionHandlersMap = {
    HubError: _hub_error,
    HTTPException: _http_exception,
    PydanticValidationError: _pydantic_error,
    IntegrityError: _integrity_error,
    DataError: _data_error,
    InvalidOperation: _bad_decimal,
    Exception: _unexpected,
}


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Malformed request (bad JSON, bad cursor)"),
    401: _spec("No key or a bad key"),
    403: _spec("The key may not do this (`admin_only`: a field only an admin key may change)"),
    404: _spec("Not found (or another tenant's)"),
    409: _spec("Conflict"),
    413: _spec("Request body too large"),
    422: _spec("Validation failed; `fields` names each field"),
    429: _spec("Too many requests; see Retry-After"),
}
"""Error responses documented on every API operation."""
