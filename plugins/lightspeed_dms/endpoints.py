"""The Web Orders endpoints the DMS polls, under ``/dms/{tenant_slug}/LightSpeed``.

Every endpoint takes GET and POST, answers XML, and authenticates the DMS with the tenant's
Web Commerce Basic credentials. A document that cannot be used is answered with a FAILURE
reply (HTTP 200, as the DMS reads the body) and changes nothing.

The routes are made with :func:`hub.plugin.vendor_route`: the core finds the install and
decides where the handler runs (a poll or an acknowledgement is a few short SQLite
statements, done on the event loop unless something would wait). Hashing a password goes
through :func:`hub.plugin.call_blocking`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import threading
import time
from collections import OrderedDict, defaultdict, deque
from dataclasses import dataclass
from typing import Any

from litestar import Response
from litestar.handlers import HTTPRouteHandler

from hub.plugin import (
    HubError,
    NotFound,
    OrderLineView,
    OrderView,
    PluginContext,
    VendorRequest,
    call_blocking,
    vendor_route,
)
from plugins.lightspeed_dms.config import DmsConfig, verify_password
from plugins.lightspeed_dms.mapping import to_dms_cancellation, to_dms_order
from plugins.lightspeed_dms.weborders import (
    XmlTooLarge,
    build_ack_response,
    build_outstanding_activity,
    build_tax_rules,
    build_versions,
    parse_acknowledge_request,
    parse_item_action,
    parse_shipment,
    parse_void,
)
from plugins.lightspeed_dms.weborders.mapping import normalise_machine_address
from plugins.lightspeed_dms.weborders.xmlsafe import WebOrdersXmlError

__all__ = ["MAX_BODY_BYTES", "routes"]

PLUGIN_ID = "lightspeed_dms"
log = logging.getLogger("hub.lightspeed_dms")
MAX_BODY_BYTES = 1_048_576
XML = "application/xml; charset=utf-8"
REALM = 'Basic realm="Lightspeed Web Orders"'
BASE = "/dms/{tenant_slug:str}/LightSpeed"

# Repeated failures from one client for one tenant: at most FAIL_LIMIT in FAIL_WINDOW seconds.
FAIL_LIMIT = 10
FAIL_WINDOW = 300.0


class _Throttle:
    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: tuple[str, str]) -> int:
        with self._lock:
            q = self._failures.get(key)
            if not q:
                return 0
            now = time.monotonic()
            while q and q[0] < now - FAIL_WINDOW:
                q.popleft()
            if len(q) < FAIL_LIMIT:
                return 0
            return max(1, int(q[0] + FAIL_WINDOW - now) + 1)

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures[key].append(time.monotonic())

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


class _VerifiedCache:
    """Remembers credentials that verified, so scrypt runs once per minute, not per poll."""

    def __init__(self, size: int = 1024, ttl: float = 60.0) -> None:
        self._items: OrderedDict[str, float] = OrderedDict()
        self._size, self._ttl = size, ttl
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        with self._lock:
            expires = self._items.get(key)
            if expires is None or expires < time.monotonic():
                self._items.pop(key, None)
                return False
            return True

    def add(self, key: str) -> None:
        with self._lock:
            self._items[key] = time.monotonic() + self._ttl
            while len(self._items) > self._size:
                self._items.popitem(last=False)


THROTTLE = _Throttle()
VERIFIED = _VerifiedCache()


def _xml(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(body, status_code=status, media_type=XML, headers=headers)


def _failure(message: str) -> Response[bytes]:
    return _xml(build_ack_response(False, message))


_SUCCESS = build_ack_response(True)  # the same bytes for every successful action


def _success() -> Response[bytes]:
    return _xml(_SUCCESS)


def _unauthorised() -> Response[bytes]:
    return _xml(
        build_ack_response(False, "authentication required"), 401, {"WWW-Authenticate": REALM}
    )


@dataclass
class _Access:
    ctx: PluginContext
    config: DmsConfig


def _authenticate(request: VendorRequest) -> _Access | Response[bytes]:
    client = request.client_host or "?"
    key = (client, request.tenant_slug)
    wait = THROTTLE.retry_after(key)
    if wait:
        return _xml(
            build_ack_response(False, "too many failed logins; try again later"),
            429,
            {"Retry-After": str(wait)},
        )
    username, password = _basic(request.headers.get("authorization", ""))
    if username is None or password is None:
        THROTTLE.fail(key)
        return _unauthorised()
    if request.problem:  # e.g. secrets unreadable with the configured keys: nobody gets in
        return _unauthorised()
    if request.ctx is None:
        THROTTLE.fail(key)
        return _unauthorised()
    ctx = request.ctx
    config = ctx.config
    assert isinstance(config, DmsConfig)
    if not (ctx.enabled and config.web_orders_enabled and config.web_orders_password):
        THROTTLE.fail(key)
        return _unauthorised()
    token = hashlib.sha256(
        f"{ctx.install_id}\0{username}\0{password}\0{config.web_orders_password}".encode()
    ).hexdigest()
    user_ok = hmac.compare_digest(username.encode(), config.web_orders_username.encode())
    if not VERIFIED.hit(token):
        # A password hash takes tens of milliseconds: never on the event loop.
        pass_ok = call_blocking(verify_password, password, config.web_orders_password)
        if not (user_ok and pass_ok):
            THROTTLE.fail(key)
            return _unauthorised()
        VERIFIED.add(token)
    elif not user_ok:
        THROTTLE.fail(key)
        return _unauthorised()
    THROTTLE.clear(key)
    if config.allowed_ips and not _ip_allowed(client, config.allowed_ips):
        return _xml(build_ack_response(False, "this address is not allowed"), 403)
    if config.machine_addresses:
        given = normalise_machine_address(request.headers.get("x-machine-address", ""))
        allowed = {normalise_machine_address(a) for a in config.machine_addresses}
        if not given or given not in allowed:
            return _xml(build_ack_response(False, "machine address not allowed"), 403)
    return _Access(ctx, config)


def _basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


def _ip_allowed(client: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


def _guarded(request: VendorRequest, action: Any) -> Response[bytes]:
    access = _authenticate(request)
    if isinstance(access, Response):
        return access
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _xml(build_ack_response(False, f"request body over {MAX_BODY_BYTES} bytes"), 413)
    try:
        return action(access, body, **request.path_params)  # type: ignore[no-any-return]
    except XmlTooLarge as exc:
        return _xml(build_ack_response(False, str(exc)), 413)
    except WebOrdersXmlError as exc:
        return _failure(str(exc))
    except HubError as exc:
        return _failure(exc.detail)


def _handler(path: str, name: str, action: Any) -> HTTPRouteHandler:
    """A GET+POST XML endpoint: authenticate, then ``action(access, body, **path_params)``
    (the order and item ids of the path, besides the tenant)."""

    def endpoint(request: VendorRequest) -> Response[bytes]:
        return _guarded(request, action)

    return vendor_route(path, plugin_id=PLUGIN_ID, name=name, max_body_bytes=MAX_BODY_BYTES)(
        endpoint
    )


# -- the actions -------------------------------------------------------------------------


def _versions(access: _Access, body: bytes) -> Response[bytes]:
    return _xml(build_versions())


def _tax_rules(access: _Access, body: bytes) -> Response[bytes]:
    return _xml(build_tax_rules())


class _DocumentCache:
    """The last OutstandingActivity document per install, with the queue fingerprint it was
    built from. The DMS polls an unchanged queue over and over until it acknowledges, so a
    poll usually costs one fingerprint query instead of loading and rendering 30 orders."""

    def __init__(self) -> None:
        self._documents: dict[int, tuple[Any, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, install_id: int) -> tuple[Any, bytes] | None:
        """The (fingerprint, document) last built for the install, if any."""
        with self._lock:
            return self._documents.get(install_id)

    def put(self, install_id: int, fingerprint: Any, document: bytes) -> None:
        with self._lock:
            if len(self._documents) > 10_000:
                self._documents.clear()
            self._documents[install_id] = (fingerprint, document)


DOCUMENTS = _DocumentCache()


def _outstanding(access: _Access, body: bytes) -> Response[bytes]:
    ctx, config = access.ctx, access.config
    cached = DOCUMENTS.get(ctx.install_id)
    # The core's offer size is the DMS's: at most 30 orders per OutstandingActivity.
    snapshot = ctx.offer_snapshot(known=cached[0] if cached else None)
    if cached is not None and (snapshot.orders is None or snapshot.cancellations is None):
        return _xml(cached[1])
    assert snapshot.orders is not None and snapshot.cancellations is not None
    document = build_outstanding_activity(
        [to_dms_order(o, config) for o in snapshot.orders],
        [to_dms_cancellation(o) for o in snapshot.cancellations],
        ctx.tenant.tz,
    )
    if snapshot.reusable:
        DOCUMENTS.put(ctx.install_id, snapshot.fingerprint, document)
    return _xml(document)


def _acknowledge(access: _Access, body: bytes) -> Response[bytes]:
    ctx = access.ctx
    request = parse_acknowledge_request(body)
    try:
        return _apply_acknowledgement(ctx, request)
    except NotFound as exc:
        return _failure(f"unknown order {request.id!r} ({exc.detail})")


def _apply_acknowledgement(ctx: PluginContext, request: Any) -> Response[bytes]:
    notes = [(i.code, f"DMS {i.status} {i.code}: {i.message}".strip()) for i in request.issues]
    if request.response_type == "WEB_ORDER_CANCELLATION":
        ctx.acknowledge_cancellation(request.id, notes=notes)
        return _success()
    if request.failed:
        message = "; ".join(f"{i.code} {i.message}".strip() for i in request.failure_issues)
        ctx.reject_export(request.id, message or "rejected by the DMS", notes=notes)
    else:
        ctx.acknowledge_export(request.id, notes=notes)
    return _success()


def _find_line(order: OrderView, item: str) -> OrderLineView | None:
    for line in order.lines:
        if str(line.id) == item:
            return line
    wanted = item.strip().upper()
    for line in order.lines:
        if wanted in {(line.part_number or "").upper(), line.sku.upper()}:
            return line
    return None


def _require_order(ctx: PluginContext, order_id: str) -> OrderView:
    order = ctx.find_order(order_id)
    if order is None:
        raise HubError(f"unknown order {order_id!r}")
    return order


def _shipment(access: _Access, body: bytes, order_id: str) -> Response[bytes]:
    ctx = access.ctx
    order = _require_order(ctx, order_id)
    doc = parse_shipment(body)
    items: list[tuple[int, int]] = []
    for item in doc.items:
        line = _find_line(order, item.item_id)
        if line is None:
            return _failure(f"order {order_id!r} has no item {item.item_id!r}")
        items.append((line.id, item.quantity))
    shipped_at = doc.date.replace(tzinfo=ctx.tenant.tz) if doc.date else None
    ctx.record_shipment(
        order_id,
        carrier=doc.carrier,
        method=doc.method,
        tracking_number=doc.tracking_number,
        items=items,
        shipped_at=shipped_at,
    )
    return _success()


def _item_action(
    access: _Access, body: bytes, order_id: str, item_id: str | None = None
) -> Response[bytes]:
    ctx = access.ctx
    order = _require_order(ctx, order_id)
    doc = parse_item_action(body, path_item_id=item_id)
    line = _find_line(order, doc.item_number)
    if line is None:
        return _failure(f"order {order_id!r} has no item {doc.item_number!r}")
    if doc.action == "CANCEL":
        ctx.cancel_order_line(
            order_id, line.id, doc.quantity, f"DMS canceled {doc.quantity} × {line.sku}"
        )
    else:
        ctx.add_order_note(order_id, f"DMS sold {doc.quantity} × {line.sku}")
    return _success()


def _void(access: _Access, body: bytes, order_id: str) -> Response[bytes]:
    ctx = access.ctx
    _require_order(ctx, order_id)
    doc = parse_void(body)
    ctx.cancel_order(order_id, f"voided in the DMS: {doc.reason}".strip())
    return _success()


def routes() -> list[HTTPRouteHandler]:
    """The Web Orders route handlers."""
    return [
        _handler(BASE, "versions", _versions),
        _handler(BASE + "/TaxRules", "tax-rules", _tax_rules),
        _handler(BASE + "/OutstandingActivity", "outstanding", _outstanding),
        _handler(BASE + "/AcknowledgeRequest", "acknowledge", _acknowledge),
        _handler(BASE + "/Order/{order_id:str}/Shipment", "shipment", _shipment),
        _handler(BASE + "/Order/{order_id:str}/Item", "item", _item_action),
        _handler(BASE + "/Order/{order_id:str}/Item/{item_id:str}", "item-id", _item_action),
        _handler(BASE + "/Order/{order_id:str}", "void", _void),
    ]
