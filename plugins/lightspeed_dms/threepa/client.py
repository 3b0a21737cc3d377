"""HTTP adapter for Lightspeed's Data Warehouse ("3PA"): dealers and parts, paced and retried.

Every request first asks the :class:`~.governor.Governor` for a slot on the credential, so all
workers and tenants sharing a credential stay under its budget together. Transient failures —
429, 5xx, timeouts, dropped connections, truncated or garbage JSON — are retried a bounded
number of times with exponential backoff and jitter; 401/403/404 are answers, not accidents,
and raise typed errors at once.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .governor import Governor, credential_key
from .models import Dealer, Part, parse_dealer, parse_part
from .odata import QuantityColumn, parts_filter

__all__ = [
    "DEFAULT_BASE_URL",
    "PAGE_SIZE_CAP",
    "ThreePAAuthError",
    "ThreePAClient",
    "ThreePAError",
    "ThreePANotFound",
    "ThreePAUnavailable",
]

DEFAULT_BASE_URL = "https://int.lightspeeddataservices.com/lsapi"
#: The server never returns more than this many rows per request, whatever ``$top`` says.
PAGE_SIZE_CAP = 500
#: A Retry-After longer than this is treated as this: a worker should not sleep for hours.
MAX_RETRY_AFTER = 120.0

log = logging.getLogger(__name__)


class ThreePAError(Exception):
    """Any failure talking to 3PA. ``status`` is the HTTP status when there was a response."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ThreePAAuthError(ThreePAError):
    """401/403: the credentials are wrong or do not reach this dealer."""


class ThreePANotFound(ThreePAError):
    """404: unknown endpoint or dealer id."""


class ThreePAUnavailable(ThreePAError):
    """Still failing (429, 5xx, timeouts, bad bodies) after the last attempt."""


class ThreePAClient:
    """Synchronous 3PA client.

    :param base_url: e.g. ``https://int.lightspeeddataservices.com/lsapi``.
    :param username: 3PA username (HTTP Basic).
    :param password: 3PA password; used only in the Authorization header, never logged.
    :param governor: paces requests per credential (see :mod:`.governor`).
    :param timeout: seconds for connect/read of each attempt.
    :param max_attempts: attempts per request, the first included.
    :param transport: an httpx transport (e.g. for a proxy or tests); default is the network.
    :param backoff_base: first retry delay in seconds; doubled every attempt, with jitter.
    :param backoff_cap: the longest backoff delay in seconds.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        governor: Governor,
        *,
        timeout: float = 60.0,
        max_attempts: int = 5,
        transport: httpx.BaseTransport | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.governor = governor
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.pacing_key = credential_key(self.base_url, username)
        self._sleep = sleep
        self._random = random.Random()
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=httpx.BasicAuth(username, password),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ThreePAClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:  # no password, on purpose
        return f"ThreePAClient(base_url={self.base_url!r}, username={self.username!r})"

    # -- endpoints -------------------------------------------------------------------------

    def dealers(self) -> list[Dealer]:
        """``GET /Dealer``: the dealers these credentials reach (verifies the credentials)."""
        rows = self._get_list("Dealer")
        return [d for d in (parse_dealer(r) for r in rows if isinstance(r, dict)) if d is not None]

    def iter_parts(
        self,
        dealer_id: str,
        *,
        supplier_code: str,
        updated_since: datetime | None,
        min_quantity_column: QuantityColumn | None,
        page_size: int = PAGE_SIZE_CAP,
        order_by: str | None = "PartNumber",
    ) -> Iterator[list[Part]]:
        """Yield the supplier code's parts page by page, parsed (see :meth:`iter_rows` for
        the paging and the parameters)."""
        for rows in self.iter_rows(
            dealer_id,
            supplier_code=supplier_code,
            updated_since=updated_since,
            min_quantity_column=min_quantity_column,
            page_size=page_size,
            order_by=order_by,
        ):
            yield [parse_part(r, dealer_id=dealer_id) for r in rows]

    def iter_rows(
        self,
        dealer_id: str,
        *,
        supplier_code: str,
        updated_since: datetime | None,
        min_quantity_column: QuantityColumn | None,
        page_size: int = PAGE_SIZE_CAP,
        order_by: str | None = "PartNumber",
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the supplier code's raw part records page by page (``GET /Part/{dealerId}``),
        for callers that read only a few fields (see :func:`~.models.parse_stock`).

        Paging stops at the first page shorter than ``$top``; an empty page is not yielded.

        :param dealer_id: the dealer's Cmf.
        :param supplier_code: the Lightspeed supplier code (quoted safely in ``$filter``).
        :param updated_since: naive dealer-local datetime: only parts with
            ``lastupdatedate ge`` it; ``None`` for no date clause.
        :param min_quantity_column: ``"on_hand"``/``"available"`` to ask only for parts with
            ``OnHand``/``Avail`` above zero (full pull); ``None`` for none (incremental pull).
        :param page_size: ``$top``, at most 500.
        :param order_by: ``$orderby``; a stable order keeps ``$skip`` paging consistent.
        """
        if not 1 <= page_size <= PAGE_SIZE_CAP:
            raise ValueError(f"page_size must be between 1 and {PAGE_SIZE_CAP}")
        odata_filter = parts_filter(
            supplier_code, updated_since=updated_since, quantity_column=min_quantity_column
        )
        skip = 0
        while True:
            params = {"$filter": odata_filter, "$top": str(page_size), "$skip": str(skip)}
            if order_by:
                params["$orderby"] = order_by
            rows = self._get_list(f"Part/{quote(dealer_id, safe='')}", params)
            page = [r for r in rows if isinstance(r, dict)]
            if page:
                yield page
            if len(rows) < page_size:
                return
            skip += len(rows)

    # -- transport -------------------------------------------------------------------------

    def _get_list(self, path: str, params: dict[str, str] | None = None) -> list[Any]:
        """GET ``path`` and return its JSON array, pacing and retrying as documented above."""
        # Encode the query ourselves: %20 for spaces (not '+', which an OData server may keep
        # literally) and every quote/operator character escaped.
        url = path
        if params:
            url += "?" + "&".join(
                f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items()
            )
        last_problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            self.governor.acquire(self.pacing_key)
            retry_after: float | None = None
            try:
                response = self._http.get(url)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "3PA GET %s failed (attempt %d/%d): %s",
                    path,
                    attempt,
                    self.max_attempts,
                    last_problem,
                )
            else:
                status = response.status_code
                if status in (401, 403):
                    raise ThreePAAuthError(
                        f"3PA refused the credentials ({status}): {_body_text(response)}",
                        status=status,
                    )
                if status == 404:
                    raise ThreePANotFound(
                        f"3PA GET {path}: not found: {_body_text(response)}", status=404
                    )
                if status == 429 or status >= 500:
                    last_problem = f"HTTP {status}: {_body_text(response)}"
                    if status == 429:
                        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                    log.warning(
                        "3PA GET %s answered %d (attempt %d/%d)",
                        path,
                        status,
                        attempt,
                        self.max_attempts,
                    )
                elif status >= 400:
                    # 400 (a bad $filter) and the like will not get better by retrying.
                    raise ThreePAError(
                        f"3PA GET {path} failed ({status}): {_body_text(response)}", status=status
                    )
                else:
                    try:
                        body = json.loads(response.content)
                    except (ValueError, UnicodeDecodeError) as exc:
                        # A truncated or garbled body: the next attempt usually comes back whole.
                        last_problem = (
                            f"unreadable JSON body ({len(response.content)} bytes): {exc}"
                        )
                        log.warning(
                            "3PA GET %s returned %s (attempt %d/%d)",
                            path,
                            last_problem,
                            attempt,
                            self.max_attempts,
                        )
                    else:
                        if not isinstance(body, list):
                            raise ThreePAError(
                                f"3PA GET {path}: expected a JSON array, got {type(body).__name__}",
                                status=status,
                            )
                        return body
            if attempt < self.max_attempts:
                self._sleep(self._delay(attempt, retry_after))
        raise ThreePAUnavailable(
            f"3PA GET {path} still failing after {self.max_attempts} attempts: {last_problem}"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            # The server said when: wait that long, plus a little jitter so workers released
            # together do not come back together.
            return retry_after + self._random.uniform(0, min(1.0, self.backoff_base))
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        # "Equal jitter": at least half the exponential delay, the rest random.
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)


def _body_text(response: httpx.Response, limit: int = 500) -> str:
    """The plain-text error body, shortened for messages."""
    text = response.text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _retry_after_seconds(value: str | None) -> float | None:
    """Read ``Retry-After`` (seconds or an HTTP date), bounded by :data:`MAX_RETRY_AFTER`."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
