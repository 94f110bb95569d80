"""The SQL of dashboard users: add, look up, change the password or role, remove.

Only the password hash is stored (argon2, made by ``web/passwords.py``) and the SHA-256 of an
API token; this module never sees a password or a token in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.schema import users

__all__ = [
    "Role",
    "User",
    "add_user",
    "get_user",
    "list_users",
    "remove_user",
    "set_api_token",
    "set_password",
    "user_by_token",
]


class Role(StrEnum):
    """What a dashboard user may do: viewers look, operators also replay, edit and discard."""

    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class User:
    """A ``users`` row."""

    id: int
    username: str
    password_hash: str
    role: Role
    has_api_token: bool
    created_at: datetime
    updated_at: datetime


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        role=Role(row.role),
        has_api_token=row.api_token_hash is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def add_user(
    conn: AsyncConnection, *, username: str, password_hash: str, role: Role, now: datetime
) -> int | None:
    """Insert a user; return its id, or None when the name is taken."""
    if await get_user(conn, username) is not None:
        return None
    values = {
        "username": username,
        "password_hash": password_hash,
        "role": role.value,
        "created_at": now,
        "updated_at": now,
    }
    result = await conn.execute(sa.insert(users).values(values).returning(users.c.id))
    return int(result.scalar_one())


async def get_user(conn: AsyncConnection, username: str) -> User | None:
    """Return the user called ``username``, or None."""
    row = (await conn.execute(sa.select(users).where(users.c.username == username))).one_or_none()
    return None if row is None else _user(row)


async def list_users(conn: AsyncConnection) -> list[User]:
    """Return every user, by name."""
    return [_user(r) for r in await conn.execute(sa.select(users).order_by(users.c.username))]


async def set_password(
    conn: AsyncConnection,
    *,
    username: str,
    password_hash: str,
    now: datetime,
    role: Role | None = None,
) -> bool:
    """Replace a user's password hash (and role when given); False when there is no such user."""
    values: dict[str, object] = {"password_hash": password_hash, "updated_at": now}
    if role is not None:
        values["role"] = role.value
    result = await conn.execute(sa.update(users).where(users.c.username == username).values(values))
    return result.rowcount == 1


async def remove_user(conn: AsyncConnection, username: str) -> bool:
    """Delete a user; False when there is no such user."""
    result = await conn.execute(sa.delete(users).where(users.c.username == username))
    return result.rowcount == 1


async def set_api_token(
    conn: AsyncConnection, *, username: str, token_hash: str | None, now: datetime
) -> bool:
    """Store the hash of a user's API token (None revokes it); False when there is no such user."""
    result = await conn.execute(
        sa.update(users)
        .where(users.c.username == username)
        .values(api_token_hash=token_hash, updated_at=now)
    )
    return result.rowcount == 1


async def user_by_token(conn: AsyncConnection, token_hash: str) -> User | None:
    """Return the user whose API token hashes to ``token_hash``, or None."""
    query = sa.select(users).where(users.c.api_token_hash == token_hash)
    row = (await conn.execute(query)).one_or_none()
    return None if row is None else _user(row)
