"""A small plugin that connects through the core's OAuth flow to the real R-Series sandbox,
with the hooks the R-Series plugins use (``plugins.lightspeed_rseries.connect``), and the
browser's part of the flow (follow the authorize URL to the consent's redirect)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from hub.core.hub import Hub
from hub.core.records import ConnectedAccount, ConnectGrant, ConnectRequest, PluginManifest
from hub.plugin import PluginContext, hookimpl
from hub.serving import serve_in_thread
from plugins.lightspeed_rseries import connect
from plugins.lightspeed_rseries.config import RSeriesConnectionConfig
from plugins.lightspeed_rseries.sandbox import DEFAULT_SEED_PATH, Sandbox, create_app

PLUGIN_ID = "rseries_connect"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
# Hub settings for a hub whose installs connect to the sandbox with hub-wide credentials.
SETTINGS = {"rseries_client_id": CLIENT_ID, "rseries_client_secret": CLIENT_SECRET}


class ConnectingConfig(RSeriesConnectionConfig):
    """The R-Series connection fields, and one field of the plugin's own."""

    shop_id: int = 1


class ConnectingPlugin:
    """Connects through ``hub_connect_start`` / ``hub_connect_finish`` / ``hub_disconnect``.

    With ``fail_after_exchange`` it raises after the code exchange saved the tokens (a
    plugin bug after ``ctx.save_secrets``)."""

    def __init__(self, plugin_id: str = PLUGIN_ID, *, fail_after_exchange: bool = False):
        self.plugin_id = plugin_id
        self.fail_after_exchange = fail_after_exchange

    @hookimpl
    def hub_plugin_manifest(self) -> PluginManifest:
        return PluginManifest(
            id=self.plugin_id,
            title="Lightspeed R-Series (test)",
            version="1.0",
            config_model=ConnectingConfig,
            connects=True,
        )

    @hookimpl
    def hub_connect_start(self, ctx: PluginContext, request: ConnectRequest) -> str:
        return connect.authorize_url(ctx, request)

    @hookimpl
    def hub_connect_finish(self, ctx: PluginContext, grant: ConnectGrant) -> ConnectedAccount:
        account = connect.finish_connect(ctx, grant, timeout=10.0)
        if self.fail_after_exchange:
            raise RuntimeError("a bug after the tokens were saved")
        return account

    @hookimpl
    def hub_disconnect(self, ctx: PluginContext) -> bool:
        return connect.disconnect(ctx)


@dataclass
class RunningSandbox:
    sandbox: Sandbox
    url: str

    @property
    def state(self) -> Any:
        return self.sandbox.state


@contextmanager
def running_sandbox(account_id: int | None = None, name: str = "") -> Iterator[RunningSandbox]:
    """The R-Series sandbox served on loopback (optionally seeded with another account)."""
    seed: dict[str, Any] | None = None
    if account_id is not None:
        seed = json.loads(DEFAULT_SEED_PATH.read_text())
        seed["account"] = {"accountID": account_id, "name": name or f"Account {account_id}"}
    sandbox = create_app(seed, bucket_size=90, drip_rate=100)
    with serve_in_thread(sandbox.app) as server:
        yield RunningSandbox(sandbox, server.url)


def sandbox_config(running: RunningSandbox) -> dict[str, Any]:
    """The install config that points the plugin at ``running`` (admin-only URL fields)."""
    return {"cloud_url": running.url, "api_url": running.url}


def install(hub: Hub, tenant_id: int, running: RunningSandbox, plugin_id: str = PLUGIN_ID) -> None:
    """Configure (and enable) the connecting plugin for a tenant, pointed at the sandbox."""
    hub.configure_install(
        tenant_id,
        plugin_id,
        enabled=True,
        config=sandbox_config(running),
        actor="admin",
        admin=True,
    )


def consent(authorize_url: str) -> tuple[str, str]:
    """What the user's browser does: open the authorize URL; the sandbox consents and
    redirects to the hub's callback. Returns the callback's (state, code)."""
    response = httpx.get(authorize_url, follow_redirects=False, timeout=10.0)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/oauth/callback", location
    query = parse_qs(location.query)
    return query["state"][0], query["code"][0]
