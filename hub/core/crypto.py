"""Encryption of plugin secrets at rest, with key rotation.

Each configured key (``HUB_SECRET_KEY``, comma-separated) is stretched to a Fernet key with
HKDF; the first key encrypts, all keys decrypt (``MultiFernet``), so a new key can be put first
while old ciphertexts stay readable. :func:`SecretBox.rotate` re-encrypts with the first key.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hub.core.errors import HubError

__all__ = ["SecretBox", "SecretDecryptError"]


class SecretDecryptError(HubError):
    """A stored secret cannot be decrypted with any configured key (409: the secret has to
    be entered again, or the old key put back into ``HUB_SECRET_KEY``)."""

    status = 409
    code = "secrets_unreadable"


def _fernet_for(source_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"hub-secrets-v1", info=b"fernet"
    ).derive(source_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts and decrypts short secret strings with the configured keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one secret key is required")
        self._multi = MultiFernet([_fernet_for(k) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with the configured HUB_SECRET_KEY keys "
                "(was the key that encrypted it removed?)"
            ) from None

    def rotate(self, token: str) -> str:
        try:
            return self._multi.rotate(token.encode()).decode()
        except (InvalidToken, ValueError):
            raise SecretDecryptError("a stored secret cannot be decrypted for rotation") from None
