"""The connect hooks of an R-Series install, shared by both R-Series plugins.

The core owns the OAuth flow (``hub.core.connections``): the single-use ``state``, the PKCE
verifier, the expiry, the hub's one redirect URI and the public callback. An R-Series plugin
mixes :class:`~plugins.lightspeed_rseries.config.RSeriesConnectionConfig` into its config
model, says ``connects=True`` in its manifest, and its hooks are one line each::

    @hookimpl
    def hub_connect_start(self, ctx, request):
        return connect.authorize_url(ctx, request)

    @hookimpl
    def hub_connect_finish(self, ctx, grant):
        return connect.finish_connect(ctx, grant)

    @hookimpl
    def hub_disconnect(self, ctx):
        return connect.disconnect(ctx)

Client credentials (:func:`client_credentials`): the install's ``client_id`` and
``client_secret`` when both are set, else the hub's ``HUB_RSERIES_CLIENT_ID`` /
``HUB_RSERIES_CLIENT_SECRET``. The install's ``cloud_url`` / ``api_url`` (admin-only) are
checked with ``ctx.vendor_url_refusal`` before anything is sent there.

The tokens go through :class:`~plugins.lightspeed_rseries.hub_store.InstallTokenStore` (the
secret fields :data:`~plugins.lightspeed_rseries.config.TOKEN_SECRETS`), i.e.
``ctx.save_secrets``; during ``hub_connect_finish`` the core stages those writes and stores
them only with the connection, so a refusal raised after the exchange stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri

from hub.plugin import (
    ConnectedAccount,
    ConnectGrant,
    ConnectRefused,
    ConnectRequest,
    PluginContext,
    Refused,
)

from .client import API_URL, RSeriesClient
from .config import TOKEN_SECRETS
from .errors import OAuthFlowError, ReconnectNeeded, RSeriesAPIError, RSeriesUnavailableError
from .governor import governor_for
from .hub_store import InstallTokenStore
from .oauth import CLOUD_URL, DEFAULT_SCOPE, OAuthSession
from .tokens import MemoryTokenStore, TokenSet

__all__ = ["authorize_url", "client_credentials", "disconnect", "finish_connect"]


def client_credentials(config: Any, settings: Any) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` of an install: its own when both are set, else the
    hub-wide ones (``HUB_RSERIES_CLIENT_ID`` / ``_SECRET``); None when neither is complete."""
    own_id = str(getattr(config, "client_id", "") or "")
    own_secret = str(getattr(config, "client_secret", "") or "")
    if own_id and own_secret:
        return own_id, own_secret
    hub_id = str(getattr(settings, "rseries_client_id", "") or "")
    hub_secret = str(getattr(settings, "rseries_client_secret", "") or "")
    if hub_id and hub_secret and not own_id and not own_secret:
        return hub_id, hub_secret
    return None


def _credentials(ctx: PluginContext) -> tuple[str, str]:
    found = client_credentials(ctx.config, ctx.settings)
    if found is None:
        raise Refused(
            "no Lightspeed API client to connect with: set HUB_RSERIES_CLIENT_ID and "
            "HUB_RSERIES_CLIENT_SECRET, or both client_id and client_secret of the install"
        )
    return found


def _url(ctx: PluginContext, name: str, default: str) -> str:
    url = str(getattr(ctx.config, name, "") or default).rstrip("/")
    refusal = ctx.vendor_url_refusal(url)
    if refusal:
        raise Refused(f"the install's {name} is not allowed: {refusal}")
    return url


def authorize_url(
    ctx: PluginContext, request: ConnectRequest, *, scope: str = DEFAULT_SCOPE
) -> str:
    """Lightspeed's authorize URL for the core's ``request`` (state, S256 challenge, the
    hub's redirect URI). Refused (409) without client credentials or with a refused URL."""
    client_id, _ = _credentials(ctx)
    cloud = _url(ctx, "cloud_url", CLOUD_URL)
    return str(
        prepare_grant_uri(
            f"{cloud}/auth/oauth/authorize",
            client_id,
            "code",
            redirect_uri=request.redirect_uri,
            scope=scope,
            state=request.state,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
        )
    )


def finish_connect(
    ctx: PluginContext,
    grant: ConnectGrant,
    *,
    expected_account_id: str | None = None,
    scope: str = DEFAULT_SCOPE,
    timeout: float = 30.0,
    verify: Callable[[RSeriesClient, TokenSet], None] | None = None,
) -> ConnectedAccount:
    """Exchange the code, read the account the token reaches (``GET /API/V3/Account.json``),
    then save the token pair through the install's token store.

    :param verify: a plugin's own check of the connection, with a client of the account
        and the tokens (e.g. the Retail plugin's Admin role): it raises ``ConnectRefused``
        to refuse. It runs before anything is saved; the exchange and its requests keep the
        tokens in memory until every check passed.

    :param expected_account_id: the account the install is configured for (e.g. the POS
        plugin's ``account_id``); another account is refused. None or "" accepts any.
    :raises ConnectRefused: the code was refused, Lightspeed could not be reached, the
        account could not be read (the employee who consented may lack the rights), or it
        is not the expected one."""
    try:
        client_id, client_secret = _credentials(ctx)
        cloud = _url(ctx, "cloud_url", CLOUD_URL)
        api = _url(ctx, "api_url", API_URL)
    except Refused as exc:
        raise ConnectRefused(exc.detail) from None
    staging = MemoryTokenStore()
    oauth = OAuthSession(
        client_id,
        client_secret,
        staging,
        redirect_uri=grant.redirect_uri,
        scope=scope,
        cloud_url=cloud,
        timeout=timeout,
    )
    try:
        tokens = oauth.exchange_code(grant.code, grant.code_verifier)
        account = _account(ctx, api, oauth, tokens, verify)
    except OAuthFlowError as exc:
        said = exc.error + (f": {exc.description}" if exc.description else "")
        raise ConnectRefused(f"Lightspeed refused the authorisation code ({said})") from None
    except RSeriesAPIError as exc:
        raise ConnectRefused(
            f"Lightspeed did not show the account ({exc.status}: {exc.message}); the employee "
            "who authorised may lack the rights"
        ) from None
    except (RSeriesUnavailableError, ReconnectNeeded) as exc:
        raise ConnectRefused(
            f"Lightspeed could not be reached to finish connecting ({exc})"
        ) from None
    finally:
        oauth.close()
    if expected_account_id and account.account_id != str(expected_account_id):
        raise ConnectRefused(
            f"the employee authorised the Lightspeed account {account.account_id}, but this "
            f"install is for the account {expected_account_id}; sign in to that account"
        )
    InstallTokenStore(ctx).save(staging.load() or tokens)
    return account


def _account(
    ctx: PluginContext,
    api: str,
    oauth: OAuthSession,
    tokens: TokenSet,
    verify: Callable[[RSeriesClient, TokenSet], None] | None = None,
) -> ConnectedAccount:
    account_id = tokens.account_id or 0
    governor = governor_for(getattr(ctx.settings, "broker_url", None), str(account_id))
    client = RSeriesClient(api, account_id, oauth, governor, max_attempts=2)
    try:
        accounts = client.accounts()
        chosen = [
            a for a in accounts if not account_id or str(a.get("accountID")) == str(account_id)
        ]
        if len(chosen) != 1:
            raise ConnectRefused(
                "the authorisation does not name one Lightspeed account; authorise with an "
                "employee of the account to connect"
            )
        if verify is not None:
            verify(client, tokens)
    finally:
        client.close()
    return ConnectedAccount(str(chosen[0].get("accountID")), str(chosen[0].get("name") or ""))


def disconnect(ctx: PluginContext) -> bool:
    """Drop the install's tokens (Lightspeed documents no revocation endpoint; an unused
    refresh token dies after 30 days)."""
    ctx.save_secrets(dict.fromkeys(TOKEN_SECRETS))
    return True
