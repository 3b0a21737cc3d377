"""The sandbox's ASGI app: Litestar routes for cloud.lightspeedapp.com and
api.lightspeedapp.com on one port, wrapped in a fault injector.

The routes are thin: they parse the HTTP request and call :class:`.state.SandboxState`, which
holds every rule. The fault injector sits outside Litestar so a forced failure looks exactly
like one from Lightspeed's edge (no handler runs, nothing is charged to the bucket).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Litestar, Request, Response, get, post, route

from .state import ACCESS_DENIED, ApiResponse, Fault, SandboxError, SandboxState

__all__ = ["FaultInjector", "Sandbox", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
# Loose on purpose: Litestar types its __call__ with its own TypedDict events.
ASGIApp = Callable[..., Awaitable[None]]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=json.dumps(body).encode(),
        status_code=status,
        headers=headers or {},
        media_type="application/json",
    )


def _error(exc: SandboxError) -> Response[bytes]:
    return _json(exc.status, exc.to_body(), exc.headers)


def _answer(result: ApiResponse) -> Response[bytes]:
    return _json(result.status, result.body, result.headers)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def build_routes(state: SandboxState) -> Litestar:
    """The Litestar app serving ``state`` (without the fault injector)."""

    @get("/auth/oauth/authorize")
    async def authorize(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        try:
            redirect_uri, query = state.authorize(params)
        except SandboxError as exc:
            return _error(exc)
        if redirect_uri is None:
            # No callback registered: hand the code over directly (handy for scripts).
            return _json(200, query)
        joiner = "&" if "?" in redirect_uri else "?"
        return Response(
            content=b"",
            status_code=302,
            headers={"Location": f"{redirect_uri}{joiner}{urlencode(query)}"},
        )

    @post("/auth/oauth/token")
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        content_type = request.headers.get("content-type", "")
        try:
            if "json" in content_type:
                raw = await request.json()
                form = {str(k): str(v) for k, v in (raw or {}).items()}
            else:  # form-encoded or multipart: Litestar parses both
                parsed = await request.form()
                form = {str(k): str(v) for k, v in parsed.items()}
            body = state.token(form, _basic_credentials(request.headers.get("authorization")))
        except SandboxError as exc:
            return _error(exc)
        except (ValueError, AttributeError):
            return _json(400, {"error": "invalid_request", "error_description": "bad body"})
        return _json(200, body, {"Cache-Control": "no-store"})

    @get("/API/V3/Account.json")
    async def accounts(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            return _answer(state.account_list(request.headers.get("authorization")))
        except SandboxError as exc:
            return _error(exc)

    @route(
        "/API/V3/Account/{account_id:int}/{rest:path}",
        http_method=["GET", "POST", "PUT", "DELETE"],
    )
    async def api(request: Request[Any, Any, Any], account_id: int, rest: str) -> Response[bytes]:
        body = await request.body()
        base_url = f"{request.base_url}".rstrip("/") + request.url.path
        try:
            result = state.api(
                request.method,
                account_id,
                rest,
                parse_qsl(request.url.query, keep_blank_values=True),
                body,
                request.headers.get("authorization"),
                base_url,
            )
        except SandboxError as exc:
            return _error(exc)
        return _answer(result)

    # No logging_config: Litestar's default would reconfigure the host process's logging.
    return Litestar(
        route_handlers=[authorize, token, accounts, api], openapi_config=None, logging_config=None
    )


class FaultInjector:
    """ASGI middleware: applies :class:`.state.Fault` entries and logs every request."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = str(scope["method"]), str(scope["path"])
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        logged = False

        async def logging_send(message: Message) -> None:
            nonlocal logged
            if message["type"] == "http.response.start" and not logged:
                # Log before the response leaves, so a test reading the log right after its
                # call returned always sees this request.
                logged = True
                self.state.log_request(method, path, query, int(message["status"]))
            await send(message)

        fault = self.state.take_fault(method, path)
        try:
            if fault is None:
                await self.app(scope, receive, logging_send)
            elif fault.kind == "slow":
                await asyncio.sleep(fault.delay)
                await self.app(scope, receive, logging_send)
            elif fault.kind == "truncated":
                await self._truncated(scope, receive, logging_send)
            elif fault.kind == "late":
                await self._late(scope, receive, logging_send, fault.delay)
            elif fault.kind == "applied":
                await self._applied(fault, scope, receive, logging_send)
            else:
                await self._forced_status(fault, logging_send)
        finally:
            if not logged:
                self.state.log_request(method, path, query, 0)

    async def _applied(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)  # the work is done; its answer is lost
        await self._forced_status(fault, send)

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        await self.app(scope, receive, capture)
        assert start is not None
        body = b"".join(chunks)
        cut = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": cut, "more_body": False})

    async def _late(self, scope: Scope, receive: Receive, send: Send, delay: float) -> None:
        """Apply the request at once, answer ``delay`` seconds later: a client that timed
        out meanwhile never learns that its write was applied."""
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        await asyncio.sleep(delay)
        try:
            for message in messages:
                await send(message)
        except Exception:  # the client is gone: exactly the case this fault plays
            pass

    async def _forced_status(self, fault: Fault, send: Send) -> None:
        headers: dict[str, str] = {}
        body: dict[str, Any]
        if fault.status == 401:
            body = dict(ACCESS_DENIED)
        else:
            error = SandboxError(fault.status, f"Injected fault: {fault.status}.", "InjectedFault")
            body = error.to_body()
        if fault.status == 429:
            headers["Retry-After"] = str(fault.retry_after)
            headers["X-LS-API-RateLimit-Type"] = "bucket"
        payload = json.dumps(body).encode()
        raw_headers = [(b"content-type", b"application/json")]
        raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload, "more_body": False})


@dataclass
class Sandbox:
    """The sandbox: ``app`` to serve (ASGI), ``state`` to drive and inspect from tests."""

    app: FaultInjector
    state: SandboxState


def create_app(
    seed: dict[str, Any] | str | Path | None = None,
    bucket_size: float = 90.0,
    drip_rate: float = 1.0,
    access_token_ttl: float = 3600.0,
    *,
    code_ttl: float = 60.0,
    client_id: str = "sandbox-client",
    client_secret: str = "sandbox-secret",
    redirect_uri: str | None = None,
    legacy_write_costs: bool = False,
) -> Sandbox:
    """Build a sandbox.

    :param seed: a seed dict, a JSON file path, or ``None`` for the built-in default (account
        101, two shops, registers, an Admin and a Sales employee, items with stock and prices,
        price levels Default/MSRP/Online, payment types, a customer).
    :param bucket_size: leaky-bucket capacity (Lightspeed's default 90).
    :param drip_rate: drain per second (Lightspeed's default 1).
    :param access_token_ttl: access-token lifetime in seconds, short in tests.
    :param client_id: the one registered API client (with ``client_secret``).
    :param redirect_uri: the client's registered callback, if any.
    :param legacy_write_costs: charge 10 per write (the old price list) instead of 1.
    """
    state = SandboxState(
        seed,
        bucket_size=bucket_size,
        drip_rate=drip_rate,
        access_token_ttl=access_token_ttl,
        code_ttl=code_ttl,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        legacy_write_costs=legacy_write_costs,
    )
    return Sandbox(app=FaultInjector(build_routes(state), state), state=state)
