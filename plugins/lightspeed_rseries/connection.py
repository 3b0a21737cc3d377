"""An install's open connection to R-Series: the OAuth session on the install's token store
and a paced, retried client of the connected account — shared by both R-Series plugins.

``open_connection(ctx)`` checks what must hold before anything is sent: client credentials
(the install's or the hub's, :func:`~plugins.lightspeed_rseries.connect.client_credentials`),
the admin-only ``api_url`` / ``cloud_url`` against the outbound allow-list (again, at use),
and stored tokens naming an account. The client paces on the account's governor
(:func:`~plugins.lightspeed_rseries.governor.governor_for`: one budget per account for every
plugin and worker) and learns the server's request costs in one :class:`CostBook` per account.

A plugin that keeps more with its tokens passes its own ``store`` (the POS plugin's records
``token_received_on``); the default is :class:`~plugins.lightspeed_rseries.hub_store.InstallTokenStore`.
"""

from __future__ import annotations

import threading
from typing import Any

from hub.plugin import PluginContext, Refused

from .client import API_URL, RSeriesClient
from .connect import client_credentials
from .governor import CostBook, governor_for
from .hub_store import InstallTokenStore
from .oauth import CLOUD_URL, OAuthSession
from .tokens import TokenStore

__all__ = ["Connection", "checked_url", "open_connection"]

_cost_books: dict[str, CostBook] = {}
_cost_books_lock = threading.Lock()


class Connection:
    """An open connection of one install: ``client`` (paced, retried) and ``oauth``."""

    def __init__(self, client: RSeriesClient, oauth: OAuthSession) -> None:
        self.client = client
        self.oauth = oauth

    def close(self) -> None:
        self.client.close()
        self.oauth.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checked_url(ctx: PluginContext, name: str, default: str) -> str:
    """The install's ``name`` URL (or ``default``), refused (409) when the outbound rule
    does not allow it now."""
    url = str(getattr(ctx.config, name, "") or default).rstrip("/")
    refusal = ctx.vendor_url_refusal(url)
    if refusal:
        raise Refused(f"the install's {name} is not allowed: {refusal}")
    return url


def cost_book(account: str) -> CostBook:
    """The request costs learnt for one account (shared by its clients in this process)."""
    with _cost_books_lock:
        return _cost_books.setdefault(account, CostBook())


def open_connection(
    ctx: PluginContext,
    *,
    store: TokenStore | None = None,
    max_attempts: int = 5,
    backoff_base: float = 0.5,
    timeout: float = 30.0,
    **client_options: Any,
) -> Connection:
    """The install's client of its connected account.

    :raises Refused: no client credentials, a refused URL, or not connected."""
    credentials = client_credentials(ctx.config, ctx.settings)
    if credentials is None:
        raise Refused(
            "no Lightspeed API client: set HUB_RSERIES_CLIENT_ID and HUB_RSERIES_CLIENT_SECRET, "
            "or both client_id and client_secret of the install"
        )
    api = checked_url(ctx, "api_url", API_URL)
    cloud = checked_url(ctx, "cloud_url", CLOUD_URL)
    store = store if store is not None else InstallTokenStore(ctx)
    tokens = store.load()
    if tokens is None or not tokens.account_id:
        raise Refused("Lightspeed is not connected: connect it first")
    oauth = OAuthSession(
        credentials[0],
        credentials[1],
        store,
        redirect_uri=ctx.settings.oauth_redirect_uri,
        cloud_url=cloud,
        timeout=timeout,
    )
    account = str(tokens.account_id)
    client = RSeriesClient(
        api,
        tokens.account_id,
        oauth,
        governor_for(getattr(ctx.settings, "broker_url", None), account),
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        costs=cost_book(account),
        **client_options,
    )
    return Connection(client, oauth)
