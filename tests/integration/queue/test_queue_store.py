import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from freshforce.engine.queue import Failure, JobQueue, JobRequest, JobStatus, Settlement
from freshforce.store import queue as store
from freshforce.store.queue import MAX_HINTS, Hint, merge_hints
from freshforce.store.schema import jobs


async def enqueue(queue: JobQueue, flow, key, hints=(), **kw) -> int:
    async with queue.engine.begin() as conn:
        return await queue.enqueue(conn, flow, key, hints, **kw)


def done(job, outcome="done") -> Settlement:
    return Settlement(job, outcome, 0.01)


def retry(job, delay=0.0, *, floor=False, message="429") -> Settlement:
    failure = Failure("TransientError", message)
    return Settlement(job, "retry", 0.01, failure=failure, delay=delay, floor=floor)


async def test_enqueue_coalesces_keeping_earliest_due_and_union_of_hints(queue) -> None:
    before = datetime.now(UTC)
    first = await enqueue(queue, "clients", "fb/client/1", ["a"], delay=60, priority=5)
    second = await enqueue(queue, "clients", "fb/client/1", ["b", {"e": 1}], delay=10)
    third = await enqueue(queue, "clients", "fb/client/1", [{"e": 1}, "a"], delay=120, priority=9)
    other_flow = await enqueue(queue, "invoices", "fb/client/1", ["z"])
    assert first == second == third
    assert other_flow != first
    [job] = await queue.jobs(flow="clients")
    assert job.status is JobStatus.PENDING
    assert job.hints == ("a", "b", {"e": 1})
    assert before + timedelta(seconds=9) < job.run_at < datetime.now(UTC) + timedelta(seconds=11)
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


async def test_the_tenant_is_part_of_every_job_identity(queue) -> None:
    acme = await enqueue(queue, "f", "fb/client/42", ["acme-event"], tenant="acme")
    globex = await enqueue(queue, "f", "fb/client/42", ["globex-event"], tenant="globex")
    assert acme != globex
    async with queue.engine.begin() as conn:
        ids = await queue.enqueue_many(
            conn,
            [
                JobRequest("f", "fb/client/42", ("a2",), tenant="acme"),
                JobRequest("f", "fb/client/42", ("g2",), tenant="globex"),
            ],
        )
    assert ids == [acme, globex]
    by_tenant = {j.tenant: j for j in await queue.jobs()}
    assert by_tenant["acme"].hints == ("acme-event", "a2")
    assert by_tenant["globex"].hints == ("globex-event", "g2")
    # One key of two tenants runs at once: the per-key exclusivity is per tenant.
    claimed = await queue.claim("w1", 10)
    assert sorted(j.tenant for j in claimed) == ["acme", "globex"]


async def test_claim_takes_one_job_per_key_and_skips_running_keys(queue) -> None:
    await enqueue(queue, "clients", "K")
    await enqueue(queue, "payments", "K")
    await enqueue(queue, "clients", "L")
    first = await queue.claim("w1", 10)
    assert sorted(j.key for j in first) == ["K", "L"]
    assert all(j.status is JobStatus.RUNNING and j.attempt == 1 for j in first)
    assert await queue.claim("w2", 10) == []
    k_job = next(j for j in first if j.key == "K")
    assert await queue.settle("w1", [done(k_job)]) == {k_job.id: "done"}
    [second] = await queue.claim("w2", 10)
    assert second.key == "K"
    assert second.flow != k_job.flow


async def test_claim_respects_due_time_priority_and_limit(queue, travel) -> None:
    await enqueue(queue, "f", "later", delay=10)
    await enqueue(queue, "f", "low", priority=5)
    await enqueue(queue, "f", "high", priority=0)
    await enqueue(queue, "f", "high2", priority=0)
    batch = await queue.claim("w", 2)
    assert [j.key for j in batch] == ["high", "high2"]
    assert [j.key for j in await queue.claim("w", 5)] == ["low"]
    await travel(11)  # due now; the other leases (30 s) still hold
    assert [j.key for j in await queue.claim("w", 5)] == ["later"]


async def test_ack_commits_effects_only_for_the_holder(queue) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w1", 1)
    assert await queue.settle("someone-else", [done(job)]) == {job.id: "lost_lease"}
    assert await queue.settle("w1", [done(job, "skipped")]) == {job.id: "skipped"}
    [finished] = await queue.jobs()
    assert finished.status is JobStatus.DONE
    assert finished.locked_by is None
    [attempt] = await queue.attempts(job.id)
    assert (attempt.outcome, attempt.attempt, attempt.worker) == ("skipped", 1, "w1")
    assert attempt.finished_at is not None
    assert attempt.started_at is not None
    assert attempt.started_at <= attempt.finished_at


async def test_an_ack_records_a_note_of_failure_beside_clean_acks(queue) -> None:
    # Acks with no failure take the short statement; one carrying a failure takes the full one.
    for key in ("a", "b"):
        await enqueue(queue, "f", key)
    first, second = await queue.claim("w1", 2)
    noted = Settlement(second, "skipped", 0.01, failure=Failure("Skipped", "nothing to do"))
    async with queue.engine.begin() as conn:
        acked = await store.ack(conn, worker="w1", records=[done(first).record("w1")])
        assert acked == {first.id}
        acked = await store.ack(conn, worker="w1", records=[noted.record("w1")])
        assert acked == {second.id}
    [clean] = await queue.attempts(first.id)
    [kept] = await queue.attempts(second.id)
    assert (clean.outcome, clean.failure) == ("done", None)
    assert kept.outcome == "skipped"
    assert kept.failure is not None
    assert (kept.failure.error_class, kept.failure.message) == ("Skipped", "nothing to do")


async def test_expired_lease_is_reclaimed_and_the_old_holder_cannot_ack(queue, travel) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w1", 1)
    await travel(10)
    assert await queue.heartbeat("w1", [job]) == {job.id}  # lease now ends 30 s from now
    await travel(25)
    assert await queue.claim("w2", 1) == []
    await travel(10)
    [again] = await queue.claim("w2", 1)
    assert (again.id, again.attempt, again.locked_by) == (job.id, 2, "w2")
    assert await queue.heartbeat("w1", [job]) == set()
    assert await queue.settle("w1", [done(job)]) == {job.id: "lost_lease"}
    [lost] = await queue.attempts(job.id)
    assert (lost.outcome, lost.attempt, lost.worker) == ("lost", 1, "w1")


async def test_a_worker_reclaiming_its_own_expired_job_cannot_ack_the_old_attempt(
    queue, travel
) -> None:
    await enqueue(queue, "f", "k")
    [first] = await queue.claim("w1", 1)
    await travel(31)
    [second] = await queue.claim("w1", 1)
    assert (second.id, second.attempt, second.locked_by) == (first.id, 2, "w1")
    assert await queue.heartbeat("w1", [first]) == set()
    assert await queue.settle("w1", [done(first)]) == {first.id: "lost_lease"}
    assert await queue.settle("w1", [retry(first)]) == {first.id: "lost_lease"}
    assert await queue.settle("w1", [done(second)]) == {second.id: "done"}
    assert [(a.attempt, a.outcome) for a in await queue.attempts(first.id)] == [
        (1, "lost"),
        (2, "done"),
    ]


async def test_leases_are_timed_by_the_database_not_the_worker_clock(store_engine) -> None:
    # Two workers whose clocks differ by 60 s: the fast one must not take live leases.
    def slow_clock() -> datetime:
        return datetime.now(UTC)

    def fast_clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=60)

    w1 = JobQueue(store_engine, clock=slow_clock)
    w2 = JobQueue(store_engine, clock=fast_clock)
    async with store_engine.begin() as conn:
        await w2.enqueue(conn, "f", "due-later", delay=30)
        await w1.enqueue(conn, "f", "k")
    [held] = await w1.claim("w1", 5)
    assert held.key == "k"
    assert await w2.claim("w2", 5) == []  # neither the live lease nor the job due in 30 s
    [row] = await w1.jobs(status=JobStatus.RUNNING)
    assert row.lease_expires_at is not None
    now = datetime.now(UTC)
    assert now + timedelta(seconds=25) < row.lease_expires_at < now + timedelta(seconds=35)
    [later] = await w1.jobs(status=JobStatus.PENDING)
    assert later.run_at < now + timedelta(seconds=35)


async def test_retry_moves_back_to_pending_and_absorbs_a_twin(queue) -> None:
    await enqueue(queue, "f", "k", ["old"])
    [job] = await queue.claim("w", 1)
    await enqueue(queue, "f", "k", ["new"])  # arrives while the job runs
    before = datetime.now(UTC)
    assert await queue.settle("w", [retry(job, 42)]) == {job.id: "retry"}
    [pending] = await queue.jobs()
    assert pending.id == job.id
    assert pending.status is JobStatus.PENDING
    assert pending.hints == ("old", "new")
    assert pending.run_at >= before + timedelta(seconds=41)
    assert pending.last_error == "TransientError: 429"
    [attempt] = await queue.attempts(job.id)
    assert attempt.outcome == "retry"
    assert attempt.error_message == "429"


async def test_retry_after_is_a_floor_that_coalescing_keeps(queue) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w", 1)
    assert await queue.settle("w", [retry(job, 5, floor=True)]) == {job.id: "retry"}
    [waiting] = await queue.jobs()
    await enqueue(queue, "f", "k", ["a new event"])  # due now, but the remote said 5 s
    [merged] = await queue.jobs()
    assert merged.hints == ("a new event",)
    assert merged.run_at == waiting.run_at
    assert await queue.claim("w", 1) == []
    assert await queue.retry_now([job.id]) == [job.id]  # an operator may still override
    assert [j.id for j in await queue.claim("w", 1)] == [job.id]


async def test_release_refunds_the_attempt(queue) -> None:
    await enqueue(queue, "f", "k")
    [job] = await queue.claim("w", 1)
    assert await queue.release([job], "w") == 1
    [pending] = await queue.jobs()
    assert (pending.status, pending.attempt, pending.locked_by) == (JobStatus.PENDING, 0, None)


async def test_bury_edit_and_replay(queue) -> None:
    await enqueue(queue, "f", "k", ["h1"])
    [job] = await queue.claim("w", 1)
    failure = Failure("RuntimeError", "bad", "Traceback: line 1")
    assert await queue.settle("w", [Settlement(job, "dead", 0.1, failure=failure)]) == {
        job.id: "dead"
    }
    [letter] = await queue.dead_letters()
    assert (letter.flow, letter.key, letter.payload) == ("f", "k", {"hints": ["h1"]})
    assert (letter.error_message, letter.traceback) == ("bad", "Traceback: line 1")
    assert await queue.edit_dead_letter(letter.id, {"hints": ["fixed"]})
    new_id = await queue.replay(letter.id)
    assert new_id is not None
    assert new_id != job.id
    assert await queue.replay(letter.id) is None  # only once
    assert not await queue.edit_dead_letter(letter.id, {"hints": []})
    replayed = await queue.dead_letter(letter.id)
    assert replayed is not None
    assert replayed.replayed_at is not None
    assert await queue.dead_letters() == []
    [new] = await queue.jobs(status=JobStatus.PENDING)
    assert (new.id, new.hints) == (new_id, ("fixed",))
    [dead] = await queue.jobs(status=JobStatus.DEAD)
    assert dead.id == job.id


async def test_retry_now_and_prune(queue, travel) -> None:
    waiting = await enqueue(queue, "f", "waiting", delay=3600)
    assert await queue.retry_now([waiting, 999]) == [waiting]
    [job] = await queue.claim("w", 5)
    await queue.settle("w", [done(job)])
    assert await queue.prune() == 0
    await travel(86_401)
    assert await queue.prune() == 1
    assert await queue.jobs() == []
    async with queue.engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar() == 0
    assert await queue.counts() == dict.fromkeys(JobStatus, 0)


async def test_enqueue_many_coalesces_within_the_page_and_with_pending_jobs(queue) -> None:
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
    assert by_id[existing].hints == ("old", "e2")
    now = datetime.now(UTC)
    assert by_id[ids[0]].run_at < now + timedelta(seconds=11)
    assert by_id[existing].run_at < now + timedelta(seconds=6)


async def test_two_claimers_picking_two_flows_of_one_key_do_not_fail(queue) -> None:
    await enqueue(queue, "clients", "K", priority=0)
    await enqueue(queue, "payments", "K", priority=1)
    await enqueue(queue, "clients", "L", priority=2)
    engine = queue.engine
    first = await engine.connect()
    await first.begin()
    mine = await store.claim(first, worker="w1", limit=1, lease_seconds=30)
    assert [(j.flow, j.key) for j in mine] == [("clients", "K")]

    async def second_claim() -> list:
        async with engine.begin() as conn:
            return await store.claim(conn, worker="w2", limit=10, lease_seconds=30)

    other = asyncio.create_task(second_claim())
    await asyncio.sleep(0.5)  # on PostgreSQL it now waits on K's running index entry
    await first.commit()
    await first.close()
    theirs = await asyncio.wait_for(other, 30)
    assert [(j.flow, j.key) for j in theirs] == [("clients", "L")]
    running = await queue.jobs(status=JobStatus.RUNNING)
    assert sorted((j.flow, j.key, j.locked_by) for j in running) == [
        ("clients", "K", "w1"),
        ("clients", "L", "w2"),
    ]


def test_job_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="needs a flow, a key and a tenant"):
        JobRequest("clients", "")
    with pytest.raises(ValueError, match="delay must be >= 0"):
        JobRequest("clients", "k", delay=-1)


async def test_a_merge_unions_hints_like_merge_hints_keeping_the_newest(queue) -> None:
    """The union is the same on both backends (in SQL on PostgreSQL): order of first
    appearance, an object once whatever its key order, the newest MAX_HINTS kept."""
    old: list[Hint] = [f"h{n}" for n in range(80)] + [{"a": 1, "b": [2, "x"]}]
    new: list[Hint] = [{"b": [2, "x"], "a": 1}, "h5", *(f"n{n}" for n in range(40)), "h5"]
    async with queue.engine.begin() as conn:
        job_id = await queue.enqueue(conn, "clients", "k", old)
    async with queue.engine.begin() as conn:
        assert await queue.enqueue(conn, "clients", "k", new) == job_id
    [job] = await queue.jobs()
    assert list(job.hints) == merge_hints(old, merge_hints([], new))
    assert len(job.hints) == MAX_HINTS
    assert job.hints[0] == "h21"


async def test_jobs_are_read_from_rows_by_column_name_whatever_the_order(queue) -> None:
    async with queue.engine.begin() as conn:
        await queue.enqueue(conn, "clients", "a", ["h1", {"id": 2}], priority=3, tenant="t1")
        await queue.enqueue(conn, "invoices", "b", tenant="t2")
    claimed = {job.id: job for job in await queue.claim("w", 10)}
    assert len(claimed) == 2
    reversed_columns = sa.select(*reversed(jobs.c)).order_by(jobs.c.id)
    async with queue.engine.connect() as conn:
        rows = (await conn.execute(reversed_columns)).all()
    read = store.row_jobs(rows)
    assert [job.id for job in read] == sorted(claimed)
    for job in read:
        assert job == claimed[job.id]
        assert job.status is JobStatus.RUNNING
        assert isinstance(job.hints, tuple)
    [first] = [job for job in read if job.key == "a"]
    assert (first.tenant, first.flow, first.priority, first.attempt) == ("t1", "clients", 3, 1)
    assert first.hints == ("h1", {"id": 2})
    assert store.row_jobs([]) == []
