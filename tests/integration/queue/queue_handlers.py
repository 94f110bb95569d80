"""Handlers the worker subprocesses of the tests load with ``--handlers queue_handlers:handlers``.

``slow`` sleeps for the seconds in a ``sleep:N`` hint, then records which process finished the
job in ``cursors`` (an effect, so it commits with the ack).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import sqlalchemy as sa

from freshforce.engine import Outcome
from freshforce.store.schema import cursors


async def slow(job, ctx) -> Outcome:
    seconds = [float(h.split(":", 1)[1]) for h in job.hints if str(h).startswith("sleep:")]
    await asyncio.sleep(sum(seconds))

    async def finished_by(conn) -> None:
        await conn.execute(
            sa.insert(cursors).values(
                connection_id=job.key,
                stream="finished-by",
                value=str(os.getpid()),
                updated_at=datetime.now(UTC),
            )
        )

    return Outcome.done(job, finished_by)


def handlers():
    return {"slow": slow}
