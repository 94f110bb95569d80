"""Exactly-once creates: the ledger entry before the call, adoption after an ambiguous failure.

``create_once`` records the create as pending in a short transaction of its own (committed
before any remote call), then:

- the ledger says *done*: the record exists as ``remote_id``: ``fetch`` it;
- the ledger says *pending* (an earlier attempt may have created it): ``find`` it by the
  reference the record carries, and create only when nothing is found;
- the entry is new: ``create``.

The engine's commit transaction marks the entry done with ``completed`` (an effect), also when
the job fails after the create, so the next attempt adopts the record by its id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from freshforce.store.idempotency import CreateRef, LedgerState, begin_create, complete_create

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.engine.flow import Effect
    from freshforce.store.scope import Scope

__all__ = ["completed", "create_once"]

T = TypeVar("T")


async def create_once(
    engine: AsyncEngine,
    scope: Scope,
    ref: CreateRef,
    *,
    fetch: Callable[[str], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    create: Callable[[], Awaitable[T]],
) -> T:
    """Return the record of ``ref``: adopted when it may exist, else created (see module)."""
    async with engine.begin() as db:  # short: committed before the remote call
        entry, new = await begin_create(db, scope, ref)
    if not new and entry.state is LedgerState.DONE and entry.remote_id:
        return await fetch(entry.remote_id)
    if not new:
        found = await find()
        if found is not None:
            return found
    return await create()


def completed(tenant: str, ref: CreateRef, remote_id: str) -> Effect:
    """Return the effect that marks ``ref`` done as ``remote_id``."""

    async def complete(db: AsyncConnection) -> None:
        await complete_create(db, tenant, ref, remote_id)

    return complete
