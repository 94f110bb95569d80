"""Refresh lock: one token refresh per connection at a time, across processes, on either backend.

``refresh_lock(engine, connection_id)`` is held around a whole refresh (read the stored version,
call the provider, write the new tokens) and yields ``transaction``: the caller opens each step's
transaction with ``async with transaction() as db``.

- **PostgreSQL**: one transaction takes the connection's row (``SELECT … FOR UPDATE``) and holds
  it through the provider call; every step runs inside it and it commits when the lock is left.
  A row lock blocks only other refreshers and writers of that one row.
- **SQLite**: the row lock would be the database's write lock, held for the whole provider round
  trip while every other writer waits out its busy timeout. Instead an exclusive ``flock`` on a
  per-connection file beside the database (``<database>-refresh-<connection id>.lock``)
  serialises refreshers, and each step is its own short transaction: the write lock is held for
  the read and for the final compare-and-set write, never during the remote call. The kernel
  drops the lock when its holder exits or dies; the file stays (removing it would race).
- An in-memory SQLite database has no file beside it and one process: it keeps the single
  transaction of the PostgreSQL path.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.errors import TransientError
from freshforce.store.connections import lock_connection

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["Transaction", "refresh_lock", "refresh_lock_path"]

Transaction: TypeAlias = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
_POLL_SECONDS = 0.025


@asynccontextmanager
async def refresh_lock(
    engine: AsyncEngine, connection_id: str, *, wait: float = 120.0
) -> AsyncIterator[Transaction]:
    """Hold ``connection_id``'s refresh lock; yield the factory of each step's transaction.

    Waits at most ``wait`` seconds for another process's refresh (SQLite), then raises
    ``TransientError``; a refresh's own token call times out well before that.
    """
    path = refresh_lock_path(engine, connection_id)
    if path is None:
        async with engine.begin() as db:
            await lock_connection(db, connection_id)
            yield lambda: _inside(db)
        return
    async with _file_lock(path, connection_id, wait):
        yield engine.begin


def refresh_lock_path(engine: AsyncEngine, connection_id: str) -> Path | None:
    """Return the lock file of ``connection_id`` beside an SQLite file, ``None`` elsewhere."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    database = Path(url.database)
    return database.with_name(f"{database.name}-refresh-{quote(connection_id, safe='')}.lock")


@asynccontextmanager
async def _inside(db: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    yield db


@asynccontextmanager
async def _file_lock(path: Path, connection_id: str, wait: float) -> AsyncIterator[None]:
    # flock (not lockf): two open descriptions conflict even inside one process, so two token
    # sources of one connection in one process also take turns. Polling with LOCK_NB keeps the
    # event loop free and leaves nothing behind when the waiting task is cancelled.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o660)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                msg = (
                    f"connection {connection_id!r}: another process has been refreshing its "
                    f"token for {wait:g} s ({path}); try again later"
                )
                raise TransientError(msg)
            await asyncio.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
