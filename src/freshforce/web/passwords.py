"""Dashboard credentials: argon2 password hashes through pwdlib, and API bearer tokens.

A token is random (256 bits), shown once, and stored as its SHA-256: a slow hash adds nothing to
a secret nobody chose.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TOKEN_PREFIX",
    "check_new_password",
    "hash_password",
    "new_api_token",
    "token_hash",
    "verify_password",
]

TOKEN_PREFIX = "ffu_"  # noqa: S105 - a label, not a secret

MIN_PASSWORD_LENGTH = 12

_HASHER = PasswordHash((Argon2Hasher(),))
# Verified when the user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("freshforce-no-such-user")


def check_new_password(password: str) -> None:
    """Raise ``ValueError`` saying what is wrong with a password a user picked."""
    if len(password) < MIN_PASSWORD_LENGTH:
        msg = f"password: at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}"
        raise ValueError(msg)


def hash_password(password: str) -> str:
    """Return the argon2 hash of ``password``."""
    return _HASHER.hash(password)


async def verify_password(password: str, stored_hash: str | None) -> bool:
    """Check ``password`` against ``stored_hash`` (None: no such user) off the event loop."""
    if stored_hash is None:
        await asyncio.to_thread(_HASHER.verify, password, _DUMMY_HASH)
        return False
    return await asyncio.to_thread(_HASHER.verify, password, stored_hash)


def new_api_token() -> str:
    """Return a fresh API token (``ffu_`` and 43 url-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Return what the store keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()
