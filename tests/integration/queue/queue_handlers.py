"""Handlers the worker subprocesses of the tests load with ``--handlers queue_handlers:handlers``.

``slow`` sleeps for the seconds in a ``sleep:N`` hint, then records which process finished the
job in ``cursors`` (inside the job's transaction, so it commits with the ack).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import sqlalchemy as sa

from freshforce.store.schema import cursors


async def slow(job, conn) -> None:
    seconds = [float(h.split(":", 1)[1]) for h in job.hints if str(h).startswith("sleep:")]
    await asyncio.sleep(sum(seconds))
    await conn.execute(
        sa.insert(cursors).values(
            connection_id=job.key,
            stream="finished-by",
            value=str(os.getpid()),
            updated_at=datetime.now(UTC),
        )
    )


def handlers():
    return {"slow": slow}
