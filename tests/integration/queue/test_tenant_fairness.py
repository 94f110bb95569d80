"""A noisy tenant's backlog does not starve the others: claims keep a share for them."""

from __future__ import annotations

from collections import Counter

from freshforce.engine.queue import JobQueue, JobRequest, JobStatus

NOISY_BACKLOG = 500


async def _backlog(queue: JobQueue) -> None:
    """The noisy tenant's 500 jobs first, then one job each of two quiet tenants."""
    noisy = [JobRequest("clients", f"k{n}", tenant="noisy") for n in range(NOISY_BACKLOG)]
    async with queue.engine.begin() as conn:
        await queue.enqueue_many(conn, noisy)
    async with queue.engine.begin() as conn:
        await queue.enqueue_many(
            conn,
            [
                JobRequest("clients", "k1", tenant="quiet"),
                JobRequest("clients", "k2", tenant="calm"),
            ],
        )


async def test_a_quiet_tenant_is_claimed_while_a_noisy_one_has_a_backlog(queue: JobQueue) -> None:
    await _backlog(queue)
    first = await queue.claim("w", 8)
    assert len(first) == 8
    tenants = Counter(job.tenant for job in first)
    # Both quiet tenants' jobs come in the first claim, ahead of 500 older noisy jobs.
    assert tenants == {"noisy": 6, "quiet": 1, "calm": 1}, tenants
    counts = await queue.counts()
    assert counts[JobStatus.PENDING] == NOISY_BACKLOG - 6
    assert counts[JobStatus.RUNNING] == 8


async def test_one_tenant_alone_fills_every_claim_in_claim_order(queue: JobQueue) -> None:
    async with queue.engine.begin() as conn:
        await queue.enqueue_many(conn, [JobRequest("clients", f"k{n}") for n in range(100)])
    ids = sorted(job.id for job in await queue.jobs(status=JobStatus.PENDING, limit=100))
    first = await queue.claim("w", 10)
    assert sorted(job.id for job in first) == ids[:10]


async def test_a_claim_of_one_takes_the_earliest_job(queue: JobQueue) -> None:
    await _backlog(queue)
    [job] = await queue.claim("w", 1)
    assert (job.tenant, job.key) == ("noisy", "k0")
