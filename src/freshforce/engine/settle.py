"""Settling a parked conflict: one function for the CLI and the dashboard.

Resolving stores the chosen value on the conflict (a compare-and-set on ``open``, so two people
cannot both win) and, in the same transaction, asks for the link to be synced again with a job
keyed ``link/<id>``. That job writes the chosen value to whichever side lacks it and records it
in the snapshot; the rest of the record has synced all along.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from freshforce.engine.queue import JobRequest
from freshforce.store.conflicts import Conflict, Resolution, get_conflict, resolve_conflict

if TYPE_CHECKING:
    from freshforce.engine.queue import JobQueue

__all__ = ["ConflictNotOpenError", "link_key", "settle_conflict"]


class ConflictNotOpenError(LookupError):
    """The conflict is unknown to the tenant, or was settled already."""


def link_key(link_id: int) -> str:
    """Return the job key that syncs link ``link_id`` again."""
    return f"link/{link_id}"


async def settle_conflict(
    queue: JobQueue,
    tenant: str,
    conflict_id: int,
    *,
    take: Resolution,
    value: Any = None,  # noqa: ANN401 - a JSON wire value, only with Resolution.VALUE
    by: str,
) -> Conflict:
    """Settle open conflict ``conflict_id`` with one side's value or ``value``; re-sync its link."""
    async with queue.engine.connect() as db:
        found = await get_conflict(db, tenant, conflict_id)
    if found is None:
        msg = f"no conflict {conflict_id} for tenant {tenant!r}"
        raise ConflictNotOpenError(msg)
    chosen = {
        Resolution.FRESHBOOKS: found.parked.freshbooks_value,
        Resolution.SALESFORCE: found.parked.salesforce_value,
        Resolution.VALUE: value,
    }[take]
    async with queue.engine.begin() as db:
        settled = await resolve_conflict(
            db, tenant, conflict_id, resolution=take, value=chosen, resolved_by=by
        )
        if settled is None:
            msg = f"conflict {conflict_id} was settled already"
            raise ConflictNotOpenError(msg)
        request = JobRequest(settled.flow, link_key(settled.parked.link_id), tenant=tenant)
        await queue.enqueue_many(db, [request])
    return settled
