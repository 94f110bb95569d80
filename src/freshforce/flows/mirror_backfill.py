"""A mirror flow's backfill (``freshforce sync --initial``): every FreshBooks record, mirrored.

The records are read page by page (100 a FreshBooks call) and mirrored ``chunk`` at a time
through the flow's own batch (``MirrorFlow.mirror``), without jobs: a chunk's parents, its
existing mirrors and its writes cost a handful of Salesforce calls (Collections of 200, the Bulk
API above the client's threshold), so a backfill spends well under one call per 100 records.
Running it again changes nothing that is already as wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freshforce.errors import FreshforceError
from freshforce.flows.mirror import Mirrored

if TYPE_CHECKING:
    from freshforce.engine.pair import Pair
    from freshforce.flows.mirror import MirrorFlow

__all__ = ["BACKFILL_CHUNK", "BackfillReport", "backfill"]

BACKFILL_CHUNK = 2000  # records mirrored together
Progress = Callable[[str, int], None]


@dataclass
class BackfillReport:
    """How many records a backfill wrote, found as wanted or failed, with the first errors."""

    counts: dict[str, int] = field(
        default_factory=lambda: {"written": 0, "unchanged": 0, "failed": 0}
    )
    errors: list[str] = field(default_factory=list)

    def add(self, results: Mapping[str, Mirrored | FreshforceError]) -> None:
        for key, result in results.items():
            if isinstance(result, FreshforceError):
                self.counts["failed"] += 1
                if len(self.errors) < 100:  # noqa: PLR2004 - enough to show what went wrong
                    self.errors.append(f"{key}: {result.message}")
            else:
                self.counts[str(result)] += 1


async def backfill(
    flow: MirrorFlow,
    pair: Pair,
    *,
    chunk: int = BACKFILL_CHUNK,
    progress: Progress | None = None,
) -> BackfillReport:
    """Mirror every record of the flow's FreshBooks resource; return what happened."""
    report = BackfillReport()
    waiting: dict[int, Mapping[str, Any] | None] = {}

    async def flush() -> None:
        if waiting:
            report.add(await flow.mirror(pair, pair.tenant, dict(waiting)))
            if progress is not None:
                progress(f"{flow.name}: mirrored", len(waiting))
            waiting.clear()

    async for page in pair.freshbooks.list_all(flow.resource):
        waiting.update((r.id, r.raw) for r in page.records)
        if len(waiting) >= chunk:
            await flush()
    await flush()
    return report
