"""The R-Series API client: paced, retried, cursor-following, token-refreshing.

One :class:`RSeriesClient` per account (and worker). Its contract with the API:

- every request first reserves its cost with the governor (waits before the bucket would
  overflow) and reports the bucket headers of the response back to it;
- 401 → one refresh (under the install's refresh lock) and one retry;
- 429 → the governor holds every request for ``Retry-After`` seconds, then retry;
- 502/503/504, network errors and truncated bodies → exponential backoff, bounded attempts;
  a POST whose outcome is unknown (502/504, lost response) is retried only when the caller
  gave a way to look the record up (a Sale's ``referenceNumber``), so a retry never creates
  a second sale;
- any other 4xx → :class:`~plugins.lightspeed_rseries.errors.RSeriesAPIError` with
  Lightspeed's ``message``, never retried.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

import httpx

from hub.plugin import collector_paused

from . import normalise
from .errors import RSeriesAPIError, RSeriesUnavailableError
from .governor import CostBook, Governor, LocalGovernor, parse_bucket_headers, reported_cost
from .models import RSeriesModel
from .oauth import TokenProvider
from .query import Scalar, query_value

__all__ = ["API_URL", "MAX_PAGE_SIZE", "Page", "RSeriesClient"]

API_URL = "https://api.lightspeedapp.com"
MAX_PAGE_SIZE = 100
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

M = TypeVar("M", bound=RSeriesModel)
Params = Mapping[str, Scalar]
Payload = Mapping[str, Any] | RSeriesModel


def decode(content: bytes) -> Any:
    """A response body's JSON, decoded with the garbage collector paused (a page of 100
    items is thousands of objects, none of them garbage; see ``collector_paused``)."""
    with collector_paused():
        return json.loads(content)


@dataclass(frozen=True)
class Page:
    """One page of a list response.

    :param records: the page's records as real dicts (the single-object quirk undone; scalars
        are still the API's strings, validate them with a model).
    :param next_url: the ``@attributes.next`` URL to follow verbatim, ``None`` on the last page.
    :param previous_url: the ``@attributes.previous`` URL, ``None`` on the first page.
    """

    records: list[dict[str, Any]]
    next_url: str | None
    previous_url: str | None
    body: dict[str, Any] = field(repr=False, default_factory=dict)


class RSeriesClient:
    """A synchronous client of one R-Series account.

    :param base_url: ``https://api.lightspeedapp.com`` (or the sandbox's URL).
    :param account_id: the account to talk to (see :meth:`accounts` to discover it).
    :param oauth: supplies access tokens and refreshes after a 401
        (:class:`~plugins.lightspeed_rseries.oauth.OAuthSession`).
    :param governor: paces requests; share one per account (a
        :class:`~plugins.lightspeed_rseries.governor.RedisGovernor` across workers). Defaults
        to a private :class:`~plugins.lightspeed_rseries.governor.LocalGovernor`.
    :param max_attempts: attempts per request for 429/5xx/network failures.
    :param backoff_base: first backoff delay in seconds (doubles each attempt, with jitter).
    """

    def __init__(
        self,
        base_url: str,
        account_id: int,
        oauth: TokenProvider,
        governor: Governor | None = None,
        *,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        costs: CostBook | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.oauth = oauth
        self.governor: Governor = governor if governor is not None else LocalGovernor()
        self.costs = costs if costs is not None else CostBook()
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout, transport=transport)

    # --- URLs ---

    def entity_url(self, entity: str, id: int | None = None) -> str:
        """``…/API/V3/Account/{accountID}/{Entity}.json`` or ``…/{Entity}/{id}.json``."""
        root = f"{self.base_url}/API/V3/Account/{self.account_id}/{entity}"
        return f"{root}/{id}.json" if id is not None else f"{root}.json"

    # --- reads ---

    def accounts(self) -> list[dict[str, Any]]:
        """The accounts the token may use (``GET /API/V3/Account.json``)."""
        body = self._request("GET", f"{self.base_url}/API/V3/Account.json", "Account")
        return normalise.records(body, "Account")

    @overload
    def get(self, entity: str, id: int, params: Params | None = None) -> dict[str, Any]: ...

    @overload
    def get(self, entity: str, id: None = None, params: Params | None = None) -> Page: ...

    def get(
        self, entity: str, id: int | None = None, params: Params | None = None
    ) -> dict[str, Any] | Page:
        """One record (``id`` given: the raw record dict) or the first page of a list.

        :raises RSeriesAPIError: 404 when the record does not exist, or any other 4xx.
        """
        if id is not None:
            body = self._request("GET", self.entity_url(entity, id), entity, _encode(params))
            found = normalise.records(body, entity)
            if not found:
                raise RSeriesAPIError(404, f"{entity} {id} not in the response")
            return found[0]
        query = {"limit": str(MAX_PAGE_SIZE), **_encode(params)}
        return self._page(self._request("GET", self.entity_url(entity), entity, query), entity)

    def get_page(self, url: str, entity: str) -> Page:
        """Fetch a page by its ``next``/``previous`` URL, verbatim."""
        return self._page(self._request("GET", url, entity), entity)

    def iterate(self, entity: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Every record matching ``params``, following ``@attributes.next`` verbatim.

        Pages are fetched lazily, ``limit`` defaults to 100 (the maximum). A 401 on any page
        refreshes the token and continues from the same cursor.
        """
        page = self.get(entity, params=params)
        while True:
            yield from page.records
            if page.next_url is None:
                return
            page = self.get_page(page.next_url, entity)

    def fetch(self, model: type[M], id: int, params: Params | None = None) -> M:
        """One record as a typed model: ``client.fetch(Item, 5)``."""
        return model.model_validate(self.get(model.entity, id, params))

    def iterate_models(self, model: type[M], params: Params | None = None) -> Iterator[M]:
        """Every matching record as a typed model: ``client.iterate_models(Item, {...})``."""
        for record in self.iterate(model.entity, params):
            yield model.model_validate(record)

    def find_sale_by_reference(self, reference_number: str) -> dict[str, Any] | None:
        """The sale whose ``referenceNumber`` is ``reference_number`` (webstore order number),
        if one exists: how a retried export avoids creating a second sale."""
        page = self.get("Sale", params={"referenceNumber": reference_number})
        return page.records[0] if page.records else None

    # --- writes ---

    def create(
        self,
        entity: str,
        payload: Payload,
        *,
        lookup: Callable[[], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """``POST {Entity}.json``; returns the created record (raw dict).

        :param payload: a dict in the write shape, or a model (serialised with ``to_api()``).
        :param lookup: finds the record if an earlier attempt was applied after all; lets the
            client retry a POST whose outcome is unknown. For a Sale with a
            ``referenceNumber`` it defaults to :meth:`find_sale_by_reference`.
        :raises RSeriesAPIError: refused (e.g. 400 for a completed sale that does not balance).
        :raises RSeriesUnavailableError: failed, or outcome unknown without a ``lookup``.
        """
        body = _write_body(payload)
        if lookup is None and entity == "Sale" and body.get("referenceNumber"):
            reference = str(body["referenceNumber"])
            lookup = lambda: self.find_sale_by_reference(reference)  # noqa: E731
        response = self._request(
            "POST", self.entity_url(entity), entity, payload=body, lookup=lookup
        )
        return _single(response, entity)

    def update(self, entity: str, id: int, payload: Payload) -> dict[str, Any]:
        """``PUT {Entity}/{id}.json``; returns the updated record (raw dict).

        Set stock with ``update("Item", 5, {"ItemShops": {"ItemShop": [{"shopID": 1,
        "qoh": 3}]}})``. PUT is idempotent, so it is retried like a read.
        """
        response = self._request(
            "PUT", self.entity_url(entity, id), entity, payload=_write_body(payload)
        )
        return _single(response, entity)

    # --- plumbing ---

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> RSeriesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _page(self, body: dict[str, Any], entity: str) -> Page:
        attributes = body.get("@attributes") or {}
        if not isinstance(attributes, Mapping):
            attributes = {}
        return Page(
            records=normalise.records(body, entity),
            next_url=str(attributes.get("next") or "") or None,
            previous_url=str(attributes.get("previous") or "") or None,
            body=body,
        )

    def _request(
        self,
        method: str,
        url: str,
        entity: str,
        params: Mapping[str, str] | None = None,
        payload: dict[str, Any] | None = None,
        lookup: Callable[[], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            cost = self.costs.cost(method, entity, payload)
            self.governor.acquire(cost)
            token = self.oauth.access_token()
            # `ambiguous`: the server may have applied the request even though we saw a failure.
            try:
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=payload,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure, status, ambiguous = f"cannot connect: {exc}", None, False
            except httpx.TransportError as exc:
                failure, status, ambiguous = f"network error: {exc!r}", None, True
            else:
                status = response.status_code
                charged = reported_cost(response.headers)
                if charged is not None and status != 429:
                    # Pace by what the server charges, not by our estimate (settled before
                    # the server's level is observed, which may only raise ours).
                    self.costs.learn(method, entity, payload, charged)
                    settle = getattr(self.governor, "settle", None)
                    if settle is not None and charged != cost:
                        settle(cost, charged)
                reading = parse_bucket_headers(response.headers)
                if reading is not None:
                    self.governor.observe(reading)
                if status == 401 and not refreshed:
                    # Expired or revoked access token: refresh once (or pick up the pair
                    # another worker just stored) and retry once; a second 401 is final.
                    refreshed = True
                    attempt -= 1
                    self.oauth.refresh(stale_access_token=token)
                    continue
                if status == 429:
                    self.governor.penalise(_retry_after(response))
                    failure, ambiguous = "rate limited (429)", False
                elif status in RETRYABLE_STATUSES:
                    # 503 is refused before processing; 502/504 may hide an applied write.
                    failure, ambiguous = f"server error {status}", status != 503
                elif status >= 400:
                    raise _api_error(response)
                else:
                    try:
                        body = decode(response.content)
                    except ValueError:
                        failure, ambiguous = "truncated or invalid JSON body", True
                    else:
                        if isinstance(body, dict):
                            return body
                        failure, ambiguous = "unexpected JSON body", True

            if method == "POST" and ambiguous:
                if lookup is None:
                    raise RSeriesUnavailableError(
                        f"POST {entity}: {failure}; it may have been applied", status
                    )
                found = lookup()
                if found is not None:
                    return {entity: found}
            if attempt >= self.max_attempts:
                raise RSeriesUnavailableError(
                    f"{method} {entity}: {failure} after {attempt} attempts", status
                )
            if status != 429:  # a 429 already made the governor wait for Retry-After
                self._sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        # Full jitter between half and all of the delay: workers do not retry in lockstep.
        return delay * (0.5 + random.random() / 2)


def _encode(params: Params | None) -> dict[str, str]:
    if not params:
        return {}
    return {
        key: value if isinstance(value, str) else query_value(value)
        for key, value in params.items()
    }


def _write_body(payload: Payload) -> dict[str, Any]:
    if isinstance(payload, RSeriesModel):
        return payload.to_api()
    return dict(payload)


def _single(body: dict[str, Any], entity: str) -> dict[str, Any]:
    found = normalise.records(body, entity)
    if not found:
        raise RSeriesAPIError(500, f"the response carries no {entity}", body=body)
    return found[0]


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date); 1 s if absent."""
    raw = response.headers.get("retry-after", "").strip()
    if not raw:
        return 1.0
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return 1.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _api_error(response: httpx.Response) -> RSeriesAPIError:
    """Turn a non-retryable error response into a typed error with Lightspeed's message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return RSeriesAPIError(response.status_code, text)
    message = body.get("message") or body.get("hint") or body.get("error_description")
    message = message or body.get("error") or body.get("httpMessage") or response.reason_phrase
    error_class = body.get("errorClass") or body.get("error")
    return RSeriesAPIError(
        response.status_code,
        str(message),
        str(error_class) if error_class else None,
        body=body,
    )
