"""The unit of work's contract: a flow runs a batch of claimed jobs and returns their outcomes.

A ``Flow`` is handed up to ``batch_size`` claimed jobs of its own name. It reads what it needs
through ``ctx.read()`` (no write lock is held), calls the remote systems, and returns one
``Outcome`` per job: done, skipped, retry or fail, each with the local ``effects`` to record.
The engine then commits the effects and the acks of the whole batch in one short transaction,
fenced by (job id, attempt, holder): a job whose lease was lost records nothing, and one job's
failing effect rolls back only that job's effects. A flow that raises fails every job of its
batch, so a flow catches per-job errors itself and returns ``Outcome.retry``/``Outcome.fail``.

The single-job form is the trivial case: ``async def handle(job, ctx) -> Outcome | None``
(``None`` is done, raising is a failure), adapted by ``JobFlow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.queue import Job

__all__ = [
    "Effect",
    "Flow",
    "FlowContext",
    "JobFlow",
    "JobHandler",
    "Outcome",
    "Result",
    "as_flow",
]

# A local write to record with the job's ack, given the engine's commit connection.
Effect = Callable[[AsyncConnection], Awaitable[None]]


class Result(StrEnum):
    """How a job's attempt ended, as its flow reports it."""

    DONE = "done"
    SKIPPED = "skipped"  # nothing to do
    RETRY = "retry"  # try again later; the retry policy picks when (or gives up)
    FAIL = "fail"  # will not succeed by waiting: dead letter now


@dataclass(frozen=True)
class Outcome:
    """One job's result and the local effects to commit with it (only while its lease holds)."""

    job_id: int
    result: Result
    effects: tuple[Effect, ...] = ()
    error: BaseException | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        failing = self.result in {Result.RETRY, Result.FAIL}
        if failing != (self.error is not None):
            msg = f"job {self.job_id}: a {self.result} outcome needs an error exactly when failing"
            raise ValueError(msg)

    @classmethod
    def done(cls, job: Job, *effects: Effect) -> Outcome:
        return cls(job.id, Result.DONE, effects)

    @classmethod
    def skipped(cls, job: Job, *effects: Effect) -> Outcome:
        return cls(job.id, Result.SKIPPED, effects)

    @classmethod
    def retry(cls, job: Job, error: BaseException, *effects: Effect) -> Outcome:
        return cls(job.id, Result.RETRY, effects, error)

    @classmethod
    def fail(cls, job: Job, error: BaseException, *effects: Effect) -> Outcome:
        return cls(job.id, Result.FAIL, effects, error)


class FlowContext(Protocol):
    """What the engine lends a flow while it runs a batch."""

    @property
    def worker(self) -> str:
        """The name of the worker holding the batch's leases."""
        ...

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """Open a read-only transaction on the store; it never holds the write lock."""
        ...


@runtime_checkable
class Flow(Protocol):
    """Business rules for one kind of job: ``name`` is the jobs' flow."""

    @property
    def name(self) -> str: ...

    @property
    def batch_size(self) -> int: ...

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> Sequence[Outcome]:
        """Work on ``jobs`` (all of this flow) and return one outcome per job."""
        ...


JobHandler = Callable[[Job, FlowContext], Awaitable[Outcome | None]]


@dataclass(frozen=True)
class JobFlow:
    """A flow that runs one job at a time through a single-job handler."""

    name: str
    handler: JobHandler
    batch_size: int = 1

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for job in jobs:
            # bind and reset by tokens: what bound_contextvars does, without copying the
            # whole context twice per job.
            tokens = structlog.contextvars.bind_contextvars(
                job_id=job.id, flow=job.flow, record_key=job.key, attempt=job.attempt
            )
            try:
                outcome = await self.handler(job, ctx)
            except Exception as exc:  # noqa: BLE001 - this job's failure, classified by the engine
                outcome = Outcome.retry(job, exc)
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
            outcomes.append(outcome or Outcome.done(job))
        return outcomes


def as_flow(name: str, flow: Flow | JobHandler) -> Flow:
    """Return ``flow`` itself, or a single-job handler adapted as the flow ``name``."""
    if isinstance(flow, Flow):
        if flow.name != name:
            msg = f"flow registered as {name!r} is named {flow.name!r}"
            raise ValueError(msg)
        return flow
    return JobFlow(name, flow)
