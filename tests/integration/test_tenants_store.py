"""The tenants of a store, listed and removed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.commands.tenants import remove_tenant, tenant_rows
from freshforce.engine.queue import JobQueue, JobRequest, JobStatus
from freshforce.store.callbacks import load_verifiers, save_verifier
from freshforce.store.connections import NewConnection, Tokens, list_connections, save_connection
from freshforce.store.crypto import TokenCipher, new_key

NONE = Tokens(None, None, None)


async def test_tenants_are_listed_by_pair_and_removed_with_their_pending_jobs(
    store_engine: AsyncEngine,
) -> None:
    cipher = TokenCipher([SecretStr(new_key())])
    now = datetime.now(UTC)
    async with store_engine.begin() as db:
        for new in (
            NewConnection("fb", "freshbooks", NONE),
            NewConnection("sf", "salesforce", NONE),
            NewConnection("fb-acme", "freshbooks", NONE, "acme"),
            NewConnection("sf-acme", "salesforce", NONE, "acme"),
            NewConnection("fb-solo", "freshbooks", NONE, "solo"),
        ):
            await save_connection(db, cipher, new, now=now)
        await save_verifier(db, cipher, "fb-acme", "1", SecretStr("verifier-acme"), now=now)
    queue = JobQueue(store_engine)
    async with store_engine.begin() as db:
        await queue.enqueue_many(
            db,
            [
                JobRequest("clients", "k1", tenant="acme"),
                JobRequest("clients", "k2", tenant="acme"),
                JobRequest("clients", "k1"),
            ],
        )

    listed = await tenant_rows(store_engine)
    assert [
        (t["tenant"], t["freshbooks"], t["salesforce"], t["paired"], t["pending_jobs"])
        for t in listed
    ] == [
        ("acme", ["fb-acme"], ["sf-acme"], True, 2),
        ("default", ["fb"], ["sf"], True, 1),
        ("solo", ["fb-solo"], [], False, 0),
    ]

    assert sorted(await remove_tenant(store_engine, "acme")) == ["fb-acme", "sf-acme"]
    assert await remove_tenant(store_engine, "acme") == []
    async with store_engine.connect() as db:
        left = [c.id for c in await list_connections(db)]
        verifiers = await load_verifiers(db, cipher, "fb-acme")
    assert left == ["fb", "fb-solo", "sf"]
    assert verifiers == []
    pending = await queue.jobs(status=JobStatus.PENDING)
    assert [(j.tenant, j.key) for j in pending] == [("default", "k1")]
