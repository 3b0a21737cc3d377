"""The sandbox's in-memory world: records, OAuth grants, buckets, faults and logs.

Everything the ASGI layer (:mod:`.app`) does is a method here, so tests can also inspect and
drive the state directly (``state.items``, ``state.writes``, ``state.clock.advance(61)``,
``state.add_fault(...)``). Records are stored with Python values (ints, bools, Decimals) and
rendered to the API's string-typed shape on the way out; the rendering deliberately does not
reuse the client's normalisation, so the client is tested against an independent picture of
the API.
"""

from __future__ import annotations

import base64
import bisect
import fnmatch
import hashlib
import hmac
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from ..governor import OTHER_WRITE_COST, request_cost

CURRENT_WRITE_COST = 1.0

__all__ = [
    "DEFAULT_SEED_PATH",
    "ApiResponse",
    "Fault",
    "RequestLog",
    "SandboxClock",
    "SandboxError",
    "SandboxState",
    "WriteLog",
]

DEFAULT_SEED_PATH = Path(__file__).with_name("default_seed.json")
MAX_LIMIT = 100
CODE_TTL_SECONDS = 60.0

# Entity → primary key. Order is the seeding order.
KEYS: dict[str, str] = {
    "Shop": "shopID",
    "Register": "registerID",
    "EmployeeRole": "employeeRoleID",
    "Employee": "employeeID",
    "PriceLevel": "priceLevelID",
    "Manufacturer": "manufacturerID",
    "PaymentType": "paymentTypeID",
    "TaxCategory": "taxCategoryID",
    "Customer": "customerID",
    "Item": "itemID",
    "ItemShop": "itemShopID",
    "Sale": "saleID",
}
# Relations rendered only when asked for with load_relations (Prices always come with Item).
RELATIONS: dict[str, frozenset[str]] = {
    "Item": frozenset({"ItemShops"}),
    "Sale": frozenset({"SaleLines", "SalePayments", "Customer"}),
    "Customer": frozenset({"Contact"}),
    "Employee": frozenset({"EmployeeRole"}),
}
# Container key → record key inside it.
CONTAINERS: dict[str, str] = {
    "Prices": "ItemPrice",
    "ItemShops": "ItemShop",
    "SaleLines": "SaleLine",
    "SalePayments": "SalePayment",
    "Emails": "ContactEmail",
    "Addresses": "ContactAddress",
    "Phones": "ContactPhone",
}
INT_FIELDS = frozenset(
    {"qoh", "backorder", "reorderPoint", "reorderLevel", "unitQuantity", "useTypeID"}
)
BOOL_FIELDS = frozenset({"archived", "completed", "voided", "lockOut"})
MONEY_FIELDS = frozenset({"amount", "unitPrice", "defaultCost", "total", "balance"})
PAGING_PARAMS = frozenset({"limit", "load_relations", "sort", "after", "before", "offset"})


class SandboxError(Exception):
    """An error response in the API's shape (``httpCode``, ``message``, ``errorClass``)."""

    def __init__(
        self,
        status: int,
        message: str,
        error_class: str = "Exception",
        headers: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_class = error_class
        self.headers = dict(headers or {})
        self.body = body

    def to_body(self) -> dict[str, Any]:
        """The JSON body Lightspeed sends with this status."""
        if self.body is not None:
            return self.body
        return {
            "httpCode": str(self.status),
            "httpMessage": _REASONS.get(self.status, "Error"),
            "message": self.message,
            "errorClass": self.error_class,
        }


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
ACCESS_DENIED = {"error": "access_denied", "hint": "Access token could not be verified"}


@dataclass
class ApiResponse:
    """What a handler answers: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class SandboxClock:
    """Wall time plus an offset tests can move forward (codes, tokens and buckets use it)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, shifted by the offset."""
        return time.time() + self.offset

    def now(self) -> datetime:
        """The shifted time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move the sandbox's time forward (instead of sleeping in tests)."""
        self.offset += seconds


@dataclass
class Fault:
    """A forced failure for requests matching ``method`` and ``path`` (fnmatch glob).

    :param kind: ``"status"`` answers ``status`` (401 with the OAuth body, 429 with
        Retry-After, others with the API error body); ``"slow"`` waits ``delay`` seconds then
        serves normally; ``"truncated"`` serves normally but cuts the body in half;
        ``"applied"`` serves the request (a write is applied, charged and logged) and then
        answers ``status`` instead of the result — a timeout at Lightspeed's edge after the
        work was done, the case that must not create a second sale; ``"late"`` serves the
        request at once and answers ``delay`` seconds later (a client that timed out never
        learns its write was applied).
    :param count: how many matching requests fail; ``skip`` lets that many pass first.
    """

    kind: Literal["status", "slow", "truncated", "applied", "late"] = "status"
    path: str = "*"
    method: str = "*"
    status: int = 503
    count: int = 1
    skip: int = 0
    delay: float = 0.0
    retry_after: int = 1

    def matches(self, method: str, path: str) -> bool:
        """True when this fault applies to the request."""
        return (self.method == "*" or self.method.upper() == method.upper()) and fnmatch.fnmatch(
            path, self.path
        )


@dataclass(frozen=True)
class RequestLog:
    """One request the sandbox saw (faulted ones included)."""

    method: str
    path: str
    query: str
    status: int
    at: float


@dataclass(frozen=True)
class WriteLog:
    """One accepted or refused write, with the payload exactly as received."""

    method: str
    entity: str
    record_id: int | None
    payload: Any
    cost: float
    status: int


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    scope: str
    employee_id: int
    issued_at: float
    used: bool = False


@dataclass
class _Grant:
    client_id: str
    scope: str
    employee_id: int


@dataclass
class _Bucket:
    level: float
    at: float


class SandboxState:
    """The sandbox's world. Thread-safe: tests read it while uvicorn serves requests.

    :param seed: a seed mapping (see ``default_seed.json``), a path to a JSON file, or
        ``None`` for the built-in default seed.
    :param bucket_size: leaky-bucket capacity per account + API client.
    :param drip_rate: cost drained per second.
    :param access_token_ttl: access-token lifetime in seconds (``expires_in``).
    """

    def __init__(
        self,
        seed: Mapping[str, Any] | str | Path | None = None,
        *,
        bucket_size: float = 90.0,
        drip_rate: float = 1.0,
        access_token_ttl: float = 3600.0,
        code_ttl: float = CODE_TTL_SECONDS,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        redirect_uri: str | None = None,
        legacy_write_costs: bool = False,
    ) -> None:
        self.lock = threading.RLock()
        # Lightspeed's price list since 2026-03 charges 1 for most writes; older clients
        # (and the legacy list) assume 10. ``legacy_write_costs`` plays the old list.
        self.write_cost = OTHER_WRITE_COST if legacy_write_costs else CURRENT_WRITE_COST
        self.clock = SandboxClock()
        self.bucket_size = bucket_size
        self.drip_rate = drip_rate
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.clients: dict[str, str] = {client_id: client_secret}
        self.redirect_uris: dict[str, str | None] = {client_id: redirect_uri}
        self.consent_employee_id: int | None = None
        self.records: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in KEYS}
        self.faults: list[Fault] = []
        self.requests: list[RequestLog] = []
        self.writes: list[WriteLog] = []
        self.refresh_count = 0
        self.dead_refresh_tokens: set[str] = set()
        self.revoked_before = 0.0
        self._codes: dict[str, _AuthCode] = {}
        self._refresh_tokens: dict[str, _Grant] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._next_ids: dict[str, int] = {}
        # itemID → shopID → itemShopID: stock lookups stay O(1) at bench sizes.
        self._item_shop_index: dict[int, dict[int, int]] = {}
        # (entity, sort field) → (generation, size, sorted positions): see _sorted_index.
        self._indexes: dict[tuple[str, str], tuple[int, int, list[tuple[Any, int]]]] = {}
        self._generation = 0
        self._signing_key = secrets.token_bytes(32)
        self.account_id = 0
        self.account_name = ""
        self._load_seed(_read_seed(seed))

    # --- inspection helpers ---

    @property
    def items(self) -> dict[int, dict[str, Any]]:
        """Items by id (Python values; stock is in :attr:`item_shops`)."""
        return self.records["Item"]

    @property
    def item_shops(self) -> dict[int, dict[str, Any]]:
        """ItemShop rows by itemShopID."""
        return self.records["ItemShop"]

    @property
    def sales(self) -> dict[int, dict[str, Any]]:
        """Sales by id, with their SaleLines and SalePayments lists."""
        return self.records["Sale"]

    def stock(self, item_id: int, shop_id: int) -> int | None:
        """The qoh of ``item_id`` in ``shop_id`` (0 = all shops), if the row exists."""
        with self.lock:
            row = self._item_shop(item_id, shop_id)
            return None if row is None else int(row["qoh"])

    def add_fault(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Register a fault (``add_fault(path="*/Item.json", status=503, count=3)``)."""
        fault = fault or Fault(**kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one count)."""
        with self.lock:
            for fault in self.faults:
                if fault.count <= 0 or not fault.matches(method, path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.count -= 1
                return fault
        return None

    def log_request(self, method: str, path: str, query: str, status: int) -> None:
        """Append to :attr:`requests`."""
        with self.lock:
            self.requests.append(RequestLog(method, path, query, status, self.clock.time()))

    def count_status(self, status: int) -> int:
        """How many logged responses had ``status``."""
        with self.lock:
            return sum(1 for r in self.requests if r.status == status)

    def revoke_access_tokens(self) -> None:
        """Make every access token issued so far invalid (forces 401s)."""
        with self.lock:
            self.revoked_before = self.clock.time()

    # --- seed ---

    def _load_seed(self, seed: Mapping[str, Any]) -> None:
        account = seed.get("account") or {"accountID": 101, "name": "Sandbox"}
        self.account_id = int(account["accountID"])
        self.account_name = str(account.get("name", ""))
        now = self._now_text()
        for entity in KEYS:
            for raw in seed.get(entity, []):
                record = _typed(dict(raw))
                shops = record.pop("ItemShops", None) if entity == "Item" else None
                record.setdefault("timeStamp", now)
                self._insert(entity, record)
                if entity == "Item":
                    self._ensure_item_shops(record["itemID"], shops or [], now)

    def _insert(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        key = KEYS[entity]
        if not record.get(key):
            record[key] = self._next_id(entity)
        record_id = int(record[key])
        self._next_ids[entity] = max(self._next_ids.get(entity, 1), record_id + 1)
        self.records[entity][record_id] = record
        if entity == "ItemShop":
            by_shop = self._item_shop_index.setdefault(int(record["itemID"]), {})
            by_shop[int(record["shopID"])] = record_id
        return record

    def _next_id(self, entity: str) -> int:
        value = self._next_ids.get(entity, 1)
        self._next_ids[entity] = value + 1
        return value

    def _now_text(self) -> str:
        return self.clock.now().replace(microsecond=0).isoformat()

    # --- OAuth ---

    def authorize(self, params: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
        """Auto-consent: return (redirect URI or None, query of the redirect: code, state)."""
        if params.get("response_type") != "code":
            raise SandboxError(
                400,
                "response_type must be code",
                body=_oauth_error("unsupported_response_type", "only the code flow is supported"),
            )
        client_id = params.get("client_id", "")
        if client_id not in self.clients:
            raise SandboxError(
                400, "unknown client", body=_oauth_error("invalid_client", "unknown client_id")
            )
        with self.lock:
            employee_id = self._consenting_employee(params.get("employee_id"))
            method = params.get("code_challenge_method") or None
            challenge = params.get("code_challenge") or None
            if challenge and (method or "plain") not in ("S256", "plain"):
                raise SandboxError(
                    400,
                    "bad PKCE method",
                    body=_oauth_error(
                        "invalid_request", "code_challenge_method must be S256 or plain"
                    ),
                )
            code = secrets.token_urlsafe(24)
            redirect_uri = params.get("redirect_uri") or self.redirect_uris.get(client_id)
            self._codes[code] = _AuthCode(
                client_id=client_id,
                redirect_uri=params.get("redirect_uri") or None,
                code_challenge=challenge,
                code_challenge_method=method or ("plain" if challenge else None),
                scope=params.get("scope") or "employee:all",
                employee_id=employee_id,
                issued_at=self.clock.time(),
            )
        query = {"code": code}
        if params.get("state"):
            query["state"] = params["state"]
        return redirect_uri, query

    def _consenting_employee(self, requested: str | None) -> int:
        employees = self.records["Employee"]
        if requested:
            if int(requested) not in employees:
                raise SandboxError(
                    400,
                    "unknown employee",
                    body=_oauth_error("access_denied", f"employee {requested} does not exist"),
                )
            return int(requested)
        if self.consent_employee_id is not None:
            return self.consent_employee_id
        roles = {rid: r.get("name") for rid, r in self.records["EmployeeRole"].items()}
        for employee_id, employee in sorted(employees.items()):
            if roles.get(int(employee.get("employeeRoleID") or 0)) == "Admin":
                return employee_id
        return min(employees) if employees else 0

    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        """The token endpoint: ``authorization_code`` and rotating ``refresh_token`` grants."""
        client_id = form.get("client_id") or (basic[0] if basic else "")
        client_secret = form.get("client_secret") or (basic[1] if basic else "")
        if self.clients.get(client_id) is None or not hmac.compare_digest(
            self.clients[client_id], client_secret
        ):
            raise SandboxError(
                401,
                "invalid client",
                body=_oauth_error("invalid_client", "Client authentication failed"),
            )
        grant_type = form.get("grant_type")
        with self.lock:
            if grant_type == "authorization_code":
                return self._exchange_code(client_id, form)
            if grant_type == "refresh_token":
                return self._refresh(client_id, form.get("refresh_token", ""))
        raise SandboxError(
            400,
            "bad grant",
            body=_oauth_error(
                "unsupported_grant_type", f"grant_type {grant_type!r} is not supported"
            ),
        )

    def _exchange_code(self, client_id: str, form: Mapping[str, str]) -> dict[str, Any]:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.client_id != client_id:
            raise SandboxError(
                400,
                "bad code",
                body=_oauth_error(
                    "invalid_grant", "Authorization code is invalid or was already used"
                ),
            )
        if self.clock.time() - code.issued_at > self.code_ttl:
            raise SandboxError(
                400,
                "expired code",
                body=_oauth_error("invalid_grant", "Authorization code has expired"),
            )
        if code.redirect_uri and form.get("redirect_uri") not in (None, "", code.redirect_uri):
            raise SandboxError(
                400,
                "redirect mismatch",
                body=_oauth_error(
                    "invalid_grant", "redirect_uri does not match the authorization request"
                ),
            )
        if code.code_challenge:
            verifier = form.get("code_verifier", "")
            if code.code_challenge_method == "S256":
                digest = hashlib.sha256(verifier.encode()).digest()
                computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            else:
                computed = verifier
            if not verifier or not hmac.compare_digest(computed, code.code_challenge):
                raise SandboxError(
                    400,
                    "pkce",
                    body=_oauth_error("invalid_grant", "Failed to verify code_verifier"),
                )
        code.used = True
        return self._issue(_Grant(client_id, code.scope, code.employee_id))

    def _refresh(self, client_id: str, refresh_token: str) -> dict[str, Any]:
        grant = self._refresh_tokens.pop(refresh_token, None)
        if grant is None or grant.client_id != client_id:
            if grant is not None:  # wrong client: put it back, it is not theirs to burn
                self._refresh_tokens[refresh_token] = grant
            raise SandboxError(
                400,
                "bad refresh",
                body=_oauth_error("invalid_grant", "The refresh token is invalid."),
            )
        # Single use: the old refresh token dies now, whatever happens next.
        self.dead_refresh_tokens.add(refresh_token)
        self.refresh_count += 1
        return self._issue(grant)

    def _issue(self, grant: _Grant) -> dict[str, Any]:
        now = self.clock.time()
        claims = {
            "acct": str(self.account_id),
            "sub": str(grant.employee_id),
            "aud": grant.client_id,
            "scope": grant.scope,
            "iat": now,
            "exp": now + self.access_token_ttl,
            "jti": secrets.token_hex(8),
        }
        refresh_token = secrets.token_urlsafe(32)
        self._refresh_tokens[refresh_token] = grant
        return {
            "token_type": "Bearer",
            "expires_in": int(self.access_token_ttl),
            "access_token": self._sign(claims),
            "refresh_token": refresh_token,
            "scope": grant.scope,
        }

    def _sign(self, claims: Mapping[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._signing_key, f"{header}.{payload}".encode(), hashlib.sha256)
        return f"{header}.{payload}.{_b64(signature.digest())}"

    def verify_access_token(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid Bearer token, else a 401 in Lightspeed's OAuth shape."""
        denied = SandboxError(401, ACCESS_DENIED["hint"], body=dict(ACCESS_DENIED))
        if not authorization or not authorization.startswith("Bearer "):
            raise denied
        token = authorization[len("Bearer ") :].strip()
        parts = token.split(".")
        if len(parts) != 3:
            raise denied
        expected = hmac.new(
            self._signing_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256
        ).digest()
        if not hmac.compare_digest(_b64(expected), parts[2]):
            raise denied
        claims: dict[str, Any] = json.loads(_unb64(parts[1]))
        with self.lock:
            revoked_before, now = self.revoked_before, self.clock.time()
        if float(claims["exp"]) <= now or float(claims["iat"]) <= revoked_before:
            raise denied
        return claims

    # --- the leaky bucket ---

    def charge(self, bucket_key: str, cost: float) -> dict[str, str]:
        """Add ``cost`` to the bucket or raise a 429; returns the rate-limit headers."""
        with self.lock:
            now = self.clock.time()
            bucket = self._buckets.setdefault(bucket_key, _Bucket(0.0, now))
            level = max(0.0, bucket.level - (now - bucket.at) * self.drip_rate)
            bucket.level, bucket.at = level, now
            if level + cost > self.bucket_size:
                retry_after = max(1, math.ceil((level + cost - self.bucket_size) / self.drip_rate))
                headers = self._bucket_headers(level, cost)
                headers["Retry-After"] = str(retry_after)
                headers["X-LS-API-RateLimit-Type"] = "bucket"
                raise SandboxError(
                    429,
                    "Rate limit exceeded: the request would overflow the bucket.",
                    "RateLimitException",
                    headers=headers,
                )
            bucket.level = level + cost
            return self._bucket_headers(bucket.level, cost)

    def _bucket_headers(self, level: float, cost: float) -> dict[str, str]:
        return {
            "X-LS-API-Bucket-Level": f"{level:.3f}/{self.bucket_size:g}",
            "X-LS-API-Drip-Rate": f"{self.drip_rate:g}",
            "X-LS-API-Request-Cost": f"{cost:g}",
        }

    # --- the API ---

    def account_list(self, authorization: str | None) -> ApiResponse:
        """``GET /API/V3/Account.json``: the token's account."""
        claims = self.verify_access_token(authorization)
        headers = self.charge(self._bucket_key(claims), 1.0)
        body = {
            "@attributes": {"count": "1"},
            "Account": _render({"accountID": self.account_id, "name": self.account_name}),
        }
        return ApiResponse(200, body, headers)

    def _bucket_key(self, claims: Mapping[str, Any]) -> str:
        return f"{claims['acct']}:{claims['aud']}"

    def api(
        self,
        method: str,
        account_id: int,
        rest: str,
        query: list[tuple[str, str]],
        body: bytes,
        authorization: str | None,
        base_url: str,
    ) -> ApiResponse:
        """Serve ``/API/V3/Account/{account_id}/{rest}`` (``Item.json``, ``Item/5.json``)."""
        claims = self.verify_access_token(authorization)
        if int(claims["acct"]) != account_id or account_id != self.account_id:
            raise SandboxError(403, "This token may not access that account.", "Forbidden")
        entity, record_id = _parse_rest(rest)
        if entity not in KEYS:
            raise SandboxError(404, f"Unknown entity {entity}.", "NotFound")
        payload: Any = None
        if method in ("POST", "PUT"):
            try:
                payload = json.loads(body or b"{}")
            except ValueError as exc:
                raise SandboxError(400, f"Malformed JSON body: {exc}") from exc
            if not isinstance(payload, dict):
                raise SandboxError(400, "The body must be a JSON object.")
        cost = request_cost(method, entity, payload, write_cost=self.write_cost)
        headers = self.charge(self._bucket_key(claims), cost)
        params = dict(query)
        with self.lock:
            try:
                if method == "GET":
                    result = self._read(entity, record_id, params, query, base_url)
                else:
                    self._changed()
                    result = self._write(method, entity, record_id, payload, cost)
            except SandboxError as exc:
                exc.headers.update(headers)
                raise
        result.headers.update(headers)
        return result

    # --- reads ---

    def _read(
        self,
        entity: str,
        record_id: int | None,
        params: Mapping[str, str],
        query: list[tuple[str, str]],
        base_url: str,
    ) -> ApiResponse:
        relations = _relations(params.get("load_relations"))
        if record_id is not None:
            record = self.records[entity].get(record_id)
            if record is None:
                raise SandboxError(404, f"{entity} {record_id} not found.", "NotFound")
            return ApiResponse(200, {entity: self._render(entity, record, relations)})

        limit_text = params.get("limit", str(MAX_LIMIT))
        try:
            limit = int(limit_text)
        except ValueError as exc:
            raise SandboxError(400, f"Invalid limit {limit_text!r}.") from exc
        if not 1 <= limit <= MAX_LIMIT:
            raise SandboxError(400, f"limit must be between 1 and {MAX_LIMIT}.")
        filters = [(k, v) for k, v in query if k not in PAGING_PARAMS and k != "archived"]
        # Archived records are left out unless asked for: archived=true adds them,
        # archived=only keeps only them (Lightspeed's rule).
        archived = params.get("archived", "false").strip().lower()
        sort_field = params.get("sort") or KEYS[entity]
        descending = sort_field.startswith("-")
        sort_field = sort_field.lstrip("-")
        key_field = KEYS[entity]
        table = self.records[entity]

        def wanted(record: Mapping[str, Any]) -> bool:
            return (
                archived == "true" or bool(record.get("archived")) == (archived == "only")
            ) and _matches(record, filters)

        after, before = params.get("after"), params.get("before")
        cursor = after or before
        mark = _cursor_position(cursor) if cursor else None
        # Walk the sort key's index from the cursor (a range filter on the sort key itself
        # starts at its bound): a page costs what it shows, not a sort of the whole table.
        index = self._sorted_index(entity, sort_field, key_field, filters)
        forward = (before is None) != descending
        if forward:
            start = 0 if mark is None else bisect.bisect_right(index, mark)
            bound = _range_start(filters, sort_field)
            if bound is not None and not descending:
                start = max(start, bisect.bisect_left(index, (bound, -1)))
            candidates: Iterable[tuple[Any, int]] = itertools.islice(index, start, None)
        else:
            stop = len(index) if mark is None else bisect.bisect_left(index, mark)
            candidates = reversed(index[:stop])
        found: list[dict[str, Any]] = []
        for _, record_id in candidates:
            record = table.get(record_id)
            if record is not None and wanted(record):
                found.append(record)
                if len(found) > limit:
                    break
        more = len(found) > limit
        page = found[:limit]
        if before:
            page.reverse()
            has_more, has_less = True, more
        else:
            has_more, has_less = more, bool(after)

        base_query = [(k, v) for k, v in query if k not in ("after", "before")]

        def link(direction: str, record: Mapping[str, Any]) -> str:
            cursor = _cursor(record.get(sort_field), int(record[key_field]))
            return f"{base_url}?{urlencode([*base_query, (direction, cursor)])}"

        body: dict[str, Any] = {
            "@attributes": {
                "next": link("after", page[-1]) if page and has_more else "",
                "previous": link("before", page[0]) if page and has_less else "",
            }
        }
        if page:
            rendered = [self._render(entity, r, relations) for r in page]
            # The single-object quirk: one hit is a bare object, not a list.
            body[entity] = rendered[0] if len(rendered) == 1 else rendered
        return ApiResponse(200, body)

    def _sorted_index(
        self, entity: str, sort_field: str, key_field: str, filters: list[tuple[str, str]]
    ) -> list[tuple[Any, int]]:
        """``(sort position, id)`` of every record of ``entity``, ascending; rebuilt lazily
        after any change (:meth:`_changed`). An ``IN`` or equality filter on the key itself
        is answered from its ids alone."""
        table = self.records[entity]
        for name, raw in filters:
            if name == key_field and (raw.startswith("IN,[") or raw.isdigit()):
                ids = raw[4:-1].split(",") if raw.startswith("IN,[") else [raw]
                chosen = [table[int(i)] for i in ids if i.strip().isdigit() and int(i) in table]
                return sorted((_sort_key(r.get(sort_field)), int(r[key_field])) for r in chosen)
        cached = self._indexes.get((entity, sort_field))
        if cached is not None and cached[0] == self._generation and cached[1] == len(table):
            return cached[2]
        index = sorted((_sort_key(r.get(sort_field)), int(r[key_field])) for r in table.values())
        self._indexes[(entity, sort_field)] = (self._generation, len(table), index)
        return index

    def _changed(self) -> None:
        """Something may have moved: every sort index is rebuilt when next used."""
        self._generation += 1

    def _render(self, entity: str, record: Mapping[str, Any], relations: set[str]) -> Any:
        shown = {k: v for k, v in record.items() if k not in RELATIONS.get(entity, ())}
        wanted = RELATIONS.get(entity, frozenset()) if "all" in relations else relations
        if entity == "Employee" and "EmployeeRole" in wanted:
            role = self.records["EmployeeRole"].get(int(record.get("employeeRoleID") or 0))
            if role is not None:
                shown["EmployeeRole"] = role
        if entity == "Item" and "ItemShops" in wanted:
            shown["ItemShops"] = self._item_shop_rows(int(record["itemID"]))
        if entity == "Sale" and "Customer" in wanted:
            customer = self.records["Customer"].get(int(record.get("customerID") or 0))
            if customer is not None:
                shown["Customer"] = customer
        for relation in RELATIONS.get(entity, frozenset()):
            if relation in wanted and relation in record:
                shown[relation] = record[relation]
        return _render(shown)

    # --- writes ---

    def _write(
        self, method: str, entity: str, record_id: int | None, payload: Any, cost: float
    ) -> ApiResponse:
        try:
            if method == "POST" and record_id is None:
                record = self._create(entity, _typed(_unwrap(payload)))
            elif method == "PUT" and record_id is not None:
                record = self._update(entity, record_id, _typed(_unwrap(payload)))
            elif method == "DELETE" and record_id is not None:
                record = self._update(entity, record_id, {"archived": True})
            else:
                raise SandboxError(405, f"{method} is not allowed here.", "MethodNotAllowed")
        except SandboxError as exc:
            self.writes.append(WriteLog(method, entity, record_id, payload, cost, exc.status))
            raise
        created_id = int(record[KEYS[entity]])
        self.writes.append(WriteLog(method, entity, created_id, payload, cost, 200))
        everything = set(RELATIONS.get(entity, frozenset()))
        return ApiResponse(200, {entity: self._render(entity, record, everything)})

    def _create(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = self._now_text()
        fields.pop(KEYS[entity], None)
        if entity == "Sale":
            return self._create_sale(fields, now)
        shops = fields.pop("ItemShops", []) if entity == "Item" else []
        fields["timeStamp"] = now
        fields.setdefault("archived", False)
        record = self._insert(entity, fields)
        if entity == "Item":
            record.setdefault("systemSku", str(210000000000 + record["itemID"]))
            record.setdefault("Prices", [])
            self._ensure_item_shops(record["itemID"], shops, now)
        return record

    def _update(self, entity: str, record_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        record = self.records[entity].get(record_id)
        if record is None:
            raise SandboxError(404, f"{entity} {record_id} not found.", "NotFound")
        now = self._now_text()
        fields.pop(KEYS[entity], None)
        if entity == "Item":
            shops = fields.pop("ItemShops", None)
            prices = fields.pop("Prices", None)
            if shops:
                # Only the ItemShop rows move; Item.timeStamp stays (a documented quirk).
                self._ensure_item_shops(record_id, shops, now)
            if prices:
                _merge_prices(record.setdefault("Prices", []), prices)
            if fields or prices:
                record.update(fields)
                record["timeStamp"] = now
            return record
        if entity == "Sale":
            return self._update_sale(record, fields, now)
        record.update(fields)
        record["timeStamp"] = now
        if entity == "ItemShop":
            self._recount_all_shops(int(record["itemID"]), now)
        return record

    def _item_shop(self, item_id: int, shop_id: int) -> dict[str, Any] | None:
        row_id = self._item_shop_index.get(item_id, {}).get(shop_id)
        return None if row_id is None else self.item_shops.get(row_id)

    def _item_shop_rows(self, item_id: int) -> list[dict[str, Any]]:
        by_shop = self._item_shop_index.get(item_id, {})
        return [self.item_shops[by_shop[shop_id]] for shop_id in sorted(by_shop)]

    def _ensure_item_shops(self, item_id: int, updates: Iterable[Any], now: str) -> None:
        """Create the shop-0 row and one row per shop; apply ``updates`` (by id or shopID)."""
        for shop_id in [0, *sorted(self.records["Shop"])]:
            if self._item_shop(item_id, shop_id) is None:
                self._insert(
                    "ItemShop",
                    {
                        "itemID": item_id,
                        "shopID": shop_id,
                        "qoh": 0,
                        "backorder": 0,
                        "reorderPoint": 0,
                        "reorderLevel": 0,
                        "timeStamp": now,
                    },
                )
        for update in updates:
            if not isinstance(update, Mapping):
                raise SandboxError(400, "ItemShop entries must be objects.")
            row = None
            if update.get("itemShopID"):
                row = self.item_shops.get(int(update["itemShopID"]))
            elif "shopID" in update:
                row = self._item_shop(item_id, int(update["shopID"]))
            if row is None or row["itemID"] != item_id:
                raise SandboxError(400, f"No ItemShop matches {dict(update)!r} for item {item_id}.")
            changes = {
                k: v for k, v in update.items() if k not in ("itemShopID", "itemID", "shopID")
            }
            row.update(changes)
            row["timeStamp"] = now
        self._recount_all_shops(item_id, now)

    def _recount_all_shops(self, item_id: int, now: str) -> None:
        # The shopID 0 row is the total over the shops.
        total = sum(int(r["qoh"]) for r in self._item_shop_rows(item_id) if r["shopID"] != 0)
        row = self._item_shop(item_id, 0)
        if row is not None and row["qoh"] != total:
            row["qoh"] = total
            row["timeStamp"] = now

    def _create_sale(self, fields: dict[str, Any], now: str) -> dict[str, Any]:
        for key, entity in (("shopID", "Shop"), ("employeeID", "Employee")):
            if int(fields.get(key) or 0) not in self.records[entity]:
                raise SandboxError(400, f"{key} {fields.get(key)!r} is not a valid {entity}.")
        if fields.get("registerID") and int(fields["registerID"]) not in self.records["Register"]:
            raise SandboxError(400, f"registerID {fields['registerID']!r} is not a valid Register.")
        if fields.get("customerID") and int(fields["customerID"]) not in self.records["Customer"]:
            raise SandboxError(400, f"customerID {fields['customerID']!r} is not a valid Customer.")
        lines = fields.pop("SaleLines", [])
        payments = fields.pop("SalePayments", [])
        sale: dict[str, Any] = {
            "completed": False,
            "voided": False,
            "archived": False,
            "referenceNumber": "",
            "referenceNumberSource": "",
            "registerID": 0,
            "customerID": 0,
            "completeTime": "",
            **fields,
            "timeStamp": now,
            "updatetime": now,
            "SaleLines": [],
            "SalePayments": [],
        }
        self._add_lines(sale, lines, payments, now)
        self._check_balance(sale)
        sale = self._insert("Sale", sale)
        for child in (*sale["SaleLines"], *sale["SalePayments"]):
            child["saleID"] = sale["saleID"]
        if sale["completed"]:
            self._complete(sale, now)
        return sale

    def _update_sale(
        self, sale: dict[str, Any], fields: dict[str, Any], now: str
    ) -> dict[str, Any]:
        was_completed = bool(sale.get("completed"))
        was_voided = bool(sale.get("voided"))
        candidate = {
            **sale,
            "SaleLines": list(sale["SaleLines"]),
            "SalePayments": list(sale["SalePayments"]),
        }
        lines = fields.pop("SaleLines", [])
        payments = fields.pop("SalePayments", [])
        candidate.update(fields)
        self._add_lines(candidate, lines, payments, now)
        self._check_balance(candidate)
        sale.clear()
        sale.update(candidate)
        sale["timeStamp"] = now
        # updatetime moves on every change (edits, completion, voids); timeStamp is legacy.
        sale["updatetime"] = now
        for child in (*sale["SaleLines"], *sale["SalePayments"]):
            child["saleID"] = sale["saleID"]
        if sale["completed"] and not was_completed:
            self._complete(sale, now)
        if sale.get("voided") and not was_voided and was_completed:
            # Voiding a completed sale puts its items back (returns are taken out again).
            self._move_sale_stock(sale, now, sign=+1)
        return sale

    def _add_lines(
        self, sale: dict[str, Any], lines: list[Any], payments: list[Any], now: str
    ) -> None:
        for line in lines:
            item_id = int(line.get("itemID") or 0)
            if item_id and item_id not in self.items:
                raise SandboxError(400, f"itemID {item_id} is not a valid Item.")
            sale["SaleLines"].append(
                {
                    "saleLineID": self._next_id("SaleLine"),
                    "itemID": item_id,
                    "unitQuantity": int(line.get("unitQuantity") or 0),
                    "unitPrice": Decimal(line.get("unitPrice") or 0),
                    "timeStamp": now,
                }
            )
        for payment in payments:
            type_id = int(payment.get("paymentTypeID") or 0)
            if type_id not in self.records["PaymentType"]:
                raise SandboxError(400, f"paymentTypeID {type_id} is not a valid PaymentType.")
            sale["SalePayments"].append(
                {
                    "salePaymentID": self._next_id("SalePayment"),
                    "paymentTypeID": type_id,
                    "amount": Decimal(payment.get("amount") or 0),
                }
            )
        subtotal = sum(
            (Decimal(line["unitQuantity"]) * line["unitPrice"] for line in sale["SaleLines"]),
            Decimal(0),
        ).quantize(Decimal("0.01"))
        tax = self._sale_tax(sale)
        total = subtotal + tax
        paid = sum((p["amount"] for p in sale["SalePayments"]), Decimal(0)).quantize(
            Decimal("0.01")
        )
        sale["calcSubtotal"] = subtotal
        sale["calcTax1"] = tax
        sale["total"] = total
        sale["balance"] = total - paid

    def _sale_tax(self, sale: Mapping[str, Any]) -> Decimal:
        """Lightspeed's tax: the sale's tax category rate (``tax1Rate``) on the lines whose
        item is taxable (``tax``, default true; a line without an item is not), rounded half
        up to the cent once for the sale — so it may differ from a webstore's per-line tax."""
        category = self.records["TaxCategory"].get(int(sale.get("taxCategoryID") or 0))
        if category is None:
            return Decimal("0.00")
        rate = Decimal(str(category.get("tax1Rate") or "0"))
        taxable = Decimal(0)
        for line in sale["SaleLines"]:
            item = self.items.get(int(line["itemID"] or 0))
            if item is not None and item.get("tax", True) not in (False, "false"):
                taxable += Decimal(line["unitQuantity"]) * line["unitPrice"]
        return (taxable * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def _check_balance(self, sale: Mapping[str, Any]) -> None:
        if sale.get("completed") and sale["balance"] != 0:
            paid = sale["total"] - sale["balance"]
            raise SandboxError(
                400,
                f"Sale does not balance: total {sale['total']} but payments {paid}. "
                "A sale must be paid in full to be completed.",
                "SaleNotBalancedException",
            )

    def _complete(self, sale: dict[str, Any], now: str) -> None:
        sale["completeTime"] = now
        self._move_sale_stock(sale, now, sign=-1)

    def _move_sale_stock(self, sale: dict[str, Any], now: str, *, sign: int) -> None:
        shop_id = int(sale["shopID"])
        for line in sale["SaleLines"]:
            row = self._item_shop(int(line["itemID"]), shop_id) if line["itemID"] else None
            if row is not None:
                row["qoh"] = int(row["qoh"]) + sign * int(line["unitQuantity"])
                row["timeStamp"] = now
                self._recount_all_shops(int(line["itemID"]), now)

    # --- sales rung up at the till (tests, the demo, the bench) ---

    def ring_up(
        self,
        shop_id: int,
        lines: Iterable[tuple[int, int, Decimal | str | int]],
        *,
        register_id: int | None = None,
        employee_id: int | None = None,
        customer_id: int = 0,
        payment_type_id: int | None = 1,
        updatetime: datetime | None = None,
    ) -> dict[str, Any]:
        """A completed sale as the till makes it: ``lines`` of ``(itemID, unitQuantity,
        unitPrice)`` (itemID 0 = a line without an item; negative quantity = a refund),
        paid in full with ``payment_type_id`` (None: no payment, a balance left). Stock
        moves as on Lightspeed. ``updatetime`` backdates the sale's last change (a sale that
        committed late, after a reader moved past that time). Nothing is charged to the
        bucket."""
        with self.lock:
            self._changed()
            now = self._now_text()
            if register_id is None:
                register_id = next(
                    (
                        rid
                        for rid, r in sorted(self.records["Register"].items())
                        if int(r.get("shopID") or 0) == shop_id
                    ),
                    0,
                )
            if employee_id is None:
                employee_id = min(self.records["Employee"]) if self.records["Employee"] else 0
            sale: dict[str, Any] = {
                "completed": True,
                "voided": False,
                "archived": False,
                "referenceNumber": "",
                "referenceNumberSource": "",
                "shopID": shop_id,
                "registerID": register_id,
                "employeeID": employee_id,
                "customerID": customer_id,
                "completeTime": now,
                "timeStamp": now,
                "updatetime": now,
                "SaleLines": [],
                "SalePayments": [],
            }
            raw_lines = [
                {"itemID": item_id, "unitQuantity": qty, "unitPrice": str(price)}
                for item_id, qty, price in lines
            ]
            self._add_lines(sale, raw_lines, [], now)
            if payment_type_id is not None and sale["total"]:
                self._add_lines(
                    sale, [], [{"paymentTypeID": payment_type_id, "amount": sale["total"]}], now
                )
            sale = self._insert("Sale", sale)
            for child in (*sale["SaleLines"], *sale["SalePayments"]):
                child["saleID"] = sale["saleID"]
            self._move_sale_stock(sale, now, sign=-1)
            if updatetime is not None:
                sale["updatetime"] = updatetime.astimezone(UTC).replace(microsecond=0).isoformat()
            return sale

    def void_sale(self, sale_id: int) -> dict[str, Any]:
        """Void a sale at the till (its stock comes back; ``updatetime`` moves)."""
        with self.lock:
            sale = self.records["Sale"].get(sale_id)
            if sale is None:
                raise KeyError(sale_id)
            self._changed()
            return self._update_sale(sale, {"voided": True}, self._now_text())

    # --- the back office (tests, the demo, the bench): changes as Lightspeed makes them ---

    def set_stock(self, item_id: int, shop_id: int, **fields: Any) -> None:
        """Change an ItemShop row (``qoh``, ``backorder``, ``reorderPoint``, ``reorderLevel``)
        as a stock count or a delivery does: the row's timeStamp moves, the Item's does not
        (a documented quirk of the API). The row is created when missing."""
        with self.lock:
            if item_id not in self.items:
                raise KeyError(item_id)
            self._changed()
            self._ensure_item_shops(item_id, [{"shopID": shop_id, **fields}], self._now_text())

    def update_item(self, item_id: int, **fields: Any) -> dict[str, Any]:
        """Change an item's own fields (``upc``, ``archived``, ``Prices`` …): its timeStamp
        moves. ``Prices`` entries are merged by ``useTypeID``."""
        with self.lock:
            self._changed()
            return self._update("Item", item_id, _typed(_unwrap(fields)))

    def backdate(self, seconds: float) -> None:
        """Make every record ``seconds`` older (its ``timeStamp`` / ``updatetime``): a seed
        made just now then reads as history, not as changes (benches, the demo)."""
        with self.lock:
            self._changed()
            for table in self.records.values():
                for record in table.values():
                    for name in ("timeStamp", "updatetime"):
                        when = _parse_datetime(str(record.get(name) or ""))
                        if when is not None:
                            shifted = datetime.fromtimestamp(when.timestamp() - seconds, UTC)
                            record[name] = shifted.replace(microsecond=0).isoformat()

    def add_item(self, **fields: Any) -> dict[str, Any]:
        """Create an item (``ItemShops`` rows as in a seed); returns it with its itemID."""
        with self.lock:
            self._changed()
            return self._create("Item", _typed(_unwrap(fields)))


# --- helpers: seed, payloads, rendering, filtering, cursors ---


def _read_seed(seed: Mapping[str, Any] | str | Path | None) -> Mapping[str, Any]:
    if seed is None:
        seed = DEFAULT_SEED_PATH
    if isinstance(seed, str | Path):
        loaded = json.loads(Path(seed).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError(f"seed {seed} must hold a JSON object")
        return loaded
    return seed


def _oauth_error(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parse_rest(rest: str) -> tuple[str, int | None]:
    path = rest.strip("/")
    if not path.endswith(".json"):
        raise SandboxError(404, f"Unknown resource {rest}.", "NotFound")
    parts = path[: -len(".json")].split("/")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) == 2 and parts[1].isdigit():
        return parts[0], int(parts[1])
    raise SandboxError(404, f"Unknown resource {rest}.", "NotFound")


def _unwrap(value: Any) -> Any:
    """Write shape → stored shape: ``{"ItemShop":[…]}``/``{"ItemShop":{…}}`` → a list."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if key in CONTAINERS:
                if inner in ("", None):
                    out[key] = []
                    continue
                if isinstance(inner, Mapping) and CONTAINERS[key] in inner:
                    inner = inner[CONTAINERS[key]]
                items = inner if isinstance(inner, list) else [inner]
                out[key] = [_unwrap(i) for i in items]
            else:
                out[key] = _unwrap(inner)
        return out
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _typed(record: Any) -> Any:
    """Coerce known fields to Python types (writes may send numbers or strings)."""
    if isinstance(record, list):
        return [_typed(v) for v in record]
    if not isinstance(record, Mapping):
        return record
    out: dict[str, Any] = {}
    for key, value in record.items():
        try:
            if isinstance(value, Mapping | list):
                out[key] = _typed(value)
            elif key.endswith("ID") or key in INT_FIELDS:
                out[key] = int(Decimal(str(value))) if value not in ("", None) else 0
            elif key in BOOL_FIELDS:
                out[key] = value if isinstance(value, bool) else str(value).lower() == "true"
            elif key in MONEY_FIELDS:
                out[key] = Decimal(str(value)) if value not in ("", None) else Decimal(0)
            else:
                out[key] = value
        except (InvalidOperation, ValueError) as exc:
            raise SandboxError(400, f"Invalid value for {key}: {value!r}.") from exc
    return out


def _render(value: Any, key: str | None = None) -> Any:
    """Stored shape → the API's: strings everywhere, containers wrapped, "" when empty."""
    if isinstance(value, Mapping):
        return {k: _render(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return ""
        items = [_render(v) for v in value]
        child = CONTAINERS.get(key or "", key or "item")
        return {child: items[0] if len(items) == 1 else items}
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    return str(value)


def _relations(raw: str | None) -> set[str]:
    if not raw:
        return set()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise SandboxError(400, f"load_relations must be a JSON array: {raw!r}.") from exc
    if parsed == "all":
        return {"all"}
    if not isinstance(parsed, list):
        raise SandboxError(400, f"load_relations must be a JSON array: {raw!r}.")
    return {str(p) for p in parsed}


def _parse_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None or value == "":
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float | Decimal):
        return (2, Decimal(str(value)))
    text = str(value)
    when = _parse_datetime(text) if len(text) >= 10 and text[4:5] == "-" else None
    if when is not None:
        return (3, when.timestamp())
    return (4, text)


def _compare(record_value: Any, operand: str) -> tuple[Any, Any]:
    """Both sides in one comparable type, following the record value's type."""
    if isinstance(record_value, bool):
        return int(record_value), int(operand.strip().lower() == "true")
    if isinstance(record_value, int | float | Decimal):
        try:
            return Decimal(str(record_value)), Decimal(operand)
        except InvalidOperation as exc:
            raise SandboxError(400, f"Invalid number in filter: {operand!r}.") from exc
    text = "" if record_value is None else str(record_value)
    mine, theirs = _parse_datetime(text), _parse_datetime(operand)
    if mine is not None and theirs is not None and len(text) >= 10:
        return mine, theirs
    return text, operand


def _range_start(filters: list[tuple[str, str]], sort_field: str) -> Any:
    """The sort position a ``>`` / ``>=`` filter on the sort field itself starts at."""
    for name, raw in filters:
        if name == sort_field and raw.startswith((">,", ">=,")):
            return _sort_key(raw.split(",", 1)[1])
    return None


def _matches(record: Mapping[str, Any], filters: list[tuple[str, str]]) -> bool:
    return all(
        any(_match_one(value, raw) for value in _nested(record, field))
        if "." in field
        else _match_one(record.get(field), raw)
        for field, raw in filters
    )


def _nested(record: Mapping[str, Any], field: str) -> list[Any]:
    """The values a dotted filter names: ``Contact.email`` (a customer's e-mail addresses,
    as Lightspeed filters customers by e-mail); other paths follow nested objects."""
    if field == "Contact.email":
        contact = record.get("Contact") or {}
        emails = contact.get("Emails") if isinstance(contact, Mapping) else None
        return [e.get("address") for e in emails or [] if isinstance(e, Mapping)]
    value: Any = record
    for part in field.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return [value]


def _match_one(value: Any, raw: str) -> bool:
    for prefix, test in (
        ("><,", None),
        (">=,", lambda a, b: a >= b),
        ("<=,", lambda a, b: a <= b),
        ("!=,", lambda a, b: a != b),
        (">,", lambda a, b: a > b),
        ("<,", lambda a, b: a < b),
        ("=,", lambda a, b: a == b),
    ):
        if raw.startswith(prefix):
            operand = raw[len(prefix) :]
            if test is None:
                low, _, high = operand.partition(",")
                a, lo = _compare(value, low)
                _, hi = _compare(value, high)
                return bool(lo <= a <= hi)
            a, b = _compare(value, operand)
            return bool(test(a, b))
    if raw.startswith("IN,[") and raw.endswith("]"):
        options = [o.strip().strip('"') for o in raw[4:-1].split(",") if o.strip()]
        if len(options) > MAX_LIMIT:
            raise SandboxError(400, f"IN takes at most {MAX_LIMIT} values.")
        return any(_compare(value, o)[0] == _compare(value, o)[1] for o in options)
    if raw.startswith("~,"):
        pattern = raw[2:].lower()
        text = "" if value is None else str(value).lower()
        return fnmatch.fnmatchcase(text, pattern.replace("*", "[*]").replace("%", "*"))
    a, b = _compare(value, raw)
    return bool(a == b)


def _cursor(value: Any, record_id: int) -> str:
    # Decimals travel as JSON numbers so the cursor sorts like the records it points into.
    plain = float(value) if isinstance(value, Decimal) else value
    if not isinstance(plain, int | float | str | bool | None):
        plain = str(plain)
    return _b64(json.dumps([plain, record_id]).encode())


def _cursor_position(cursor: str) -> tuple[Any, ...]:
    try:
        value, record_id = json.loads(_unb64(cursor))
    except (ValueError, TypeError) as exc:
        raise SandboxError(400, "Invalid cursor.") from exc
    return (_sort_key(value), int(record_id))


def _merge_prices(prices: list[dict[str, Any]], updates: list[Any]) -> None:
    for update in updates:
        for price in prices:
            if (update.get("useTypeID") and price.get("useTypeID") == update["useTypeID"]) or (
                update.get("useType") and price.get("useType") == update["useType"]
            ):
                price.update(update)
                break
        else:
            prices.append(dict(update))
