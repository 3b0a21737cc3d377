"""The console's session cookie, its CSRF tokens and its flash messages.

A session is a signed cookie, not a server-side row: ``base64url(json) "." base64url(mac)``,
the MAC an HMAC-SHA256 with a key derived (HKDF) from each ``HUB_SECRET_KEY`` — the first
signs, all verify, so rotating the secret key keeps sessions valid until the old key is
dropped. The payload holds the API key's *id* and a fingerprint of its stored hash (an HMAC of
it, never the key nor the hash itself), a random session id and the expiry. The console
re-reads the key row on every request (:mod:`hub.admin._auth`): a revoked key ends its
sessions at once.

CSRF tokens are bound to the session (an HMAC of the session id); the login form, before any
session exists, uses a double-submit token bound to a random cookie of its own. A form posted
without the right token is refused (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "FLASH_COOKIE",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "ConsoleSession",
    "SessionSigner",
    "signer_for",
]

SESSION_COOKIE = "hub_admin"
FLASH_COOKIE = "hub_admin_flash"
LOGIN_COOKIE = "hub_admin_login"


@dataclass(frozen=True)
class ConsoleSession:
    """A logged-in browser: which API key, until when (Unix seconds), and its session id."""

    key_id: int
    key_fingerprint: str
    session_id: str
    expires_at: int

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hub-admin-v1", info=b"session").derive(
        secret_key.encode()
    )


class SessionSigner:
    """Signs and verifies the console's cookies with keys derived from the hub's secret keys."""

    def __init__(self, secret_keys: tuple[str, ...], lifetime_seconds: int) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        self._keys = [_derive(k) for k in secret_keys]
        self.lifetime_seconds = lifetime_seconds

    # -- signing --------------------------------------------------------------------------

    def _mac(self, key: bytes, purpose: str, payload: bytes) -> bytes:
        return hmac.new(key, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()

    def sign(self, purpose: str, value: Any) -> str:
        """``value`` (JSON) signed for ``purpose``: a token of URL-safe characters."""
        payload = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(self._keys[0], purpose, payload))}"

    def unsign(self, purpose: str, token: str | None) -> Any:
        """The value of a token signed for ``purpose`` by any configured key, else None."""
        if not token or len(token) > 4096 or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (ValueError, TypeError):
            return None
        if not any(hmac.compare_digest(self._mac(k, purpose, payload), given) for k in self._keys):
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return None

    # -- sessions -------------------------------------------------------------------------

    def key_fingerprint(self, key_hash: str) -> str:
        """What a session keeps of its key: an HMAC of the key's stored hash."""
        return _b64(self._mac(self._keys[0], "key", key_hash.encode()))[:32]

    def matches_key(self, fingerprint: str, key_hash: str) -> bool:
        return any(
            hmac.compare_digest(_b64(self._mac(k, "key", key_hash.encode()))[:32], fingerprint)
            for k in self._keys
        )

    def new_session(self, key_id: int, key_hash: str, now: float | None = None) -> ConsoleSession:
        issued = int(now if now is not None else time.time())
        return ConsoleSession(
            key_id=key_id,
            key_fingerprint=self.key_fingerprint(key_hash),
            session_id=secrets.token_urlsafe(16),
            expires_at=issued + self.lifetime_seconds,
        )

    def dump_session(self, session: ConsoleSession) -> str:
        return self.sign(
            "session",
            {
                "k": session.key_id,
                "f": session.key_fingerprint,
                "s": session.session_id,
                "e": session.expires_at,
            },
        )

    def load_session(self, token: str | None) -> ConsoleSession | None:
        """The session of a cookie: None when unsigned, malformed or expired."""
        value = self.unsign("session", token)
        if not isinstance(value, dict):
            return None
        try:
            session = ConsoleSession(
                key_id=int(value["k"]),
                key_fingerprint=str(value["f"]),
                session_id=str(value["s"]),
                expires_at=int(value["e"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return None if session.expired else session

    # -- CSRF -----------------------------------------------------------------------------

    def csrf_token(self, session_id: str) -> str:
        """The token every form of this session carries."""
        return _b64(self._mac(self._keys[0], "csrf", session_id.encode()))

    def csrf_ok(self, session_id: str, token: str | None) -> bool:
        if not token:
            return False
        return any(
            hmac.compare_digest(_b64(self._mac(k, "csrf", session_id.encode())), token)
            for k in self._keys
        )

    # -- flash messages -------------------------------------------------------------------

    def dump_flash(self, messages: list[tuple[str, str]]) -> str:
        return self.sign("flash", [[level, text[:500]] for level, text in messages[:5]])

    def load_flash(self, token: str | None) -> list[tuple[str, str]]:
        value = self.unsign("flash", token)
        if not isinstance(value, list):
            return []
        return [
            (str(item[0]), str(item[1]))
            for item in value
            if isinstance(item, list) and len(item) == 2
        ]


@lru_cache(maxsize=8)
def signer_for(secret_keys: tuple[str, ...], lifetime_seconds: int) -> SessionSigner:
    """The signer for these settings (derived once per process)."""
    return SessionSigner(secret_keys, lifetime_seconds)
