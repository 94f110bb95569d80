import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from freshforce.engine.queue import JobQueue, JobRequest, JobStatus
from freshforce.store.schema import jobs


async def enqueue(queue: JobQueue, flow, key, hints=(), **kw) -> int:
    async with queue.engine.begin() as conn:
        return await queue.enqueue(conn, flow, key, hints, **kw)


async def test_enqueue_coalesces_keeping_earliest_due_and_union_of_hints(queue, clock) -> None:
    first = await enqueue(queue, "clients", "fb/client/1", ["a"], delay=60, priority=5)
    second = await enqueue(queue, "clients", "fb/client/1", ["b", {"e": 1}], delay=10)
    third = await enqueue(queue, "clients", "fb/client/1", [{"e": 1}, "a"], delay=120, priority=9)
    other_flow = await enqueue(queue, "invoices", "fb/client/1", ["z"])
    assert first == second == third
    assert other_flow != first
    [job] = await queue.jobs(flow="clients")
    assert job.status is JobStatus.PENDING
    assert job.hints == ("a", "b", {"e": 1})
    assert job.run_at == clock.now + timedelta(seconds=10)
    assert job.priority == 0


async def test_concurrent_enqueue_bursts_coalesce(queue) -> None:
    keys = [f"sf/Account/{i}" for i in range(5)]
    await asyncio.gather(
        *(enqueue(queue, "clients", keys[n % 5], [f"event-{n}"]) for n in range(60))
    )
    pending = await queue.jobs(status=JobStatus.PENDING)
    assert sorted(j.key for j in pending) == keys
    for job in pending:
        index = keys.index(job.key)
        assert set(job.hints) == {f"event-{n}" for n in range(60) if n % 5 == index}


async def test_enqueue_inside_a_rolled_back_transaction_leaves_nothing(queue) -> None:
    async with queue.engine.connect() as conn:
        trans = await conn.begin()
        await queue.enqueue(conn, "clients", "k")
        await trans.rollback()
    assert await queue.jobs() == []


async def test_claim_takes_one_job_per_key_and_skips_running_keys(queue) -> None:
    await enqueue(queue, "clients", "K")
    await enqueue(queue, "payments", "K")
    await enqueue(queue, "clients", "L")
    first = await queue.claim("w1", 10)
    assert sorted(j.key for j in first) == ["K", "L"]
    assert all(j.status is JobStatus.RUNNING and j.attempt == 1 for j in first)
    assert await queue.claim("w2", 10) == []
    k_job = next(j for j in first if j.key == "K")
    async with queue.engine.begin() as conn:
        assert await queue.complete(conn, k_job, "w1", started_at=queue.clock())
    [second] = await queue.claim("w2", 10)
    assert second.key == "K"
    assert second.flow != k_job.flow


async def test_claim_respects_due_time_priority_and_limit(queue, clock) -> None:
    await enqueue(queue, "f", "later", delay=10)
    await enqueue(queue, "f", "low", priority=5)
    await enqueue(queue, "f", "high", priority=0)
    await enqueue(queue, "f", "high2", priority=0)
    batch = await queue.claim("w", 2)
    assert [j.key for j in batch] == ["high", "high2"]
    assert [j.key for j in await queue.claim("w", 5)] == ["low"]
    clock.advance(11)  # due now; the other leases (30 s) still hold
    assert [j.key for j in await queue.claim("w", 5)] == ["later"]


async def test_ack_commits_with_the_handler_effects_and_fails_without_lease(queue) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w1", 1)
    async with queue.engine.begin() as conn:
        assert not await queue.complete(conn, job, "someone-else", started_at=queue.clock())
    async with queue.engine.begin() as conn:
        assert await queue.complete(conn, job, "w1", started_at=queue.clock(), outcome="skipped")
    [done] = await queue.jobs()
    assert done.status is JobStatus.DONE
    assert done.locked_by is None
    [attempt] = await queue.attempts(job.id)
    assert (attempt.outcome, attempt.attempt, attempt.worker) == ("skipped", 1, "w1")


async def test_expired_lease_is_reclaimed_and_the_old_holder_cannot_ack(queue, clock) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w1", 1)
    clock.advance(10)
    assert await queue.heartbeat("w1", [job.id]) == 1  # lease now ends at +40s
    clock.advance(25)  # +35 s: past the first lease, inside the extended one
    assert await queue.claim("w2", 1) == []
    clock.advance(10)
    [again] = await queue.claim("w2", 1)
    assert (again.id, again.attempt, again.locked_by) == (job.id, 2, "w2")
    assert await queue.heartbeat("w1", [job.id]) == 0
    async with queue.engine.begin() as conn:
        assert not await queue.complete(conn, job, "w1", started_at=clock.now)
    [lost] = await queue.attempts(job.id)
    assert (lost.outcome, lost.attempt, lost.worker) == ("lost", 1, "w1")


async def test_retry_moves_back_to_pending_and_absorbs_a_twin(queue, clock) -> None:
    await enqueue(queue, "f", "k", ["old"])
    [job] = await queue.claim("w", 1)
    await enqueue(queue, "f", "k", ["new"])  # arrives while the job runs
    assert await queue.retry(
        job, "w", delay=42, started_at=clock.now, error_class="TransientError", error_message="429"
    )
    [pending] = await queue.jobs()
    assert pending.id == job.id
    assert pending.status is JobStatus.PENDING
    assert pending.hints == ("old", "new")
    assert pending.run_at == clock.now + timedelta(seconds=42)
    assert pending.last_error == "TransientError: 429"
    [attempt] = await queue.attempts(job.id)
    assert attempt.outcome == "retry"
    assert attempt.error_message == "429"


async def test_release_refunds_the_attempt(queue) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w", 1)
    assert await queue.release([job], "w") == 1
    [pending] = await queue.jobs()
    assert (pending.status, pending.attempt, pending.locked_by) == (JobStatus.PENDING, 0, None)


async def test_bury_edit_and_replay(queue) -> None:
    await enqueue(queue, "f", "k", ["h1"])
    [job] = await queue.claim("w", 1)
    letter_id = await queue.bury(
        job, "w", started_at=queue.clock(), error_class="PermanentError", error_message="bad"
    )
    assert letter_id is not None
    [letter] = await queue.dead_letters()
    assert (letter.flow, letter.key, letter.payload) == ("f", "k", {"hints": ["h1"]})
    assert letter.error_message == "bad"
    assert await queue.edit_dead_letter(letter_id, {"hints": ["fixed"]})
    new_id = await queue.replay(letter_id)
    assert new_id is not None
    assert new_id != job.id
    assert await queue.replay(letter_id) is None  # only once
    assert not await queue.edit_dead_letter(letter_id, {"hints": []})
    replayed = await queue.dead_letter(letter_id)
    assert replayed is not None
    assert replayed.replayed_at is not None
    assert await queue.dead_letters() == []
    [new] = await queue.jobs(status=JobStatus.PENDING)
    assert (new.id, new.hints) == (new_id, ("fixed",))
    [dead] = await queue.jobs(status=JobStatus.DEAD)
    assert dead.id == job.id


async def test_retry_now_and_prune(queue, clock) -> None:
    waiting = await enqueue(queue, "f", "waiting", delay=3600)
    assert await queue.retry_now([waiting, 999]) == [waiting]
    [job] = await queue.claim("w", 5)
    async with queue.engine.begin() as conn:
        await queue.complete(conn, job, "w", started_at=clock.now)
    assert await queue.prune() == 0
    clock.advance(86_401)
    assert await queue.prune() == 1
    assert await queue.jobs() == []
    async with queue.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar() == 0
    assert await queue.counts() == dict.fromkeys(JobStatus, 0)


async def test_enqueue_many_coalesces_within_the_page_and_with_pending_jobs(queue, clock) -> None:
    existing = await enqueue(queue, "clients", "b", ["old"], delay=50)
    page = [
        JobRequest("clients", "a", ("e1",), delay=30),
        JobRequest("clients", "b", ("e2",), delay=5),
        JobRequest("clients", "a", ("e3",), delay=10, priority=2),
        JobRequest("payments", "a", ("e4",)),
    ]
    async with queue.engine.begin() as conn:
        ids = await queue.enqueue_many(conn, page)
    assert ids[0] == ids[2]
    assert ids[1] == existing
    assert len(set(ids)) == 3
    by_id = {j.id: j for j in await queue.jobs()}
    assert by_id[ids[0]].hints == ("e1", "e3")
    assert by_id[ids[0]].run_at == clock.now + timedelta(seconds=10)
    assert by_id[existing].hints == ("old", "e2")
    assert by_id[existing].run_at == clock.now + timedelta(seconds=5)


def test_job_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="needs a flow and a key"):
        JobRequest("clients", "")
    with pytest.raises(ValueError, match="delay must be >= 0"):
        JobRequest("clients", "k", delay=-1)
