"""Errors the core raises; the API maps each to its status code."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AdminOnly",
    "Conflict",
    "ConnectRefused",
    "HubError",
    "Invalid",
    "NotFound",
    "Refused",
]


class HubError(Exception):
    """Base of the core's errors: ``code`` is the API's error code, ``detail`` a sentence."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class Refused(Conflict):
    """A job or action that cannot run now (409 with the reason)."""

    code = "refused"


class AdminOnly(HubError):
    """A change only an admin key may make (a field marked ``x-admin-only``): 403, and
    nothing is stored."""

    status = 403
    code = "admin_only"


class Invalid(HubError):
    """Validation failed: ``fields`` maps dotted field names to reasons (422)."""

    status = 422
    code = "validation_error"


class ConnectRefused(HubError):
    """A connection the plugin refuses (wrong account role, code exchange refused): the
    sentence is shown to the user and nothing is stored."""

    status = 409
    code = "connect_refused"
