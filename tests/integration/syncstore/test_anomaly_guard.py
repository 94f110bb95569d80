"""The learning guard on the store: it learns what proceeds, holds odd writes, obeys reviews."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.assist.baseline import Thresholds
from freshforce.assist.guard import BaselineGuard
from freshforce.assist.review import settle
from freshforce.engine import JobQueue, JobStatus
from freshforce.engine.guard import Guarded, PlannedWrite
from freshforce.store.anomalies import list_anomalies


def _invoice(key: str, amount: str, client: str = "7") -> PlannedWrite:
    return PlannedWrite(
        "t", "invoices", key, client, {"amount": Decimal(amount)}, {"currency": "USD"}
    )


async def test_learns_holds_and_releases(store_engine: AsyncEngine) -> None:
    guard = BaselineGuard(store_engine)
    for n, amount in enumerate(("100", "120", "90", "110")):
        assert (await guard.check(_invoice(f"k{n}", amount))).action is Guarded.PROCEED
    odd = _invoice("k9", "11000")
    verdict = await guard.check(odd)
    assert verdict.held
    assert verdict.reasons == (
        "amount 11,000.00 USD looks like 110.00 with the decimal point moved (x100)",
    )
    again = await guard.check(odd)
    assert again.reasons[-1] == "waiting for review"
    async with store_engine.connect() as db:
        [held] = await list_anomalies(db, "t", status="open")
    queue = JobQueue(store_engine)
    await settle(store_engine, queue, "t", held.id, accept=True, by="ann")
    assert [(j.flow, j.key) for j in await queue.jobs(status=JobStatus.PENDING)] == [
        ("invoices", "k9")
    ]
    assert (await guard.check(odd)).action is Guarded.PROCEED
    changed = _invoice("k9", "11500")  # the record changed after the review: judged afresh
    assert (await guard.check(changed)).held


async def test_the_delete_breaker_trips_at_its_limit(store_engine: AsyncEngine) -> None:
    guard = BaselineGuard(store_engine, Thresholds(burst_deletes=3))
    verdicts = [
        await guard.check(PlannedWrite("t", "clients", f"k{n}", "", delete=True)) for n in range(5)
    ]
    assert [v.action for v in verdicts] == [Guarded.PROCEED] * 3 + [Guarded.HOLD] * 2
    assert verdicts[3].reasons[0].startswith("a burst of deletes: 3 in the last 15 minutes")
