"""Dashboard passwords: argon2 hashes through pwdlib, and the rules a new password must meet."""

from __future__ import annotations

import asyncio

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

__all__ = ["MIN_PASSWORD_LENGTH", "check_new_password", "hash_password", "verify_password"]

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
