import asyncio
from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.matchkey import organisation_key
from freshforce.engine.queue import JobQueue, QueueConfig
from freshforce.store.engine import create_engine
from freshforce.store.linking import NewLink, create_link
from freshforce.store.links import find_links, find_links_by_key
from freshforce.store.matchlocks import (
    job_holder,
    match_lock_holders,
    release_match_locks,
    take_match_locks,
)
from freshforce.store.scope import Scope

ACME = Scope("acme", "clients")


async def test_a_key_has_one_holder_until_released_or_expired(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        assert await take_match_locks(db, ACME, ["org:acme"], "job-1")
        assert await take_match_locks(db, ACME, ["org:acme"], "job-1")  # its own: renewed
        assert not await take_match_locks(db, ACME, ["org:acme"], "job-2")
        assert await take_match_locks(db, Scope("globex", "clients"), ["org:acme"], "job-2")
        assert not await release_match_locks(db, ACME, ["org:acme"], "job-2")
        assert await release_match_locks(db, ACME, ["org:acme"], "job-1")
        assert await take_match_locks(db, ACME, ["org:acme"], "job-2", ttl=0.0)
    async with store_engine.begin() as db:
        assert await match_lock_holders(db, ACME, ["org:acme"]) == {}
        assert await take_match_locks(db, ACME, ["org:acme"], "job-3")  # expired: taken over
        assert not await release_match_locks(db, ACME, ["org:acme"], "job-2")  # the re-check


async def test_several_keys_are_taken_all_or_none(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        assert await take_match_locks(db, ACME, ["email:a@acme.com"], "job-1")
        assert not await take_match_locks(db, ACME, ["org:acme", "email:a@acme.com"], "job-2")
        holders = await match_lock_holders(db, ACME, ["org:acme", "email:a@acme.com"])
    assert holders == {"email:a@acme.com": "job-1"}


async def test_a_dead_jobs_keys_are_free_once_its_lease_is_gone(store_engine: AsyncEngine) -> None:
    """A worker died holding a job's keys: the job's next attempt, then anyone, takes them."""
    queue = JobQueue(store_engine, config=QueueConfig(lease_seconds=0.2))
    async with store_engine.begin() as conn:
        job_id = await queue.enqueue(conn, "clients", "freshbooks/client/1", tenant="acme")
    [job] = await queue.claim("worker-a", 1)
    async with store_engine.begin() as db:
        assert await take_match_locks(db, ACME, ["org:acme"], job_holder(job_id))
    async with store_engine.begin() as db:  # its lease is live: everyone else waits
        assert not await take_match_locks(db, ACME, ["org:acme"], job_holder(job_id + 1))
        assert not await take_match_locks(db, ACME, ["org:acme"], "someone")
    await asyncio.sleep(0.4)  # worker-a died: its lease runs out long before the lock's ttl
    [again] = await queue.claim("worker-b", 1)
    assert (again.id, again.attempt) == (job_id, job.attempt + 1)
    async with store_engine.begin() as db:  # the job's new attempt takes its own keys back
        assert await take_match_locks(db, ACME, ["org:acme"], job_holder(job_id))
        assert not await take_match_locks(db, ACME, ["org:acme"], job_holder(job_id + 1))
    await asyncio.sleep(0.4)  # and that attempt's worker dies too, with nobody taking the job
    async with store_engine.begin() as db:
        assert await take_match_locks(db, ACME, ["org:acme"], job_holder(job_id + 1))
        assert await match_lock_holders(db, ACME, ["org:acme"]) == {
            "org:acme": job_holder(job_id + 1)
        }


async def test_a_holder_that_is_no_job_keeps_its_keys_until_they_expire(
    store_engine: AsyncEngine,
) -> None:
    async with store_engine.begin() as db:
        assert await take_match_locks(db, ACME, ["org:acme"], "job-7")  # not a job's holder name
        assert not await take_match_locks(db, ACME, ["org:acme"], job_holder(8))


@dataclass
class _World:
    """The two remote systems as far as the race needs them: what each task created."""

    creates: list[str] = field(default_factory=list)
    # The control run waits here until both jobs have read, however slow either one starts.
    both_read: asyncio.Barrier = field(default_factory=lambda: asyncio.Barrier(2))


async def _sync_one(
    engine: AsyncEngine, world: _World, name: str, ids: tuple[str, str], *, locking: bool
) -> None:
    """One job: match by organisation, create the partner and the link unless one exists."""
    key = organisation_key(name)
    assert key is not None
    holder = f"job-{ids[0]}"
    while locking:
        async with engine.begin() as db:
            if await take_match_locks(db, ACME, [key], holder):
                break
        await asyncio.sleep(0.01)
    async with engine.connect() as db:  # the read phase: no lock held
        found = await find_links_by_key(db, ACME, [key])
    if not locking:
        await world.both_read.wait()
    if not found:
        await asyncio.sleep(0.1)  # the remote create
        world.creates.append(holder)
    async with engine.begin() as db:  # the commit
        if not found:
            assert await create_link(db, ACME, NewLink(*ids, keys=frozenset({key}))) is not None
        if locking:
            assert await release_match_locks(db, ACME, [key], holder)


@pytest.mark.parametrize("locking", [True, False], ids=["locked", "unlocked-control"])
async def test_one_company_created_on_both_sides_at_once_ends_as_one_link(
    store_engine: AsyncEngine, database_url: str, *, locking: bool
) -> None:
    world = _World()
    other = create_engine(database_url)  # a second worker process, its own pool
    try:
        await asyncio.gather(
            _sync_one(store_engine, world, "Acme, Inc.", ("1", "001A"), locking=locking),
            _sync_one(other, world, "ACME", ("2", "001B"), locking=locking),
        )
    finally:
        await other.dispose()
    async with store_engine.connect() as db:
        links = await find_links(db, ACME, freshbooks_ids=["1", "2"])
    # Without the lock both jobs miss each other and each creates a twin: the race is real.
    assert (len(links), len(world.creates)) == ((1, 1) if locking else (2, 2))


async def test_six_spellings_of_one_company_racing_end_as_one_link(
    store_engine: AsyncEngine, database_url: str
) -> None:
    world = _World()
    names = ["Acme, Inc.", "ACME", "acme llc", "The Acme Company", "Acme Corp.", "acme"]
    other = create_engine(database_url)
    try:
        await asyncio.gather(
            *(
                _sync_one(
                    (store_engine, other)[n % 2], world, name, (str(n), f"001B{n}"), locking=True
                )
                for n, name in enumerate(names)
            )
        )
    finally:
        await other.dispose()
    async with store_engine.connect() as db:
        links = await find_links(db, ACME, freshbooks_ids=[str(n) for n in range(len(names))])
        left = await match_lock_holders(db, ACME, ["org:acme"])
    assert (len(links), len(world.creates), left) == (1, 1, {})
