import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.errors import ConfigError
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    list_connections,
    load_connection,
    replace_tokens,
    rotate_keys,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.schema import connections

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ACCESS = "access-plaintext-4f1c9a"
REFRESH = "refresh-plaintext-8b2e7d"


def cipher(*keys: str) -> TokenCipher:
    return TokenCipher([SecretStr(k) for k in keys])


def tokens(access: str = ACCESS, refresh: str = REFRESH) -> Tokens:
    return Tokens(SecretStr(access), SecretStr(refresh), NOW + timedelta(hours=12))


def freshbooks(connection_id: str = "fb-1", tenant: str = "default") -> NewConnection:
    return NewConnection(
        id=connection_id, system="freshbooks", tokens=tokens(), tenant=tenant, remote_account="A1"
    )


async def test_tokens_are_never_stored_in_clear(
    store_engine: AsyncEngine, database_url: str
) -> None:
    key = cipher(new_key())
    async with store_engine.begin() as db:
        assert await save_connection(db, key, freshbooks(), now=NOW) == 0
    async with store_engine.connect() as db:
        raw = (await db.execute(sa.select(connections))).one()._asdict()
        loaded = await load_connection(db, key, "fb-1")
    stored_text = repr(raw)
    assert ACCESS not in stored_text
    assert REFRESH not in stored_text
    assert raw["access_token_enc"].startswith("gAAAA")  # a Fernet token
    assert loaded is not None
    assert loaded.tokens.access_token is not None
    assert loaded.tokens.access_token.get_secret_value() == ACCESS
    assert loaded.tokens.refresh_token is not None
    assert loaded.tokens.refresh_token.get_secret_value() == REFRESH
    assert loaded.tokens.expires_at == NOW + timedelta(hours=12)
    assert REFRESH not in repr(loaded)
    if database_url.startswith("sqlite"):
        await store_engine.dispose()  # checkpoints the WAL into the file
        db_file = Path(database_url.split("///", 1)[1])
        files = [db_file, *db_file.parent.glob(db_file.name + "-*")]
        on_disk = b"".join(f.read_bytes() for f in files)
        assert raw["refresh_token_enc"].encode() in on_disk  # the file really holds the row
        assert ACCESS.encode() not in on_disk
        assert REFRESH.encode() not in on_disk


async def test_replace_tokens_lets_exactly_one_concurrent_refresh_win(
    store_engine: AsyncEngine,
) -> None:
    key = cipher(new_key())
    async with store_engine.begin() as db:
        version = await save_connection(db, key, freshbooks(), now=NOW)

    async def refresh(n: int) -> bool:
        async with store_engine.begin() as db:
            return await replace_tokens(
                db, key, "fb-1", tokens(f"a{n}", f"r{n}"), expected_version=version, now=NOW
            )

    outcomes = await asyncio.gather(*(refresh(n) for n in range(6)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    async with store_engine.connect() as db:
        loaded = await load_connection(db, key, "fb-1")
    assert loaded is not None
    assert loaded.token_version == version + 1
    assert loaded.tokens.refresh_token == SecretStr(f"r{winner}")


async def test_reauthorising_bumps_the_version_so_a_stale_refresh_loses(
    store_engine: AsyncEngine,
) -> None:
    key = cipher(new_key())
    async with store_engine.begin() as db:
        first = await save_connection(db, key, freshbooks(), now=NOW)
        assert await set_status(
            db, "fb-1", ConnectionStatus.PAUSED, reason="invalid_grant", now=NOW
        )
        again = await save_connection(db, key, freshbooks(), now=NOW + timedelta(minutes=1))
        assert again == first + 1
        assert not await replace_tokens(
            db, key, "fb-1", tokens("x", "y"), expected_version=first, now=NOW
        )
        assert not await replace_tokens(
            db, key, "missing", tokens("x", "y"), expected_version=0, now=NOW
        )
        loaded = await load_connection(db, key, "fb-1")
    assert loaded is not None
    assert loaded.status is ConnectionStatus.ACTIVE
    assert loaded.status_reason is None
    assert loaded.created_at == NOW
    assert loaded.updated_at == NOW + timedelta(minutes=1)
    assert loaded.tokens.refresh_token == SecretStr(REFRESH)


async def test_status_and_listing(store_engine: AsyncEngine) -> None:
    key = cipher(new_key())
    async with store_engine.begin() as db:
        await save_connection(db, key, freshbooks("fb-2", tenant="acme"), now=NOW)
        await save_connection(db, key, freshbooks("fb-1"), now=NOW)
        assert await set_status(db, "fb-2", ConnectionStatus.PAUSED, reason="401", now=NOW)
        assert not await set_status(db, "nope", ConnectionStatus.PAUSED, now=NOW)
        everything = await list_connections(db)
        acme = await list_connections(db, tenant="acme")
        assert await load_connection(db, key, "nope") is None
    assert [c.id for c in everything] == ["fb-1", "fb-2"]
    assert [(c.id, c.status, c.status_reason) for c in acme] == [
        ("fb-2", ConnectionStatus.PAUSED, "401")
    ]
    assert not hasattr(everything[0], "tokens")


async def test_key_rotation_old_key_still_decrypts_and_rotate_reencrypts(
    store_engine: AsyncEngine,
) -> None:
    old, new = new_key(), new_key()
    async with store_engine.begin() as db:
        await save_connection(db, cipher(old), freshbooks("fb-1"), now=NOW)
        await save_connection(db, cipher(old), freshbooks("fb-2"), now=NOW)
    both = cipher(new, old)
    async with store_engine.begin() as db:
        before = await load_connection(db, both, "fb-1")
        assert before is not None
        assert before.tokens.refresh_token == SecretStr(REFRESH)
        assert await rotate_keys(db, both) == 2
    async with store_engine.connect() as db:
        after = await load_connection(db, cipher(new), "fb-2")
        assert after is not None
        assert after.tokens.access_token == SecretStr(ACCESS)
        assert after.token_version == before.token_version  # the tokens themselves did not change
        with pytest.raises(ConfigError, match="cannot be decrypted"):
            await load_connection(db, cipher(old), "fb-1")
