"""A local 3PA (Data Warehouse) server for tests, the demo and benchmarks.

It plays the parts of the real service the hub depends on: HTTP Basic auth (401 in plain text),
``GET /Dealer``, ``GET /Part/{dealerId}`` with ``$filter``/``$top`` (capped at 500)/``$skip``/
``$orderby``, 404 for an unknown dealer, 400 for a bad filter, the per-credential rate limit
(a sliding 60 s window, 429 with ``Retry-After``), and injected faults per request pattern.

Everything observable lives on :class:`SandboxState` (``sandbox_state(app)``): the request log
with query strings, the number of rate-limited requests, the fault rules — tests read and change
it while the server runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from ._filter_parser import FilterError, evaluate, parse_filter, supplier_codes_in
from ._sandbox_data import CANONICAL_PART_KEYS, format_dealer_datetime, generate_parts
from .models import parse_dealer_datetime, parse_decimal

__all__ = [
    "DEFAULT_DEALER_ID",
    "FaultRule",
    "FilterError",
    "LoggedRequest",
    "RunningSandbox",
    "SandboxState",
    "create_app",
    "evaluate",
    "format_dealer_datetime",
    "generate_parts",
    "parse_filter",
    "running_sandbox",
    "sandbox_state",
]

DEFAULT_DEALER_ID = "76014846"
PAGE_SIZE_CAP = 500
FaultKind = Literal["5xx", "slow", "truncated", "429"]


@dataclass
class FaultRule:
    """Make matching requests fail.

    :param kind: ``5xx`` (``status``, plain-text body), ``slow`` (answer after ``delay``
        seconds), ``truncated`` (a 200 whose JSON is cut in half), ``429`` (``Retry-After:
        retry_after``).
    :param path: regex searched in ``"<path>?<decoded query>"``, e.g. ``r"\\$skip=500"``.
    :param supplier_code: only requests whose ``$filter`` has ``SupplierCode eq '<code>'``.
    :param count: fire for this many matching requests, then stop; ``None`` for no limit.
    :param probability: fire with this probability (seeded); ``None`` means always.
    """

    kind: FaultKind
    path: str | None = None
    supplier_code: str | None = None
    count: int | None = None
    probability: float | None = None
    status: int = 500
    delay: float = 2.0
    retry_after: int = 1
    fired: int = 0

    def applies(self, target: str, supplier_codes: set[str], rng: random.Random) -> bool:
        """Whether this rule fires for the request; counts it if so."""
        if self.count is not None and self.fired >= self.count:
            return False
        if self.path is not None and re.search(self.path, target) is None:
            return False
        if self.supplier_code is not None and self.supplier_code not in supplier_codes:
            return False
        if self.probability is not None and rng.random() >= self.probability:
            return False
        self.fired += 1
        return True


@dataclass
class LoggedRequest:
    """One request as the sandbox saw it (``status`` 0 until it is answered)."""

    method: str
    path: str
    query: str  # raw, as sent
    params: dict[str, str]  # decoded
    username: str | None
    status: int
    at: float  # time.monotonic() at arrival
    fault: str | None = None


@dataclass
class _Dealer:
    name: str
    records: list[dict[str, Any]]
    lowered: list[dict[str, Any]]
    fields: frozenset[str]


@dataclass
class SandboxState:
    """What the sandbox serves and what it has seen. Safe to read from the test's thread."""

    users: dict[str, str]
    rate_limit_per_minute: int | None
    rate_window_seconds: float = 60.0
    faults: list[FaultRule] = field(default_factory=list)
    requests: list[LoggedRequest] = field(default_factory=list)
    rate_limited: int = 0
    seed: int = 0
    dealers: dict[str, _Dealer] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.rng = random.Random(self.seed)
        self._windows: dict[str, deque[float]] = {}
        self._results: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    # -- data ------------------------------------------------------------------------------

    def set_parts(
        self, dealer_id: str, records: Iterable[Mapping[str, Any]], name: str | None = None
    ) -> None:
        """Serve ``records`` (as given, keys and all) for ``dealer_id``."""
        rows = [dict(r) for r in records]
        lowered = [{str(k).lower(): v for k, v in r.items()} for r in rows]
        fields = frozenset(k.lower() for k in CANONICAL_PART_KEYS).union(
            *(r.keys() for r in lowered)
        )
        with self.lock:
            self.dealers[dealer_id] = _Dealer(
                name or f"Sandbox Powersports {dealer_id}", rows, lowered, fields
            )
            self._results = {k: v for k, v in self._results.items() if k[0] != dealer_id}

    def matching_parts(
        self, dealer_id: str, odata_filter: str = "", order_by: str = ""
    ) -> list[dict[str, Any]]:
        """The dealer's records satisfying the filter, ordered (cached per query).

        :raises FilterError: on a bad filter or ``$orderby``.
        :raises KeyError: for an unknown dealer.
        """
        dealer = self.dealers[dealer_id]
        cache_key = (dealer_id, odata_filter, order_by)
        cached = self._results.get(cache_key)
        if cached is not None:
            return cached
        rows = list(range(len(dealer.records)))
        if odata_filter.strip():
            node = parse_filter(odata_filter, fields=dealer.fields)
            rows = [i for i in rows if evaluate(node, dealer.lowered[i])]
        # Sort by the last key first: Python's sort is stable, so earlier keys win.
        for name, descending in reversed(_parse_order_by(order_by, dealer.fields)):
            column = [_sort_key(record.get(name)) for record in dealer.lowered]
            rows.sort(key=column.__getitem__, reverse=descending)
        result = [dealer.records[i] for i in rows]
        self._results[cache_key] = result
        return result

    # -- observation -----------------------------------------------------------------------

    def log(self, path_prefix: str = "") -> list[LoggedRequest]:
        """Logged requests whose path starts with ``path_prefix`` (after the base path)."""
        with self.lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def count_status(self, status: int) -> int:
        """How many responses had ``status`` (rate limiter and injected faults alike)."""
        with self.lock:
            return sum(1 for r in self.requests if r.status == status)

    def clear_log(self) -> None:
        """Forget logged requests and counters (the rate-limit windows too)."""
        with self.lock:
            self.requests.clear()
            self.rate_limited = 0
            self._windows.clear()

    # -- decisions (called by the handlers) ------------------------------------------------

    def admit(self, username: str, now: float) -> int | None:
        """Count a request against the credential's sliding window; Retry-After if over."""
        if self.rate_limit_per_minute is None:
            return None
        with self.lock:
            window = self._windows.setdefault(username, deque())
            while window and window[0] <= now - self.rate_window_seconds:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                self.rate_limited += 1
                # Rejected requests are not counted: a client that backs off is let back in.
                return max(1, math.ceil(window[0] + self.rate_window_seconds - now))
            window.append(now)
            return None

    def fault_for(self, target: str, supplier_codes: set[str]) -> FaultRule | None:
        """The first fault rule firing for this request, if any."""
        with self.lock:
            for rule in self.faults:
                if rule.applies(target, supplier_codes, self.rng):
                    return rule
        return None

    def record(self, entry: LoggedRequest) -> None:
        """Append a request to the log."""
        with self.lock:
            self.requests.append(entry)


def _parse_order_by(text: str, fields: frozenset[str]) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        words = item.split()
        name = words[0].lower()
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc") or name not in fields:
            raise FilterError(f"Invalid $orderby clause '{item}'.")
        keys.append((name, direction == "desc"))
    return keys


def _sort_key(value: Any) -> tuple[int, Any]:
    """Total order over mixed values: nulls first, then dates, numbers, text."""
    if value is None:
        return (0, "")
    if isinstance(value, str):
        when = parse_dealer_datetime(value) if value[:4].isdigit() and value[4:5] == "-" else None
        if when is not None:
            return (1, when)
        return (3, value)
    number = parse_decimal(value)
    return (2, number) if number is not None else (3, str(value))


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(text, status_code=status, media_type="text/plain", headers=headers)


def _username(authorization: str | None, users: Mapping[str, str]) -> str | None:
    """The authenticated username, or ``None``."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, _, password = decoded.partition(":")
    return username if username in users and users[username] == password else None


def sandbox_state(app: Litestar) -> SandboxState:
    """The :class:`SandboxState` of an app made by :func:`create_app`."""
    state = app.state["threepa"]
    assert isinstance(state, SandboxState)
    return state


def create_app(
    dataset: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    users: Mapping[str, str] | None = None,
    rate_limit_per_minute: int | None = 200,
    rate_window_seconds: float = 60.0,
    faults: Iterable[FaultRule | Mapping[str, Any]] | None = None,
    dealer_names: Mapping[str, str] | None = None,
    base_path: str = "/lsapi",
    seed: int = 0,
) -> Litestar:
    """Build the sandbox ASGI app.

    :param dataset: dealer id → part records, served as given (use :func:`generate_parts`).
    :param users: username → password accepted by Basic auth (default ``{"user": "pass"}``).
    :param rate_limit_per_minute: requests per credential per window; ``None`` for no limit.
    :param rate_window_seconds: the sliding window length (60 s, like the real service).
    :param faults: :class:`FaultRule` objects or dicts of their fields.
    :param base_path: mount point, ``/lsapi`` like production.
    :param seed: seeds probabilistic faults.
    """
    state = SandboxState(
        users=dict(users or {"user": "pass"}),
        rate_limit_per_minute=rate_limit_per_minute,
        rate_window_seconds=rate_window_seconds,
        faults=[f if isinstance(f, FaultRule) else FaultRule(**f) for f in faults or ()],
        seed=seed,
    )
    for dealer_id, records in dataset.items():
        state.set_parts(dealer_id, records, (dealer_names or {}).get(dealer_id))
    base = "/" + base_path.strip("/") if base_path.strip("/") else ""

    async def serve(request: Request[Any, Any, Any], dealer_id: str | None) -> Response[Any]:
        arrival = time.monotonic()
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        path = (
            request.url.path[len(base) :] if request.url.path.startswith(base) else request.url.path
        )
        fault_name: str | None = None

        # Logged on arrival, completed on answer: a slow request the client gave up on still
        # shows in the log (with status 0 if its answer was never produced).
        entry = LoggedRequest("GET", path, raw_query, params, None, 0, arrival)
        state.record(entry)

        def done(response: Response[Any], username: str | None) -> Response[Any]:
            entry.username = username
            entry.status = response.status_code or 200
            entry.fault = fault_name
            return response

        username = _username(request.headers.get("authorization"), state.users)
        if username is None:
            return done(
                _plain(
                    "Authorization has been denied for this request.",
                    401,
                    {"WWW-Authenticate": 'Basic realm="3PA"'},
                ),
                None,
            )
        retry_after = state.admit(username, arrival)
        if retry_after is not None:
            return done(
                _plain("Rate limit exceeded.", 429, {"Retry-After": str(retry_after)}), username
            )

        try:
            codes = (
                supplier_codes_in(parse_filter(params["$filter"]))
                if params.get("$filter")
                else set()
            )
        except FilterError:
            codes = set()
        fault = state.fault_for(f"{path}?{unquote(raw_query)}", codes)
        if fault is not None:
            fault_name = fault.kind
            if fault.kind == "5xx":
                return done(_plain("An error has occurred.", fault.status), username)
            if fault.kind == "429":
                return done(
                    _plain("Rate limit exceeded.", 429, {"Retry-After": str(fault.retry_after)}),
                    username,
                )
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)

        if dealer_id is None:
            body: Any = [{"Cmf": d_id, "DealerName": d.name} for d_id, d in state.dealers.items()]
        else:
            result = _parts_response(state, dealer_id, params)
            if isinstance(result, Response):
                return done(result, username)
            body = result
        content = json.dumps(body, default=_json_default).encode()
        if fault is not None and fault.kind == "truncated":
            content = content[: max(1, len(content) // 2)]
        return done(Response(content, status_code=200, media_type="application/json"), username)

    @get(f"{base}/Dealer")
    async def dealers(request: Request[Any, Any, Any]) -> Response[Any]:
        return await serve(request, None)

    @get(f"{base}/Part/{{dealer_id:str}}")
    async def parts(request: Request[Any, Any, Any], dealer_id: str) -> Response[Any]:
        return await serve(request, dealer_id)

    def plain_errors(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "An error has occurred."
        return _plain(str(detail), status)

    return Litestar(
        route_handlers=[dealers, parts],
        state=State({"threepa": state}),
        exception_handlers={Exception: plain_errors},
        openapi_config=None,
        # The sandbox runs inside test and bench processes: leave their logging alone.
        logging_config=None,
    )


def _parts_response(
    state: SandboxState, dealer_id: str, params: Mapping[str, str]
) -> list[dict[str, Any]] | Response[str]:
    """The page of records for ``/Part/{dealer_id}``, or the error response."""
    if dealer_id not in state.dealers:
        return _plain(f"Dealer '{dealer_id}' not found.", 404)
    for name in params:
        if name.startswith("$") and name not in ("$filter", "$top", "$skip", "$orderby"):
            return _plain(f"The query parameter '{name}' is not supported.", 400)
    try:
        top = min(int(params.get("$top", PAGE_SIZE_CAP)), PAGE_SIZE_CAP)
        skip = int(params.get("$skip", 0))
    except ValueError:
        return _plain("$top and $skip must be integers.", 400)
    if top < 0 or skip < 0:
        return _plain("$top and $skip must not be negative.", 400)
    try:
        rows = state.matching_parts(
            dealer_id, params.get("$filter", ""), params.get("$orderby", "")
        )
    except FilterError as exc:
        return _plain(str(exc), 400)
    return rows[skip : skip + top]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def default_dataset(
    parts: int = 2_000, seed: int = 1, dealer_id: str = DEFAULT_DEALER_ID
) -> dict[str, list[dict[str, Any]]]:
    """One dealer with ``parts`` generated records (the CLI's and the demo's data)."""
    return {dealer_id: generate_parts(parts, seed, dealer_id)}


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox served on loopback: point a client at ``base_url``, inspect ``state``."""

    base_url: str
    state: SandboxState
    app: Litestar


@contextmanager
def running_sandbox(
    dataset: Mapping[str, Sequence[Mapping[str, Any]]], **options: Any
) -> Iterator[RunningSandbox]:
    """Serve :func:`create_app` (same arguments) on 127.0.0.1 for the ``with`` block."""
    from hub.plugin import serve_in_thread

    app = create_app(dataset, **options)
    with serve_in_thread(app) as server:
        base_path = str(options.get("base_path", "/lsapi")).strip("/")
        base_url = f"{server.url}/{base_path}" if base_path else server.url
        yield RunningSandbox(base_url, sandbox_state(app), app)
