"""Connections: store and load remote accounts with their OAuth tokens encrypted at rest.

Every function takes an open ``AsyncConnection`` and leaves the transaction to the caller, so a
token refresh can commit together with whatever else it belongs to. Token changes are a
compare-and-set on ``token_version``: of two processes refreshing the same single-use FreshBooks
refresh token, exactly one stores its result, and the other learns it lost and reloads. Saving
a new grant (``freshforce connect``) resolves the connection's open auth alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.dialects import postgresql, sqlite

from freshforce.store.alerts import AlertKind, resolve_alerts
from freshforce.store.callbacks import rotate_verifiers
from freshforce.store.schema import connections, webhook_callbacks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.crypto import TokenCipher

__all__ = [
    "Connection",
    "ConnectionInfo",
    "ConnectionStatus",
    "NewConnection",
    "Tokens",
    "forget_connections",
    "list_connections",
    "load_connection",
    "lock_connection",
    "replace_tokens",
    "rotate_keys",
    "save_connection",
    "set_status",
]

System = Literal["freshbooks", "salesforce"]


class ConnectionStatus(StrEnum):
    """Whether the engine may use a connection."""

    ACTIVE = "active"
    PAUSED = "paused"  # credentials failed; a person must reconnect
    DISABLED = "disabled"  # switched off on purpose


@dataclass(frozen=True)
class Tokens:
    """An OAuth token pair in the clear, only ever held in memory."""

    access_token: SecretStr | None
    refresh_token: SecretStr | None
    expires_at: datetime | None


@dataclass(frozen=True)
class NewConnection:
    """What an OAuth callback knows about a remote account it has just been granted."""

    id: str
    system: System
    tokens: Tokens
    tenant: str = "default"
    remote_account: str | None = None
    remote_business: str | None = None
    instance_url: str | None = None
    scopes: str | None = None


@dataclass(frozen=True)
class ConnectionInfo:
    """A stored connection without its tokens: safe to list and show."""

    id: str
    tenant: str
    system: str
    status: ConnectionStatus
    status_reason: str | None
    remote_account: str | None
    remote_business: str | None
    instance_url: str | None
    scopes: str | None
    token_expires_at: datetime | None
    token_version: int
    created_at: datetime
    updated_at: datetime
    token_refreshed_at: datetime | None  # the last refresh that stored new tokens


@dataclass(frozen=True)
class Connection(ConnectionInfo):
    """A stored connection with its tokens decrypted."""

    tokens: Tokens


async def save_connection(
    db: AsyncConnection, cipher: TokenCipher, new: NewConnection, *, now: datetime
) -> int:
    """Store ``new``, replacing a connection with the same id; return its ``token_version``.

    Re-authorising an existing connection makes it active again and bumps ``token_version``, so
    a refresh still holding the old version loses its compare-and-set; its open
    ``connection_auth_failed`` alerts are resolved with a recovery notice, so the next incident
    alerts again.
    """
    values = {
        "id": new.id,
        "tenant": new.tenant,
        "system": new.system,
        "status": ConnectionStatus.ACTIVE.value,
        "status_reason": None,
        "remote_account": new.remote_account,
        "remote_business": new.remote_business,
        "instance_url": new.instance_url,
        "scopes": new.scopes,
        **_encrypted(cipher, new.tokens),
        "token_version": 0,
        "created_at": now,
        "updated_at": now,
    }
    insert = _insert_for(db)(connections).values(values)
    changed: dict[str, object] = {
        k: v for k, v in values.items() if k not in {"id", "created_at", "token_version"}
    }
    changed["token_version"] = connections.c.token_version + 1
    upsert = insert.on_conflict_do_update(index_elements=[connections.c.id], set_=changed)
    result = await db.execute(upsert.returning(connections.c.token_version))
    version = int(result.scalar_one())
    await resolve_alerts(
        db,
        kind=AlertKind.CONNECTION_AUTH_FAILED,
        connection_id=new.id,
        notice_kind=AlertKind.CONNECTION_AUTH_RECOVERED,
        message=f"{new.system} connection {new.id}: reconnected",
        now=now,
    )
    return version


async def load_connection(
    db: AsyncConnection, cipher: TokenCipher, connection_id: str
) -> Connection | None:
    """Return the connection with its tokens decrypted, or ``None`` when there is none."""
    row = (
        await db.execute(sa.select(connections).where(connections.c.id == connection_id))
    ).one_or_none()
    if row is None:
        return None
    info = _info(row)
    tokens = Tokens(
        access_token=_decrypted(cipher, row.access_token_enc),
        refresh_token=_decrypted(cipher, row.refresh_token_enc),
        expires_at=row.token_expires_at,
    )
    return Connection(**vars(info), tokens=tokens)


async def lock_connection(db: AsyncConnection, connection_id: str) -> int | None:
    """Hold the connection's row until ``db``'s transaction ends; return its ``token_version``.

    PostgreSQL takes a row lock (``FOR UPDATE``); on SQLite the engine opens every transaction
    with ``BEGIN IMMEDIATE``, which already holds the database's write lock. Either way a second
    refresher of the same connection waits here until the first one has committed. ``None``
    when the connection does not exist.
    """
    query = (
        sa.select(connections.c.token_version)
        .where(connections.c.id == connection_id)
        .with_for_update()
    )
    version = (await db.execute(query)).scalar_one_or_none()
    return None if version is None else int(version)


async def replace_tokens(
    db: AsyncConnection,
    cipher: TokenCipher,
    connection_id: str,
    tokens: Tokens,
    *,
    expected_version: int,
    now: datetime,
) -> bool:
    """Store new tokens if the row is still at ``expected_version``; return whether this won.

    On ``True`` the row is at ``expected_version + 1``. On ``False`` someone else replaced the
    tokens first (or the connection is gone): reload and use theirs.
    """
    statement = (
        sa.update(connections)
        .where(connections.c.id == connection_id)
        .where(connections.c.token_version == expected_version)
        .values(
            **_encrypted(cipher, tokens),
            token_version=expected_version + 1,
            token_refreshed_at=now,
            updated_at=now,
        )
    )
    result = await db.execute(statement)
    return result.rowcount == 1


async def set_status(
    db: AsyncConnection,
    connection_id: str,
    status: ConnectionStatus,
    *,
    reason: str | None = None,
    now: datetime,
    expected_version: int | None = None,
) -> bool:
    """Set a connection's status and reason; return whether a row changed.

    With ``expected_version`` only while the tokens are still that version: a refresh that was
    refused must not pause a connection that was reconnected meanwhile.
    """
    statement = (
        sa.update(connections)
        .where(connections.c.id == connection_id)
        .values(status=status.value, status_reason=reason, updated_at=now)
    )
    if expected_version is not None:
        statement = statement.where(connections.c.token_version == expected_version)
    result = await db.execute(statement)
    return result.rowcount == 1


async def list_connections(
    db: AsyncConnection, *, tenant: str | None = None
) -> list[ConnectionInfo]:
    """Return every connection (of ``tenant`` when given), without tokens, ordered by id."""
    query = sa.select(connections).order_by(connections.c.id)
    if tenant is not None:
        query = query.where(connections.c.tenant == tenant)
    return [_info(row) for row in await db.execute(query)]


async def forget_connections(db: AsyncConnection, names: list[str]) -> int:
    """Delete the connections ``names`` with their tokens and webhook verifiers; count them."""
    await db.execute(
        sa.delete(webhook_callbacks).where(webhook_callbacks.c.connection_id.in_(names))
    )
    gone = await db.execute(sa.delete(connections).where(connections.c.id.in_(names)))
    return int(gone.rowcount)


async def rotate_keys(db: AsyncConnection, cipher: TokenCipher) -> int:
    """Re-encrypt every stored token and webhook verifier with the first key; count the rows.

    Each row is rewritten only if its tokens did not change meanwhile (same ``token_version``);
    a row changed concurrently was written with the current first key anyway.
    """
    rows = await db.execute(
        sa.select(
            connections.c.id,
            connections.c.token_version,
            connections.c.access_token_enc,
            connections.c.refresh_token_enc,
        )
    )
    rewritten = 0
    for row in rows.all():
        statement = (
            sa.update(connections)
            .where(connections.c.id == row.id)
            .where(connections.c.token_version == row.token_version)
            .values(
                access_token_enc=_rotated(cipher, row.access_token_enc),
                refresh_token_enc=_rotated(cipher, row.refresh_token_enc),
            )
        )
        rewritten += (await db.execute(statement)).rowcount
    rewritten += await rotate_verifiers(db, cipher)
    return rewritten


def _insert_for(db: AsyncConnection) -> type[sqlite.Insert | postgresql.Insert]:
    # The one dialect difference here: both spell upsert ON CONFLICT, through different classes.
    return postgresql.Insert if db.dialect.name == "postgresql" else sqlite.Insert


def _encrypted(cipher: TokenCipher, tokens: Tokens) -> dict[str, str | datetime | None]:
    return {
        "access_token_enc": _encrypt(cipher, tokens.access_token),
        "refresh_token_enc": _encrypt(cipher, tokens.refresh_token),
        "token_expires_at": tokens.expires_at,
    }


def _encrypt(cipher: TokenCipher, value: SecretStr | None) -> str | None:
    return None if value is None else cipher.encrypt(value.get_secret_value())


def _decrypted(cipher: TokenCipher, stored: str | None) -> SecretStr | None:
    return None if stored is None else SecretStr(cipher.decrypt(stored))


def _rotated(cipher: TokenCipher, stored: str | None) -> str | None:
    return None if stored is None else cipher.rotate(stored)


def _info(row: sa.Row[tuple[object, ...]]) -> ConnectionInfo:
    return ConnectionInfo(
        id=row.id,
        tenant=row.tenant,
        system=row.system,
        status=ConnectionStatus(row.status),
        status_reason=row.status_reason,
        remote_account=row.remote_account,
        remote_business=row.remote_business,
        instance_url=row.instance_url,
        scopes=row.scopes,
        token_expires_at=row.token_expires_at,
        token_version=row.token_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        token_refreshed_at=row.token_refreshed_at,
    )
