"""Shared Lightspeed R-Series client: OAuth, pacing, cursors, typed models, and a sandbox.

A library used by the ``lightspeed_pos`` and ``lightspeed_retail`` plugins (not a plugin):

- :mod:`.oauth` — :class:`OAuthSession` (Authlib): authorisation URL with PKCE, code exchange,
  single-flight refresh through a :class:`TokenStore`;
- :mod:`.tokens` — :class:`TokenSet`, the :class:`TokenStore` protocol, :class:`MemoryTokenStore`,
  :class:`RedisRefreshLock`;
- :mod:`.client` — :class:`RSeriesClient` (get/iterate/create/update with retries);
- :mod:`.governor` — leaky-bucket pacing, in-process and on Redis; :func:`governor_for` gives
  each account's governor (Redis when the broker is Redis);
- :mod:`.config` — :class:`RSeriesConnectionConfig`, the config fields both plugins share
  (client credentials, admin-only URLs, the token secrets :data:`TOKEN_SECRETS`);
- :mod:`.query` — filter operators; :mod:`.models` — typed entities;
- :mod:`.normalise` — the one place payload quirks are handled;
- :mod:`.sandbox` — a local R-Series for tests and the demo.
"""

from .client import API_URL, Page, RSeriesClient
from .config import TOKEN_SECRETS, RSeriesConnectionConfig
from .errors import (
    OAuthFlowError,
    ReconnectNeeded,
    RSeriesAPIError,
    RSeriesError,
    RSeriesUnavailableError,
)
from .governor import (
    Governor,
    LocalGovernor,
    RedisGovernor,
    UnpacedGovernor,
    governor_for,
    request_cost,
)
from .oauth import CLOUD_URL, AuthorizationRequest, OAuthSession, TokenProvider
from .tokens import MemoryTokenStore, RedisRefreshLock, TokenSet, TokenStore

__all__ = [
    "API_URL",
    "CLOUD_URL",
    "TOKEN_SECRETS",
    "AuthorizationRequest",
    "Governor",
    "LocalGovernor",
    "MemoryTokenStore",
    "OAuthFlowError",
    "OAuthSession",
    "Page",
    "RSeriesAPIError",
    "RSeriesClient",
    "RSeriesConnectionConfig",
    "RSeriesError",
    "RSeriesUnavailableError",
    "ReconnectNeeded",
    "RedisGovernor",
    "RedisRefreshLock",
    "TokenProvider",
    "TokenSet",
    "TokenStore",
    "UnpacedGovernor",
    "governor_for",
    "request_cost",
]
