"""The overview's per-minute charts: job outcomes and queue depth, from the store, as SVG."""

from __future__ import annotations

from web_support import login

from freshforce.engine.queue import Failure, Settlement
from freshforce.store.charts import minute_series


async def _work(queue) -> None:
    """Enqueue four jobs; finish two, fail one (a retry), leave one waiting."""
    async with queue.engine.begin() as conn:
        for n in range(4):
            await queue.enqueue(conn, "invoices", f"fb:inv:{n}")
    claimed = await queue.claim("w1", 3)
    failure = Failure("TransientError", "503")
    settlements = [Settlement(job, "done", 0.01) for job in claimed[:2]]
    settlements.append(Settlement(claimed[2], "retry", 0.01, failure=failure, delay=3600))
    await queue.settle("w1", settlements)


async def test_minute_series_counts_outcomes_and_rebuilds_depth(store_engine, queue):
    async with store_engine.connect() as db:
        quiet = await minute_series(db)
    assert (quiet.done, quiet.failed, quiet.depth) == ((0,) * 60, (0,) * 60, (0,) * 60)
    await _work(queue)
    async with store_engine.connect() as db:
        series = await minute_series(db)
    assert (len(series.done), len(series.failed), len(series.depth)) == (60, 60, 60)
    assert (sum(series.done), sum(series.failed)) == (2, 1)
    assert series.depth[-1] == 2  # the retried job waits again, and the one never claimed
    assert series.depth[0] == 0  # an hour ago nothing was queued
    async with store_engine.connect() as db:
        assert (await minute_series(db, minutes=5)).depth[-1] == 2


async def test_overview_draws_the_last_hour(app_client, queue):
    await _work(queue)
    await login(app_client, "vic")
    view = (await app_client.get("/api/overview")).json()
    assert sum(view["per_minute"]["done"]) == 2
    assert sum(view["per_minute"]["failed"]) == 1
    assert view["per_minute"]["queue_depth"][-1] == 2
    panel = (await app_client.get("/partials/overview")).text
    assert panel.count('<svg class="sparkline"') == 2
    assert 'data-series="done"' in panel
    assert 'data-series="failed"' in panel
    # Jobs created late in one minute and settled early in the next make the earlier minute's
    # depth 4: the most is whatever the series holds, the same in both answers.
    most = max(view["per_minute"]["queue_depth"])
    assert most in {2, 4}
    assert f"queue depth: now 2, most {most}" in panel
    assert "Job attempts per minute (done: now" in panel
