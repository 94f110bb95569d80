"""Helpers for flows that work on a batch: jobs by tenant, and a job's error as its outcome.

A batch may hold jobs of several tenants (integration pairs); a flow opens each tenant's pair
once and works on its jobs together. A per-job error becomes that job's outcome by what happens
next: a transient one (an ambiguous write included: the next attempt looks its reference up)
is retried, anything else fails the job now with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from freshforce.engine.flow import Outcome
from freshforce.errors import FreshforceError, TransientError

if TYPE_CHECKING:
    from freshforce.engine.flow import Effect
    from freshforce.engine.pair import Pair, PairSource
    from freshforce.store.queue import Job

__all__ = ["by_tenant", "outcome_for", "per_tenant"]

TenantWork = Callable[["Pair", list["Job"]], Awaitable[dict[int, Outcome]]]


def by_tenant(jobs: Sequence[Job]) -> dict[str, list[Job]]:
    """Return the jobs of each tenant, in batch order."""
    grouped: dict[str, list[Job]] = {}
    for job in jobs:
        grouped.setdefault(job.tenant, []).append(job)
    return grouped


def outcome_for(job: Job, error: Exception, *effects: Effect) -> Outcome:
    """Return retry for a transient ``error``, fail for any other; ``effects`` are kept."""
    if isinstance(error, TransientError):
        return Outcome.retry(job, error, *effects)
    return Outcome.fail(job, error, *effects)


async def per_tenant(jobs: Sequence[Job], pairs: PairSource, work: TenantWork) -> list[Outcome]:
    """Run ``work(pair, jobs)`` per tenant; a tenant whose pair or work fails fails its jobs.

    ``work`` returns an outcome per job id; the result is in batch order.
    """
    outcomes: dict[int, Outcome] = {}
    for tenant, group in by_tenant(jobs).items():
        try:
            outcomes |= await work(await pairs(tenant), group)
        except FreshforceError as exc:
            outcomes |= {job.id: outcome_for(job, exc) for job in group}
    return [outcomes[job.id] for job in jobs]
