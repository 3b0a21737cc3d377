"""API keys: random, shown once, stored as a SHA-256 hash with a short public prefix.

A key reads ``hub_<prefix>_<secret>``; the prefix finds the row, the hash of the whole key is
compared in constant time. The keys are 190+ bits of randomness, so a fast hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from hub.core.models import ApiKey

__all__ = ["create_key", "verify_key"]


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, tenant_id: int | None, label: str = "") -> tuple[str, ApiKey]:
    """Create a key (admin when ``tenant_id`` is None); returns the plaintext once."""
    prefix = secrets.token_hex(6)
    key = f"hub_{prefix}_{secrets.token_urlsafe(24)}"
    row = ApiKey(prefix=prefix, key_hash=_hash(key), tenant_id=tenant_id, label=label)
    session.add(row)
    session.flush()
    return key, row


def verify_key(session: Session, key: str) -> ApiKey | None:
    """The key's row when ``key`` is valid and not revoked, else None."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "hub":
        return None
    row = session.exec(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return row
