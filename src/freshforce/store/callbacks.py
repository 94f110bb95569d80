"""FreshBooks callback verifiers: the HMAC secret of each confirmed callback, encrypted at rest.

FreshBooks posts a fresh verifier to a new callback's URI; once the webhook route has confirmed
it with FreshBooks it keeps it here, and every later delivery of that connection must be signed
by one of its stored verifiers. Functions take an open connection and leave the transaction to
the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import SecretStr

from freshforce.store.schema import webhook_callbacks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.store.crypto import TokenCipher

__all__ = ["load_verifiers", "rotate_verifiers", "save_verifier"]


async def save_verifier(
    db: AsyncConnection,
    cipher: TokenCipher,
    connection_id: str,
    callback_id: str,
    verifier: SecretStr,
    *,
    now: datetime,
) -> None:
    """Keep the verifier of callback ``callback_id``, replacing an earlier one."""
    where = (webhook_callbacks.c.connection_id == connection_id) & (
        webhook_callbacks.c.callback_id == callback_id
    )
    await db.execute(sa.delete(webhook_callbacks).where(where))
    await db.execute(
        sa.insert(webhook_callbacks).values(
            connection_id=connection_id,
            callback_id=callback_id,
            verifier_enc=cipher.encrypt(verifier.get_secret_value()),
            verified_at=now,
        )
    )


async def load_verifiers(
    db: AsyncConnection, cipher: TokenCipher, connection_id: str
) -> list[SecretStr]:
    """Return the verifiers of every confirmed callback of ``connection_id``, newest first."""
    rows = await db.execute(
        sa.select(webhook_callbacks.c.verifier_enc)
        .where(webhook_callbacks.c.connection_id == connection_id)
        .order_by(webhook_callbacks.c.verified_at.desc(), webhook_callbacks.c.callback_id)
    )
    return [SecretStr(cipher.decrypt(stored)) for (stored,) in rows]


async def rotate_verifiers(db: AsyncConnection, cipher: TokenCipher) -> int:
    """Re-encrypt every stored verifier with the first key; return how many were rewritten."""
    rows = (await db.execute(sa.select(webhook_callbacks))).all()
    for row in rows:
        await db.execute(
            sa.update(webhook_callbacks)
            .where(webhook_callbacks.c.connection_id == row.connection_id)
            .where(webhook_callbacks.c.callback_id == row.callback_id)
            .values(verifier_enc=cipher.rotate(row.verifier_enc))
        )
    return len(rows)
