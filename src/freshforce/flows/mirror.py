"""Mirror flows: one FreshBooks resource copied one way into one Salesforce object.

A map file ``mirror_<name>.yaml`` (``flow: mirror``, see docs/mapping.md) makes the flow
``mirror_<name>``: FreshBooks invoices (with their lines), payments, items or clients become
records of a standard or custom object (``FreshBooks_Invoice__c`` with
``FreshBooks_Invoice_Line__c`` children, or ``Order`` with ``OrderItem``), keyed by an
external-id field holding the FreshBooks id so every write is an idempotent upsert.

Jobs are keyed ``freshbooks/<object>/<id>``. Per batch and tenant (mirror_read.py): the records
in one FreshBooks list call, their parents from stored links and one query per lookup, the
mirrors and their children in two queries. Per record (mirror_plan.py) only what differs is
written: the parents in one Collections upsert per 200 (Bulk API above the client's threshold),
then the children with their parent ids the same way, then the orphaned children deleted. A
record deleted in FreshBooks follows the map's ``deletes.freshbooks`` (``propagate`` deletes the
mirror and its children; ``archive`` keeps mirroring it; ``unlink``/``ignore`` leave it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.engine.batch import outcome_for, per_tenant
from freshforce.engine.flow import Outcome
from freshforce.errors import FreshforceError, PermanentError, TransientError
from freshforce.flows.mirror_plan import Plan, plan_record
from freshforce.flows.mirror_read import (
    PRIORITY,
    read_existing,
    read_records,
    resolve_lookups,
    resource_of,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.connectors.freshbooks.client import Resource
    from freshforce.connectors.salesforce.models import WriteResult
    from freshforce.engine.flow import FlowContext
    from freshforce.engine.pair import Pair, PairSource
    from freshforce.mapping import FlowMap, MapSet
    from freshforce.runtime import Runtime
    from freshforce.store.queue import Job

__all__ = ["MirrorFlow", "Mirrored", "mirror_flows"]

log = structlog.get_logger("freshforce.flows.mirror")


class Mirrored(StrEnum):
    """What mirroring one record did."""

    WRITTEN = "written"  # created, changed or deleted
    UNCHANGED = "unchanged"  # the mirror was as wanted, or the record is not mirrored


@dataclass
class MirrorFlow:
    """One mirror flow (see the module docstring); ``name`` is its map's flow name."""

    pairs: PairSource
    engine: AsyncEngine  # the stored links parents are found by
    map: FlowMap
    batch_size: int = 200
    name: str = field(init=False)

    def __post_init__(self) -> None:
        if self.map.mirror is None:
            msg = f"{self.map.file}: {self.map.flow} is not a mirror map"
            raise ValueError(msg)
        self.name = self.map.flow
        self._resource = resource_of(self.map)
        self._target = self.map.salesforce_objects[0]
        self._child = self.map.lines.salesforce if self.map.lines else None

    @property
    def resource(self) -> Resource:
        """The FreshBooks resource this flow mirrors."""
        return self._resource

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        del ctx  # everything read here is remote, or the stored links (read on the engine)
        return await per_tenant(jobs, self.pairs, self._tenant)

    async def _tenant(self, pair: Pair, jobs: list[Job]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        by_record: dict[int, list[Job]] = {}
        prefix = f"freshbooks/{self._resource.singular}/"
        for job in jobs:
            tail = job.key.removeprefix(prefix)
            if not job.key.startswith(prefix) or not tail.isdigit():
                msg = f"{self.name} jobs are keyed {prefix}<id>, got {job.key!r}"
                outcomes[job.id] = Outcome.fail(job, PermanentError(msg, flow=self.name))
            else:
                by_record.setdefault(int(tail), []).append(job)
        if not by_record:
            return outcomes
        records = await read_records(pair, self._resource, list(by_record))
        results = await self.mirror(pair, jobs[0].tenant, records)
        for ident, waiting in by_record.items():
            result = results[str(ident)]
            for job in waiting:
                if isinstance(result, FreshforceError):
                    outcomes[job.id] = outcome_for(job, result)
                elif result is Mirrored.WRITTEN:
                    outcomes[job.id] = Outcome.done(job)
                else:
                    outcomes[job.id] = Outcome.skipped(job)
        return outcomes

    async def mirror(
        self, pair: Pair, tenant: str, records: Mapping[int, Mapping[str, Any] | None]
    ) -> dict[str, Mirrored | FreshforceError]:
        """Mirror ``records`` (by FreshBooks id; None: gone); return each one's result by key.

        A failure of a whole call (the org unreachable, a limit) fails every record.
        """
        spec = self.map.mirror
        assert spec is not None  # noqa: S101 - checked when built
        singular = self._resource.singular
        keys = [str(i) for i in records]
        try:
            live = [r for r in records.values() if r is not None]
            parents = await resolve_lookups(self.engine, pair, spec, tenant, live)
            existing = await read_existing(pair.salesforce, self.map, keys)
        except FreshforceError as exc:
            return dict.fromkeys(keys, exc)
        results: dict[str, Mirrored | FreshforceError] = {}
        plans: list[Plan] = []
        for ident, raw in records.items():
            key, record_key = str(ident), f"freshbooks/{singular}/{ident}"
            try:
                plan = plan_record(self.map, record_key, key, raw, existing.get(key), parents)
            except FreshforceError as exc:
                exc.flow, exc.record_key = exc.flow or self.name, exc.record_key or record_key
                results[key] = exc
                continue
            if plan.idle:
                results[key] = Mirrored.UNCHANGED
            else:
                plans.append(plan)
        return results | await self._write(pair, plans)

    async def _write(self, pair: Pair, plans: list[Plan]) -> dict[str, Mirrored | FreshforceError]:
        failed: dict[str, FreshforceError] = {}  # plan key -> why
        try:
            await self._delete(pair, [p for p in plans if p.delete], failed)
            ids = await self._parents(pair, [p for p in plans if not p.delete], failed)
            await self._children(pair, [p for p in plans if p.key in ids], ids, failed)
        except FreshforceError as exc:
            return {plan.key: exc for plan in plans}
        for plan in plans:
            if plan.key not in failed:
                log.info("mirror_written", flow=self.name, key=plan.key, deleted=plan.delete)
        return {p.key: failed.get(p.key, Mirrored.WRITTEN) for p in plans}

    async def _parents(
        self, pair: Pair, plans: list[Plan], failed: dict[str, FreshforceError]
    ) -> dict[str, str]:
        """Upsert the parents that changed; return every plan's parent id by key."""
        spec = self.map.mirror
        assert spec is not None  # noqa: S101
        ids = {p.key: p.existing.id for p in plans if p.existing is not None}
        writing = [p for p in plans if p.parent is not None]
        if not writing:
            return ids
        records = [{**(p.parent or {}), spec.external_id: p.key} for p in writing]
        results = await pair.salesforce.upsert(
            self._target, spec.external_id, records, priority=PRIORITY
        )
        for plan, result in zip(writing, results, strict=True):
            if result.success and result.id:
                ids[plan.key] = result.id
            else:
                failed[plan.key] = self._fault(self._target, plan.key, result)
                ids.pop(plan.key, None)
        return ids

    async def _children(
        self,
        pair: Pair,
        plans: list[Plan],
        ids: dict[str, str],
        failed: dict[str, FreshforceError],
    ) -> None:
        spec = self.map.mirror
        assert spec is not None  # noqa: S101
        if self._child is None or spec.lines is None:
            return
        lines = spec.lines
        owners: list[str] = []
        records: list[dict[str, Any]] = []
        for plan in plans:
            have = plan.existing.children if plan.existing else {}
            for key, values in plan.children.items():
                parent = {} if key in have else {lines.parent: ids[plan.key]}
                records.append({**values, **parent, lines.external_id: key})
                owners.append(plan.key)
        if records:
            results = await pair.salesforce.upsert(
                self._child, lines.external_id, records, priority=PRIORITY
            )
            for owner, record, result in zip(owners, records, results, strict=True):
                if not result.success:
                    failed[owner] = self._fault(self._child, record[lines.external_id], result)
        orphans = [(p.key, i) for p in plans for i in p.orphans]
        if orphans:
            results = await pair.salesforce.delete(
                self._child, [i for _, i in orphans], priority=PRIORITY
            )
            for (owner, ident), result in zip(orphans, results, strict=True):
                if not result.success:
                    failed[owner] = self._fault(self._child, ident, result)

    async def _delete(
        self, pair: Pair, plans: list[Plan], failed: dict[str, FreshforceError]
    ) -> None:
        children = [
            (p.key, str(c["Id"])) for p in plans if p.existing for c in p.existing.children.values()
        ]
        parents = [(p.key, p.existing.id) for p in plans if p.existing is not None]
        for sobject, doomed in ((self._child, children), (self._target, parents)):
            if not doomed or sobject is None:
                continue
            results = await pair.salesforce.delete(
                sobject, [i for _, i in doomed], priority=PRIORITY
            )
            for (owner, ident), result in zip(doomed, results, strict=True):
                gone = any(e.code == "ENTITY_IS_DELETED" for e in result.errors)
                if not result.success and not gone:
                    failed[owner] = self._fault(sobject, ident, result)

    def _fault(self, sobject: str, key: str, result: WriteResult) -> FreshforceError:
        fault = "; ".join(f"{e.code}: {e.message}" for e in result.errors) or "no reason given"
        msg = f"{self.name}: {sobject} {key} not written: {fault}"
        return TransientError(msg, flow=self.name, system="salesforce")


def mirror_flows(runtime: Runtime, maps: MapSet) -> dict[str, MirrorFlow]:
    """Build a flow for every mirror map of ``maps`` (``mirror_<name>.yaml`` files)."""
    return {
        name: MirrorFlow(runtime.pair, runtime.engine, flow_map)
        for name, flow_map in maps.flows.items()
        if flow_map.mirror is not None
    }
