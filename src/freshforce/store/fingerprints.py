"""Write fingerprints at rest: what we wrote, kept a while, consumed by the echo it causes.

The engine records one fingerprint per record it wrote, in its commit transaction. A job
whose record's current state hashes to a recorded, unexpired fingerprint consumes it and stops:
the change was our own. Consuming deletes the row (one write, one echo); a second notification
of the same echo then finds the snapshot equal and writes nothing anyway. Expiry and the
stamps are the database's clock; expired rows are pruned when new ones are recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.schema import write_fingerprints

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "Written",
    "consume_fingerprint",
    "prune_fingerprints",
    "record_fingerprints",
]

# Long enough for a webhook, a CDC event or a poll to bring the echo back.
DEFAULT_TTL_SECONDS = 15 * 60.0


@dataclass(frozen=True)
class Written:
    """One record we wrote, and the fingerprint of its mapped state as written."""

    system: str
    object: str
    record_id: str
    fingerprint: str


async def record_fingerprints(
    db: AsyncConnection,
    tenant: str,
    written: Sequence[Written],
    *,
    ttl: float = DEFAULT_TTL_SECONDS,
) -> None:
    """Keep each fingerprint for ``ttl`` seconds of database time; prune expired ones."""
    dialect = db.dialect.name
    if not written or dialect != "postgresql":
        await prune_fingerprints(db)
    if not written:
        return
    rows = [
        {
            "tenant": tenant,
            "system": w.system,
            "object": w.object,
            "record_id": w.record_id,
            "fingerprint": w.fingerprint,
        }
        for w in written
    ]
    stamps = {"written_at": db_now(dialect), "expires_at": db_time(dialect, ttl)}
    statement = sa.insert(write_fingerprints).values(**stamps)
    if dialect == "postgresql":  # the prune rides along: one round trip (a DELETE in a WITH)
        statement = statement.add_cte(_expired(dialect).cte("pruned"))
    await db.execute(statement, rows)


async def consume_fingerprint(db: AsyncConnection, tenant: str, found: Written) -> bool:
    """Delete one unexpired fingerprint equal to ``found``; ``True`` means "our own echo"."""
    t = write_fingerprints.c
    oldest = (
        sa.select(t.id)
        .where(
            t.tenant == tenant,
            t.system == found.system,
            t.object == found.object,
            t.record_id == found.record_id,
            t.fingerprint == found.fingerprint,
            t.expires_at > db_now(db.dialect.name),
        )
        .order_by(t.id)
        .limit(1)
        .scalar_subquery()
    )
    result = await db.execute(sa.delete(write_fingerprints).where(t.id == oldest))
    return result.rowcount == 1


async def prune_fingerprints(db: AsyncConnection) -> int:
    """Delete every expired fingerprint; return how many."""
    return (await db.execute(_expired(db.dialect.name))).rowcount


def _expired(dialect: str) -> sa.Delete:
    return sa.delete(write_fingerprints).where(write_fingerprints.c.expires_at <= db_now(dialect))
