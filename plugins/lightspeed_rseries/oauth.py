"""OAuth 2 for R-Series with Authlib: authorisation URL (state + PKCE), code exchange, refresh.

Refresh tokens are single-use and rotate, so a refresh is a critical section per install:

1. take the store's refresh lock (shared by every worker);
2. re-read the stored pair: another worker may have refreshed while we waited;
3. call the token endpoint only if the stored pair still needs it;
4. persist the new pair before anyone uses it (the old refresh token is already dead);
5. ``invalid_grant`` means the chain is broken: mark the install "reconnect needed", raise
   :class:`~plugins.lightspeed_rseries.errors.ReconnectNeeded`, never retry.

Access tokens are refreshed ahead of expiry (``refresh_margin``), trusting ``expires_in``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import authlib.deprecate  # noqa: F401  (installs Authlib's "always" filter first, see below)
import httpx

from .errors import OAuthFlowError, ReconnectNeeded, RSeriesUnavailableError
from .tokens import TokenSet, TokenStore

with warnings.catch_warnings():
    # Authlib warns that it falls back from httpx2 to httpx; httpx is what we use on purpose.
    # Our filter must be added after Authlib's own "always" filter to take precedence.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

__all__ = [
    "CLOUD_URL",
    "DEFAULT_SCOPE",
    "AuthorizationRequest",
    "OAuthSession",
    "TokenProvider",
    "account_id_from_access_token",
    "employee_id_from_access_token",
]

CLOUD_URL = "https://cloud.lightspeedapp.com"
"""Where Lightspeed's authorize and token endpoints live."""
DEFAULT_SCOPE = "employee:all"


class TokenProvider(Protocol):
    """What :class:`~plugins.lightspeed_rseries.client.RSeriesClient` needs from OAuth."""

    def access_token(self) -> str:
        """A currently valid access token (refreshing ahead of expiry if needed)."""
        ...

    def refresh(self, stale_access_token: str | None = None) -> TokenSet:
        """Refresh after ``stale_access_token`` was refused (a 401); see
        :meth:`OAuthSession.refresh`."""
        ...


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the user, and what to keep (server-side) until the callback.

    :param url: the authorize URL to redirect the browser to.
    :param state: compare with the callback's ``state`` (CSRF).
    :param code_verifier: the PKCE secret, needed by :meth:`OAuthSession.exchange_code`.
    """

    url: str
    state: str
    code_verifier: str


def account_id_from_access_token(access_token: str) -> int | None:
    """The ``acct`` claim of a JWT access token, without verifying it (the API does that).

    Returns ``None`` when the token is not a JWT or carries no usable claim.
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
        value = claims.get("acct") if isinstance(claims, dict) else None
        return int(value) if value not in (None, "") else None
    except (ValueError, TypeError):
        return None


def employee_id_from_access_token(access_token: str) -> int | None:
    """The ``sub`` claim of a JWT access token — the employee who authorised — without
    verifying it (the API does that). ``None`` when the token carries none."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
        value = claims.get("sub") if isinstance(claims, dict) else None
        return int(value) if value not in (None, "") else None
    except (ValueError, TypeError):
        return None


class OAuthSession:
    """One install's OAuth 2 connection to Lightspeed, backed by a :class:`TokenStore`.

    Cheap to create; one per install per worker is fine: coordination goes through the store.

    :param client_id: the API client id registered with Lightspeed.
    :param client_secret: its secret.
    :param store: where the install's tokens live (and its cross-worker refresh lock).
    :param redirect_uri: the registered callback URL.
    :param scope: space-separated ``employee:…`` scopes.
    :param cloud_url: base of the authorize/token endpoints (the sandbox's URL in tests).
    :param refresh_margin: refresh when the access token expires within this long.
    :param now: the clock, injectable for tests.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        *,
        redirect_uri: str | None = None,
        scope: str = DEFAULT_SCOPE,
        cloud_url: str = CLOUD_URL,
        refresh_margin: timedelta = timedelta(minutes=2),
        timeout: float = 30.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.scope = scope
        self.redirect_uri = redirect_uri
        self.authorize_url = f"{cloud_url.rstrip('/')}/auth/oauth/authorize"
        self.token_url = f"{cloud_url.rstrip('/')}/auth/oauth/token"
        self.refresh_margin = refresh_margin
        self._now = now or (lambda: datetime.now(UTC))
        self._http = OAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            # Lightspeed takes the client credentials in the form body.
            token_endpoint_auth_method="client_secret_post",
            timeout=timeout,
        )
        # Authlib's client keeps the last token on itself; serialise our use of it.
        self._http_lock = threading.Lock()
        self.refresh_count = 0
        """Refreshes this session performed (for tests and metrics)."""

    # --- authorisation ---

    def authorization_url(self, state: str | None = None, **extra: str) -> AuthorizationRequest:
        """Build the authorize URL with a fresh ``state`` and a PKCE S256 challenge.

        :param extra: more query parameters (the sandbox takes ``employee_id`` to choose who
            consents).
        """
        code_verifier = secrets.token_urlsafe(48)
        with self._http_lock:
            url, state = self._http.create_authorization_url(
                self.authorize_url, state=state, code_verifier=code_verifier, **extra
            )
        return AuthorizationRequest(url=url, state=state, code_verifier=code_verifier)

    def exchange_code(self, code: str, code_verifier: str) -> TokenSet:
        """Trade an authorisation code (valid 60 s) for a token pair and save it.

        :raises OAuthFlowError: the code was refused (expired, reused, PKCE mismatch).
        """
        token = self._call_token_endpoint(
            lambda: self._http.fetch_token(
                self.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
            )
        )
        if isinstance(token, OAuthError):
            raise OAuthFlowError(str(token.error), token.description or None)
        tokens = self._token_set(token, previous_refresh_token=None)
        self.store.save(tokens)
        return tokens

    # --- using and refreshing ---

    def access_token(self) -> str:
        """A valid access token, refreshing first when it expires within the margin.

        :raises ReconnectNeeded: the install is not connected or its refresh was refused.
        """
        tokens = self.store.load()
        if tokens is None:
            raise ReconnectNeeded("no R-Series tokens stored: authorise the install")
        if not tokens.expires_within(self.refresh_margin, self._now()):
            return tokens.access_token
        return self.refresh(stale_access_token=tokens.access_token).access_token

    def refresh(self, stale_access_token: str | None = None) -> TokenSet:
        """Refresh under the store's lock, unless someone else already did.

        :param stale_access_token: the token that was refused or found near expiry. If the
            stored token differs from it and is still fresh, another worker refreshed while we
            waited for the lock and its pair is returned without a second refresh. ``None``
            forces a refresh.
        :raises ReconnectNeeded: ``invalid_grant`` (the install is marked, nothing retries).
        :raises RSeriesUnavailableError: the token endpoint could not be reached.
        """
        with self.store.refresh_lock():
            current = self.store.load()
            if current is None:
                raise ReconnectNeeded("no R-Series tokens stored: authorise the install")
            if (
                stale_access_token is not None
                and current.access_token != stale_access_token
                and not current.expires_within(self.refresh_margin, self._now())
            ):
                return current
            token = self._call_token_endpoint(
                lambda: self._http.refresh_token(
                    self.token_url, refresh_token=current.refresh_token
                )
            )
            if isinstance(token, OAuthError):
                if token.error == "invalid_grant":
                    reason = f"refresh refused: {token.description or token.error}"
                    self.store.mark_reconnect_needed(reason)
                    raise ReconnectNeeded(reason)
                raise OAuthFlowError(str(token.error), token.description or None)
            tokens = self._token_set(token, previous_refresh_token=current.refresh_token)
            # Persist before returning: the old refresh token is dead from this moment on.
            self.store.save(tokens)
            self.refresh_count += 1
            return tokens

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # --- internals ---

    def _call_token_endpoint(
        self, call: Callable[[], Mapping[str, Any]]
    ) -> Mapping[str, Any] | OAuthError:
        """Run one token-endpoint call; return the token, or the OAuth error to interpret."""
        with self._http_lock:
            try:
                return call()
            except OAuthError as exc:
                return exc
            except httpx.HTTPStatusError as exc:
                raise RSeriesUnavailableError(
                    f"token endpoint answered {exc.response.status_code}",
                    exc.response.status_code,
                ) from exc
            except httpx.TransportError as exc:
                raise RSeriesUnavailableError(f"token endpoint unreachable: {exc}") from exc
            except ValueError as exc:  # a non-JSON body
                raise RSeriesUnavailableError(f"token endpoint: {exc}") from exc

    def _token_set(self, token: Mapping[str, Any], previous_refresh_token: str | None) -> TokenSet:
        access_token = str(token["access_token"])
        refresh_token = token.get("refresh_token") or previous_refresh_token
        if not refresh_token:
            raise OAuthFlowError("invalid_response", "no refresh_token in the token response")
        expires_in = float(token.get("expires_in") or 0)
        return TokenSet(
            access_token=access_token,
            refresh_token=str(refresh_token),
            expires_at=self._now() + timedelta(seconds=expires_in),
            account_id=account_id_from_access_token(access_token),
        )
