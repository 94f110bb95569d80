"""Stored FreshBooks callback verifiers: encrypted, replaced, scoped, rotated with the keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.errors import ConfigError
from freshforce.store.callbacks import load_verifiers, save_verifier
from freshforce.store.connections import NewConnection, Tokens, rotate_keys, save_connection
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.schema import webhook_callbacks

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def cipher(*keys: str) -> TokenCipher:
    return TokenCipher([SecretStr(k) for k in keys])


async def test_verifiers_are_encrypted_replaced_per_callback_and_rotated(
    store_engine: AsyncEngine,
) -> None:
    old, new = new_key(), new_key()
    tokens = Tokens(SecretStr("a"), SecretStr("r"), None)
    async with store_engine.begin() as db:
        for name in ("fb", "fb-2"):
            await save_connection(
                db, cipher(old), NewConnection(name, "freshbooks", tokens), now=NOW
            )
        await save_verifier(db, cipher(old), "fb", "1", SecretStr("first"), now=NOW)
        later = NOW + timedelta(minutes=1)
        await save_verifier(db, cipher(old), "fb", "1", SecretStr("again"), now=later)
        await save_verifier(db, cipher(old), "fb", "2", SecretStr("second"), now=NOW)
        await save_verifier(db, cipher(old), "fb-2", "3", SecretStr("other"), now=NOW)
        stored = (await db.scalars(sa.select(webhook_callbacks.c.verifier_enc))).all()
        assert await rotate_keys(db, cipher(new, old)) == 2 + 3

    async with store_engine.connect() as db:
        mine = await load_verifiers(db, cipher(new), "fb")
        with pytest.raises(ConfigError, match="cannot be decrypted"):
            await load_verifiers(db, cipher(old), "fb")
    assert [v.get_secret_value() for v in mine] == ["again", "second"]
    assert not any(word in text for text in stored for word in ("first", "again", "second"))
