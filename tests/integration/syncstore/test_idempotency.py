from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.store.idempotency import CreateRef, LedgerState, begin_create, complete_create
from freshforce.store.scope import Scope

ACME = Scope("acme", "clients")
ACCOUNT_FOR_42 = CreateRef("salesforce", "Account", "42")


async def test_a_create_is_pending_until_completed_and_found_again(
    store_engine: AsyncEngine,
) -> None:
    async with store_engine.begin() as db:
        entry, new = await begin_create(db, ACME, ACCOUNT_FOR_42)
    assert new
    assert (entry.state, entry.remote_id, entry.ref) == (LedgerState.PENDING, None, ACCOUNT_FOR_42)
    # The call failed ambiguously: the retry learns that an earlier attempt began it.
    async with store_engine.begin() as db:
        again, new = await begin_create(db, ACME, ACCOUNT_FOR_42)
    assert not new
    assert again.id == entry.id
    assert again.state is LedgerState.PENDING
    async with store_engine.begin() as db:
        done = await complete_create(db, "acme", ACCOUNT_FOR_42, "001000000000001AAA")
        adopted, new = await begin_create(db, ACME, ACCOUNT_FOR_42)
    assert done is not None
    assert done.state is LedgerState.DONE
    assert not new
    assert (adopted.state, adopted.remote_id) == (LedgerState.DONE, "001000000000001AAA")


async def test_references_are_per_tenant_and_target(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        await begin_create(db, ACME, ACCOUNT_FOR_42)
        _, other_tenant = await begin_create(db, Scope("globex", "clients"), ACCOUNT_FOR_42)
        _, other_object = await begin_create(db, ACME, CreateRef("freshbooks", "client", "42"))
        never_begun = await complete_create(
            db, "acme", CreateRef("salesforce", "Account", "7"), "x"
        )
    assert other_tenant
    assert other_object
    assert never_begun is None
