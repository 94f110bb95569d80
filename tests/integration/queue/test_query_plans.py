"""The queue's hot statements find their rows through their indexes, also as generic plans.

asyncpg prepares every statement, and PostgreSQL plans a prepared statement generically after
its fifth run. A generic plan cannot prove a partial index's predicate from ``status = $1``, so
the pending-merge would scan every pending row. Each test records the statements the queue
really sends, then asks the database for their plan: on PostgreSQL with ``plan_cache_mode =
force_generic_plan`` (``PREPARE`` and ``EXPLAIN EXECUTE``), on SQLite ``EXPLAIN QUERY PLAN``.
"""

from __future__ import annotations

import itertools
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
CLAIM_PREFIX = {"postgresql": "WITH RECURSIVE head", "sqlite": "WITH candidates"}


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


async def plan_of(
    engine: AsyncEngine, statement: str, parameters: Sequence[Any], *, mode: str = "generic"
) -> str:
    """Return the plan the database would run ``statement`` with, generic on PostgreSQL.

    ``mode="custom"`` asks PostgreSQL for the plan made for these very values instead (what a
    prepared statement runs with for its first five executions).
    """
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(parameters))
            return "\n".join(str(row[-1]) for row in rows)
        await conn.exec_driver_sql(f"SET plan_cache_mode = force_{mode}_plan")
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
    """No read of every row of jobs. A walk of the running index is allowed: it holds the
    running jobs only, as many as the leases held (the check for expired leases)."""
    full_scan = "Seq Scan on jobs" if engine.dialect.name == "postgresql" else "SCAN jobs"
    assert full_scan not in plan.replace(f"SCAN jobs USING INDEX {RUNNING_INDEX}", ""), plan


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
    # PostgreSQL: the survey and the claim are one statement; SQLite: the claim follows it.
    statement, parameters = one(sent, CLAIM_PREFIX[backlog.engine.dialect.name])
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


# 30,000 pending rows: enough that PostgreSQL, on a table never analysed, estimates a few of them
# only (fewer than a claim's LIMIT) and would fetch and sort them all for a constant LIMIT.
_FILL = {
    "postgresql": (
        "INSERT INTO jobs (tenant, flow, key, status, priority, hints, attempts, max_attempts, "
        "run_at, created_at, updated_at) "
        "SELECT 'default', 'clients', 'b' || g, 'pending', 0, '[]', 0, 10, now(), now(), now() "
        "FROM generate_series(1, 30000) AS g"
    ),
    "sqlite": (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
        "WHERE n < 30000) "
        "INSERT INTO jobs (tenant, flow, key, status, priority, hints, attempts, max_attempts, "
        "run_at, created_at, updated_at) "
        "SELECT 'default', 'clients', 'b' || n, 'pending', 0, '[]', 0, 10, "
        "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 second'), "
        "strftime('%Y-%m-%d %H:%M:%f000', 'now'), strftime('%Y-%m-%d %H:%M:%f000', 'now') FROM g"
    ),
}


@pytest.fixture
async def large_backlog(queue: JobQueue) -> JobQueue:
    """A queue with a backlog filled in one statement and never analysed (autovacuum off)."""
    dialect = queue.engine.dialect.name
    async with queue.engine.begin() as conn:
        if dialect == "postgresql":
            await conn.exec_driver_sql("ALTER TABLE jobs SET (autovacuum_enabled = false)")
        await conn.exec_driver_sql(_FILL[dialect])
    return queue


def assert_walks_the_claim_order(engine: AsyncEngine, plan: str) -> None:
    """The head of the claim order is read by walking its index, never fetched whole and sorted."""
    assert CLAIM_INDEX in plan, plan
    # SQLite walks the pending index in tenant order for the first tenant, stopping at LIMIT 1.
    assert_scans_no_table(engine, plan.replace(f"SCAN jobs USING INDEX {PENDING_INDEX}", ""))
    if engine.dialect.name == "postgresql":
        assert "Bitmap" not in plan, plan
        # The only sort allowed is the claim's per-key ranking of its few candidates.
        sorts = [line for line in plan.splitlines() if "Sort Key:" in line]
        assert not any("priority" in line.split("Sort Key:")[1].split(",")[0] for line in sorts), (
            plan
        )
    else:
        # A temporary B-tree may order the claim's few candidates for the per-key ranking,
        # never the rows read from jobs.
        lines = plan.splitlines()
        for before, line in itertools.pairwise(lines):
            assert not ("TEMP B-TREE" in line and "jobs" in before), plan


@pytest.mark.parametrize("mode", ["custom", "generic"])
async def test_on_a_large_unanalysed_backlog_the_claim_walks_the_claim_order_index(
    large_backlog: JobQueue, mode: str
) -> None:
    """Whatever the statistics, the claim and its head read walk ix_jobs_claim_order."""
    if mode == "generic" and not large_backlog.is_postgres:
        pytest.skip("SQLite plans with the bound values: only PostgreSQL has generic plans")
    async with recorded(large_backlog.engine) as sent:
        assert len(await large_backlog.claim("w", 10)) == 10
    dialect = large_backlog.engine.dialect.name
    statements = [one(sent, "WITH RECURSIVE head")]
    if dialect == "sqlite":
        statements.append(one(sent, CLAIM_PREFIX[dialect]))
    for statement, parameters in statements:
        plan = await plan_of(large_backlog.engine, statement, parameters, mode=mode)
        assert_walks_the_claim_order(large_backlog.engine, plan)


async def test_a_constant_limit_on_that_backlog_is_planned_as_a_fetch_and_sort(
    large_backlog: JobQueue,
) -> None:
    """The control: the head read with a LIMIT the planner can read fetches every pending job."""
    if not large_backlog.is_postgres:
        pytest.skip("SQLite plans without statistics: the shape of the LIMIT does not matter")
    head = (
        "SELECT tenant FROM jobs WHERE status = 'pending' AND run_at <= now() "
        "ORDER BY status, priority, run_at, id LIMIT 40"
    )
    plan = await plan_of(large_backlog.engine, head, [], mode="custom")
    assert "Bitmap Heap Scan on jobs" in plan, plan
    assert "Sort Key: priority" in plan, plan
