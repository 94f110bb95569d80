"""Token encryption at rest: MultiFernet over the configured keys; the first encrypts, all decrypt.

Rotation is adding a new key in front, re-encrypting every stored token (``rotate``), then
removing the old key once nothing needs it. See docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from freshforce.errors import ConfigError

__all__ = ["TokenCipher", "new_key"]


def new_key() -> str:
    """Return a fresh Fernet key (url-safe base64 text), for ``encryption_keys``."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Encrypts, decrypts and re-encrypts connection tokens with a list of Fernet keys."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        if not keys:
            msg = "encryption_keys is empty: give at least one Fernet key"
            raise ConfigError(msg)
        self._fernet = MultiFernet([Fernet(key.get_secret_value()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        """Return ``plaintext`` encrypted with the first key."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """Return the plaintext of ``ciphertext``, trying every key."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise _undecryptable() from None

    def rotate(self, ciphertext: str) -> str:
        """Return ``ciphertext`` re-encrypted with the first key (decrypted with any)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise _undecryptable() from None

    def __repr__(self) -> str:
        return "TokenCipher(<keys hidden>)"


def _undecryptable() -> ConfigError:
    return ConfigError(
        "a stored token cannot be decrypted with any of encryption_keys: "
        "put back the key it was encrypted with (keep old keys until `freshforce db rotate-keys`)"
    )
