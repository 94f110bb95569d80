"""Wake-ups from PostgreSQL ``LISTEN/NOTIFY`` on a raw asyncpg connection of its own.

``store/queue/`` sends ``pg_notify`` when a job becomes due; a listener sets an
``asyncio.Event`` so idle workers claim at once instead of at their next poll. SQLite has no such
channel, so there the worker only polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import URL

__all__ = ["Listener", "listen"]

Listener = Callable[[], Awaitable[None]]


def _asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(url: URL, channel: str, wake: asyncio.Event) -> Listener | None:
    """Listen on ``channel`` and set ``wake`` on each notification; return the closer.

    Returns None when the database cannot be reached for listening; callers then only poll.
    """
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(url))
    except (OSError, asyncpg.PostgresError):
        return None

    # asyncpg passes (connection, pid, channel, payload); only the arrival matters here.
    def _on_notify(*_args: object) -> None:
        wake.set()

    await conn.add_listener(channel, _on_notify)

    async def close() -> None:
        await conn.close()

    return close
