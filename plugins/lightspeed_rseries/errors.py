"""Errors raised by the R-Series client; plugins catch these, never httpx's."""

from __future__ import annotations

from typing import Any

__all__ = [
    "OAuthFlowError",
    "RSeriesAPIError",
    "RSeriesError",
    "RSeriesUnavailableError",
    "ReconnectNeeded",
]


class RSeriesError(Exception):
    """Base of every error of this package."""


class RSeriesAPIError(RSeriesError):
    """A 4xx the API answered and that must not be retried (bad request, missing right, …).

    :param status: the HTTP status.
    :param message: Lightspeed's ``message`` (or the OAuth ``hint``), meant for a person.
    :param error_class: Lightspeed's ``errorClass``, if given.
    :param body: the decoded error body, for logs and support.
    """

    def __init__(
        self,
        status: int,
        message: str,
        error_class: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"R-Series API {status}: {message}")
        self.status = status
        self.message = message
        self.error_class = error_class
        self.body = body or {}


class RSeriesUnavailableError(RSeriesError):
    """The API stayed unreachable or overloaded (429/5xx/network) for every allowed attempt,
    or a write failed in a way that may or may not have been applied."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ReconnectNeeded(RSeriesError):
    """The install's authorisation is gone (refresh token refused, or never connected).

    The store has been marked "reconnect needed"; a person must authorise again. Jobs should
    stop for this install rather than retry.
    """


class OAuthFlowError(RSeriesError):
    """The authorisation-code exchange failed (expired or reused code, PKCE mismatch, …).

    :param error: the OAuth ``error`` code (``invalid_grant`` …).
    :param description: the server's ``error_description``.
    """

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
