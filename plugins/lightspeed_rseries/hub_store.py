"""The hub's :class:`~plugins.lightspeed_rseries.tokens.TokenStore`: tokens kept as the
install's encrypted secrets, the refresh lock a database lease shared by every worker.

Secret fields used: :data:`~plugins.lightspeed_rseries.config.TOKEN_SECRETS`, declared once in
the config mixin both R-Series plugins use (``auth_token``, ``refresh_token``, and the expiry
and account in the same encrypted store, so the pair is always written together).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from hub.plugin import PluginContext
from plugins.lightspeed_rseries.config import TOKEN_SECRETS
from plugins.lightspeed_rseries.tokens import TokenSet

__all__ = ["InstallTokenStore"]

FIELDS = TOKEN_SECRETS


class InstallTokenStore:
    """Tokens of one install, read afresh from the database on every ``load()``."""

    def __init__(self, ctx: PluginContext, *, lock_wait: float = 60.0) -> None:
        self._ctx = ctx
        self._lock_wait = lock_wait

    def load(self) -> TokenSet | None:
        values = self._ctx.read_secrets(FIELDS)
        if not values.get("refresh_token") or not values.get("token_expires_at"):
            return None
        account = values.get("token_account_id")
        return TokenSet(
            access_token=values.get("auth_token", ""),
            refresh_token=values["refresh_token"],
            expires_at=datetime.fromisoformat(values["token_expires_at"]),
            account_id=int(account) if account else None,
        )

    def save(self, tokens: TokenSet) -> None:
        # One transaction: the rotated pair is stored before anyone uses it.
        self._ctx.save_secrets(
            {
                "auth_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "token_expires_at": tokens.expires_at.isoformat(),
                "token_account_id": str(tokens.account_id) if tokens.account_id else None,
            }
        )
        self._ctx.set_status("ok")

    def mark_reconnect_needed(self, reason: str) -> None:
        self._ctx.save_secrets(dict.fromkeys(FIELDS))
        self._ctx.set_status("reconnect_needed", reason)

    def refresh_lock(self) -> AbstractContextManager[None]:
        return self._lease()

    @contextmanager
    def _lease(self) -> Iterator[None]:
        with self._ctx.lease("rseries-token-refresh", ttl=60.0, wait=self._lock_wait):
            yield
