"""Fixtures for the R-Series tests: a sandbox served over real HTTP and connected clients."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hub.serving import serve_in_thread
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.governor import Governor, LocalGovernor
from plugins.lightspeed_rseries.oauth import OAuthSession
from plugins.lightspeed_rseries.sandbox import DEFAULT_SEED_PATH, Sandbox, create_app
from plugins.lightspeed_rseries.tokens import MemoryTokenStore, TokenStore

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
REDIRECT_URI = "https://hub.example/oauth/rseries/callback"


@dataclass
class Running:
    """A sandbox being served: its state and its base URL."""

    sandbox: Sandbox
    url: str

    @property
    def state(self) -> Any:
        return self.sandbox.state

    @property
    def account_id(self) -> int:
        return int(self.sandbox.state.account_id)


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., Running]]:
    """Start sandboxes (``start_sandbox(drip_rate=20, ...)``); all stop after the test."""
    with ExitStack() as stack:

        def start(**kwargs: Any) -> Running:
            sandbox = create_app(**kwargs)
            server = stack.enter_context(serve_in_thread(sandbox.app))
            return Running(sandbox, server.url)

        yield start


@pytest.fixture
def sandbox(start_sandbox: Callable[..., Running]) -> Running:
    """A default-seeded sandbox with a fast drip so ordinary tests never wait for pacing."""
    return start_sandbox(bucket_size=90, drip_rate=100)


def authorize(running: Running, oauth: OAuthSession, **extra: str) -> tuple[str, str]:
    """Walk the browser part of the flow; return (code, code_verifier)."""
    request = oauth.authorization_url(**extra)
    response = httpx.get(request.url, follow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["state"] == [request.state]
    return query["code"][0], request.code_verifier


def connect(running: Running, store: TokenStore | None = None, **kwargs: Any) -> OAuthSession:
    """A connected OAuthSession (authorise, consent, exchange the code)."""
    oauth = session(running, store or MemoryTokenStore(), **kwargs)
    code, verifier = authorize(running, oauth)
    oauth.exchange_code(code, verifier)
    return oauth


def session(running: Running, store: TokenStore, **kwargs: Any) -> OAuthSession:
    """An OAuthSession against the sandbox, not yet connected."""
    return OAuthSession(
        CLIENT_ID, CLIENT_SECRET, store, redirect_uri=REDIRECT_URI, cloud_url=running.url, **kwargs
    )


def make_client(
    running: Running, oauth: OAuthSession, governor: Governor | None = None, **kwargs: Any
) -> RSeriesClient:
    """A client with quick backoff so retry tests stay short."""
    kwargs.setdefault("backoff_base", 0.02)
    kwargs.setdefault("backoff_max", 0.2)
    return RSeriesClient(
        running.url, running.account_id, oauth, governor or LocalGovernor(), **kwargs
    )


def seed_with_items(count: int) -> dict[str, Any]:
    """The default seed plus ``count`` generated items (ids after the default ones)."""
    seed = json.loads(DEFAULT_SEED_PATH.read_text())
    start = max(item["itemID"] for item in seed["Item"]) + 1
    for item_id in range(start, start + count):
        seed["Item"].append(
            {
                "itemID": item_id,
                "customSku": f"GEN-{item_id}",
                "description": f"Generated item {item_id}",
                "defaultCost": "1.00",
                "archived": False,
                "Prices": [{"amount": "2.00", "useTypeID": 1, "useType": "Default"}],
                "ItemShops": [{"shopID": 1, "qoh": item_id % 7}],
            }
        )
    return seed
