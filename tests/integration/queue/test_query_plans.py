"""The queue's hot statements find their rows through their indexes, also as generic plans.

asyncpg prepares every statement, and PostgreSQL plans a prepared statement generically after
its fifth run. A generic plan cannot prove a partial index's predicate from ``status = $1``, so
the pending-merge would scan every pending row. Each test records the statements the queue
really sends, then asks the database for their plan: on PostgreSQL with ``plan_cache_mode =
force_generic_plan`` (``PREPARE`` and ``EXPLAIN EXECUTE``), on SQLite ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from freshforce.engine.queue import JobQueue, JobRequest, Settlement
from freshforce.store.schema import jobs

PENDING_INDEX = "uq_jobs_pending_tenant_flow_key"
RUNNING_INDEX = "uq_jobs_running_tenant_key"
CLAIM_INDEX = "ix_jobs_claim_order"
BACKLOG = 2000


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):  # an array parameter (the statements that take arrays)
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    text = value.isoformat() if isinstance(value, datetime) else value
    if not isinstance(text, str):
        text = json.dumps(text)
    return "'" + text.replace("'", "''") + "'"


async def plan_of(engine: AsyncEngine, statement: str, parameters: Sequence[Any]) -> str:
    """Return the plan the database would run ``statement`` with, generic on PostgreSQL."""
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters))
            return "\n".join(str(row[-1]) for row in rows)
        await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(f"PREPARE probe AS {statement}")
        arguments = ", ".join(_literal(p) for p in parameters)
        explain = f"EXPLAIN EXECUTE probe({arguments})" if parameters else "EXPLAIN EXECUTE probe"
        plan = "\n".join((await conn.exec_driver_sql(explain)).scalars())
        await conn.rollback()
        return plan


@asynccontextmanager
async def recorded(engine: AsyncEngine) -> AsyncIterator[list[tuple[str, Sequence[Any]]]]:
    """Record every statement sent to ``engine`` with its (first row of) parameters."""
    sent: list[tuple[str, Sequence[Any]]] = []

    def record(*args: Any) -> None:
        statement, parameters, many = args[2], args[3], args[5]
        sent.append((statement, parameters[0] if many else parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def one(sent: list[tuple[str, Sequence[Any]]], prefix: str) -> tuple[str, Sequence[Any]]:
    # SQLite quotes the column "key"; the prefix is matched without identifier quotes.
    found = [(s, p) for s, p in sent if s.lstrip().replace('"', "").startswith(prefix)]
    assert found, f"no statement starting with {prefix!r} among {[s[:60] for s, _ in sent]}"
    return found[0]


def assert_scans_no_table(engine: AsyncEngine, plan: str) -> None:
    full_scan = "Seq Scan on jobs" if engine.dialect.name == "postgresql" else "SCAN jobs"
    assert full_scan not in plan, plan


def assert_searches_by_key(engine: AsyncEngine, plan: str) -> None:
    """The key is part of the index search, not a filter over every pending job of the flow."""
    if engine.dialect.name == "postgresql":
        searches = [line for line in plan.splitlines() if "Index Cond" in line]
        assert any("(key)" in line for line in searches), plan
    else:
        assert "key=?" in plan, plan


@pytest.fixture
async def backlog(queue: JobQueue) -> JobQueue:
    """A queue with a backlog of pending jobs and a few running ones, never analysed."""
    async with queue.engine.begin() as conn:
        await queue.enqueue_many(conn, [JobRequest("clients", f"k{n}") for n in range(BACKLOG)])
    assert len(await queue.claim("earlier", 20)) == 20
    return queue


@pytest.mark.parametrize("repeats", [1, 3])
async def test_the_pending_merge_finds_its_row_by_the_partial_index(
    backlog: JobQueue, repeats: int
) -> None:
    page = [JobRequest("clients", f"k{500 + n}", ("again",)) for n in range(repeats)]
    async with recorded(backlog.engine) as sent, backlog.engine.begin() as conn:
        await backlog.enqueue_many(conn, [*page, JobRequest("clients", "new")])
    if backlog.is_postgres:
        # One upsert: its conflict arbiter is the pending index, and it reads no other rows.
        statement, parameters = one(sent, "INSERT INTO jobs AS j")
        plan = await plan_of(backlog.engine, statement, parameters)
        assert f"Conflict Arbiter Indexes: {PENDING_INDEX}" in plan, plan
        assert_scans_no_table(backlog.engine, plan)
        return
    statement, parameters = one(sent, "SELECT jobs.id, jobs.key, jobs.hints")
    assert "'pending'" in statement
    plan = await plan_of(backlog.engine, statement, parameters)
    assert PENDING_INDEX in plan, plan
    assert_searches_by_key(backlog.engine, plan)
    assert_scans_no_table(backlog.engine, plan)


async def test_the_claim_survey_reads_the_head_and_the_tenants_by_index(
    backlog: JobQueue,
) -> None:
    async with recorded(backlog.engine) as sent:
        assert len(await backlog.claim("w", 10)) == 10
    statement, parameters = one(sent, "WITH RECURSIVE head")
    plan = await plan_of(backlog.engine, statement, parameters)
    assert CLAIM_INDEX in plan, plan
    assert PENDING_INDEX in plan, plan  # the loose scan of the pending tenants
    # SQLite walks the pending index in tenant order for the first tenant, stopping at LIMIT 1.
    first_tenant = f"SCAN jobs USING INDEX {PENDING_INDEX}"
    assert_scans_no_table(backlog.engine, plan.replace(first_tenant, ""))


async def test_the_ack_reads_no_pending_backlog(backlog: JobQueue) -> None:
    """The ack finds its rows by primary key or among the running jobs (as many as the leases
    held), never by a scan of the table."""
    jobs_held = await backlog.claim("w", 10)
    async with recorded(backlog.engine) as sent:
        done = await backlog.settle("w", [Settlement(j, "done", 0.01) for j in jobs_held])
    assert set(done.values()) == {"done"}
    prefix = "WITH acked AS" if backlog.is_postgres else "UPDATE jobs SET status"
    statement, parameters = one(sent, prefix)
    plan = await plan_of(backlog.engine, statement, parameters)
    if backlog.is_postgres:
        assert "jobs_pkey" in plan or RUNNING_INDEX in plan, plan
    assert_scans_no_table(backlog.engine, plan)


async def test_the_claim_walks_the_claim_order_and_checks_running_keys_by_index(
    backlog: JobQueue,
) -> None:
    async with recorded(backlog.engine) as sent:
        assert len(await backlog.claim("w", 10)) == 10
    statement, parameters = one(sent, "WITH candidates")
    plan = await plan_of(backlog.engine, statement, parameters)
    assert CLAIM_INDEX in plan, plan
    assert RUNNING_INDEX in plan, plan
    assert_scans_no_table(backlog.engine, plan)


async def test_a_requeue_absorbs_its_pending_twin_by_the_partial_index(backlog: JobQueue) -> None:
    [job] = await backlog.claim("w", 1)
    async with backlog.engine.begin() as conn:
        await backlog.enqueue(conn, job.flow, job.key, ["twin"])
    async with recorded(backlog.engine) as sent:
        assert await backlog.release([job], "w") == 1
    statement, parameters = one(sent, "DELETE FROM jobs")
    plan = await plan_of(backlog.engine, statement, parameters)
    assert PENDING_INDEX in plan, plan
    assert_searches_by_key(backlog.engine, plan)
    assert_scans_no_table(backlog.engine, plan)


async def test_a_bound_status_hides_the_partial_index_from_a_generic_plan(
    backlog: JobQueue,
) -> None:
    """The control: the merge as it was, with the status bound, is planned without the index."""
    if not backlog.is_postgres:
        pytest.skip("SQLite plans with the bound values: only PostgreSQL has generic plans")
    bound = (
        sa.select(jobs.c.id)
        .where(
            jobs.c.tenant == "default",
            jobs.c.flow == "clients",
            jobs.c.key == "k500",
            jobs.c.status == "pending",
        )
        .with_for_update()
    )
    async with recorded(backlog.engine) as sent, backlog.engine.begin() as conn:
        await conn.execute(bound)
    statement, parameters = one(sent, "SELECT jobs.id")
    plan = await plan_of(backlog.engine, statement, parameters)
    assert PENDING_INDEX not in plan, plan
