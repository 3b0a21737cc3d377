"""The install's connection to Lightspeed: token store, OAuth session and API client.

- Tokens are the install's encrypted secrets (the R-Series mixin's fields), read afresh on
  every use, plus ``token_received_on`` written with each new pair (the seed's "Token
  Received On").
- One refresh at a time per install across every process of the hub: the refresh lock is a
  Redis lock when the hub's broker is Redis, else the database lease — either way the
  rotated pair is stored before it is used (``OAuthSession.refresh``), and a second worker
  that waited for the lock finds the new pair instead of burning the dead refresh token.
- ``invalid_grant`` on a refresh marks the install ``reconnect_needed`` (the core raises
  ``install.status_changed`` and refuses its jobs with 409 until it is connected again).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.plugin import PluginContext, Refused
from plugins.lightspeed_rseries.client import API_URL, RSeriesClient
from plugins.lightspeed_rseries.connect import client_credentials
from plugins.lightspeed_rseries.governor import CostBook, governor_for
from plugins.lightspeed_rseries.hub_store import InstallTokenStore
from plugins.lightspeed_rseries.oauth import CLOUD_URL, OAuthSession
from plugins.lightspeed_rseries.tokens import RedisRefreshLock, TokenSet

__all__ = [
    "KEEPALIVE_AFTER",
    "Connection",
    "PosTokenStore",
    "open_connection",
    "token_received_on",
]

KEEPALIVE_AFTER = timedelta(days=7)
"""An idle install's pair is rotated once it is this old: an unused refresh token dies after
30 days, and the keep-alive job runs daily, so the chain never gets near that."""

REQUEST_TIMEOUT = 30.0
"""Seconds a Lightspeed request may take (a create that times out is looked up next time)."""
BACKOFF_BASE = 0.5
"""First retry delay after a 5xx or a network error (doubles per attempt, with jitter)."""

_cost_books: dict[str, CostBook] = {}
_redis_clients: dict[str, Any] = {}


class PosTokenStore(InstallTokenStore):
    """:class:`InstallTokenStore` that also records ``token_received_on`` with every pair
    (one transaction) and takes the refresh lock on Redis when the hub runs on Redis."""

    def __init__(self, ctx: PluginContext, *, lock_wait: float = 60.0) -> None:
        super().__init__(ctx, lock_wait=lock_wait)
        self._wait = lock_wait

    def save(self, tokens: TokenSet) -> None:
        self._ctx.save_secrets(
            {
                "auth_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "token_expires_at": tokens.expires_at.isoformat(),
                "token_account_id": str(tokens.account_id) if tokens.account_id else None,
                "token_received_on": datetime.now(UTC).replace(microsecond=0).isoformat(),
            }
        )
        self._ctx.set_status("ok")

    def mark_reconnect_needed(self, reason: str) -> None:
        self._ctx.save_secrets({"token_received_on": None})
        super().mark_reconnect_needed(reason)

    def refresh_lock(self) -> AbstractContextManager[None]:
        broker = str(getattr(self._ctx.settings, "broker_url", "") or "")
        if broker.startswith(("redis://", "rediss://")):
            return self._redis_lock(broker)
        return super().refresh_lock()

    @contextmanager
    def _redis_lock(self, url: str) -> Iterator[None]:
        client = _redis_clients.get(url)
        if client is None:
            import redis

            client = _redis_clients[url] = redis.Redis.from_url(url)
        lock = RedisRefreshLock(
            client,
            f"hub:rseries-refresh:install:{self._ctx.install_id}",
            timeout=60.0,
            blocking_timeout=self._wait,
        )
        with lock():
            yield


def token_received_on(ctx: PluginContext) -> datetime | None:
    """When the install's current pair was received (None: not connected)."""
    raw = ctx.read_secrets(["token_received_on"]).get("token_received_on")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


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


def _checked_url(ctx: PluginContext, name: str, default: str) -> str:
    url = str(getattr(ctx.config, name, "") or default).rstrip("/")
    refusal = ctx.vendor_url_refusal(url)
    if refusal:
        raise Refused(f"the install's {name} is not allowed: {refusal}")
    return url


def open_connection(
    ctx: PluginContext,
    *,
    max_attempts: int = 5,
    backoff_base: float | None = None,
    timeout: float | None = None,
) -> Connection:
    """The install's client, paced on the account's shared governor.

    :raises Refused: no client credentials, a refused URL, or not connected."""
    timeout = REQUEST_TIMEOUT if timeout is None else timeout
    backoff_base = BACKOFF_BASE if backoff_base is None else backoff_base
    credentials = client_credentials(ctx.config, ctx.settings)
    if credentials is None:
        raise Refused(
            "no Lightspeed API client: set HUB_RSERIES_CLIENT_ID and HUB_RSERIES_CLIENT_SECRET, "
            "or both client_id and client_secret of the install"
        )
    api = _checked_url(ctx, "api_url", API_URL)
    cloud = _checked_url(ctx, "cloud_url", CLOUD_URL)
    store = PosTokenStore(ctx)
    tokens = store.load()
    if tokens is None or not tokens.account_id:
        raise Refused("Lightspeed POS is not connected: connect it first")
    oauth = OAuthSession(
        credentials[0],
        credentials[1],
        store,
        redirect_uri=ctx.settings.oauth_redirect_uri,
        cloud_url=cloud,
        timeout=timeout,
    )
    account = str(tokens.account_id)
    governor = governor_for(getattr(ctx.settings, "broker_url", None), account)
    costs = _cost_books.setdefault(account, CostBook())
    client = RSeriesClient(
        api,
        tokens.account_id,
        oauth,
        governor,
        timeout=timeout,
        max_attempts=max_attempts,
        backoff_base=backoff_base,
        costs=costs,
    )
    return Connection(client, oauth)
