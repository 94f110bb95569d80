"""One flow name, run with each tenant's own maps where the tenant has them.

``builtin_flows`` builds the shipped flows once from the shared maps and once per tenant with a
mapping directory of its own (``<config>/tenants/<tenant>/``); ``TenantFlows`` hands each job of
a batch to its tenant's flow, or the shared one, and returns the outcomes in the jobs' order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from freshforce.engine.flow import Flow, FlowContext, Outcome
from freshforce.store.queue import Job

__all__ = ["TenantFlows"]


@dataclass(frozen=True)
class TenantFlows:
    """The flow ``name``: ``shared`` for most tenants, ``by_tenant`` for those with their maps."""

    name: str
    shared: Flow
    by_tenant: Mapping[str, Flow]

    @property
    def batch_size(self) -> int:
        return self.shared.batch_size

    def flow_of(self, tenant: str) -> Flow:
        """Return the flow that runs ``tenant``'s jobs."""
        return self.by_tenant.get(tenant, self.shared)

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            owner = job.tenant if job.tenant in self.by_tenant else ""
            groups.setdefault(owner, []).append(job)
        outcomes: dict[int, Outcome] = {}
        for owner, group in groups.items():
            flow = self.by_tenant[owner] if owner else self.shared
            for outcome in await flow.run(group, ctx):
                outcomes[outcome.job_id] = outcome
        return [outcomes[job.id] for job in jobs]
