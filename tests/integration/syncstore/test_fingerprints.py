import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.fingerprint import fingerprint
from freshforce.store.fingerprints import (
    Written,
    consume_fingerprint,
    prune_fingerprints,
    record_fingerprints,
)
from freshforce.store.schema import write_fingerprints

WROTE = {"organization": "Acme", "fname": "Ann", "lname": "Lee"}


def _written(values: dict[str, object], record_id: str = "42") -> Written:
    return Written("freshbooks", "client", record_id, fingerprint(values))


async def test_the_echo_of_our_write_is_recognised_once(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        await record_fingerprints(db, "acme", [_written(WROTE)])
    echo = _written({"lname": "Lee", "fname": "Ann", "organization": "Acme"})
    async with store_engine.begin() as db:
        assert await consume_fingerprint(db, "acme", echo)
        assert not await consume_fingerprint(db, "acme", echo)


async def test_another_state_record_or_tenant_is_no_echo(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        await record_fingerprints(db, "acme", [_written(WROTE)])
    async with store_engine.begin() as db:
        assert not await consume_fingerprint(db, "acme", _written({**WROTE, "fname": "Bo"}))
        assert not await consume_fingerprint(db, "acme", _written(WROTE, record_id="43"))
        assert not await consume_fingerprint(db, "globex", _written(WROTE))
        assert await consume_fingerprint(db, "acme", _written(WROTE))


async def test_an_expired_fingerprint_matches_nothing_and_is_pruned(
    store_engine: AsyncEngine,
) -> None:
    async with store_engine.begin() as db:
        await record_fingerprints(db, "acme", [_written(WROTE)], ttl=0.0)
        await record_fingerprints(db, "acme", [_written(WROTE, "43")], ttl=600.0)
    async with store_engine.begin() as db:
        assert not await consume_fingerprint(db, "acme", _written(WROTE))
        assert await prune_fingerprints(db) == 0  # the second record pruned the first
        left = (await db.execute(sa.select(write_fingerprints.c.record_id))).scalars().all()
    assert left == ["43"]
