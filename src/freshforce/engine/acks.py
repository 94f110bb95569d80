"""Group commit of acks: the jobs whose handlers made no local writes, acked many per transaction.

A runner whose handler left its connection untouched has nothing of its own to commit, so its
ack can share a transaction with the acks of the runners that finished at the same moment. The
first runner to finish starts a flush; the runners finishing while it commits wait for the next
one, so a batch is whatever piled up during one commit and no ack waits on a timer. A handler
that wrote through its connection still acks in that connection's transaction (``JobQueue.
complete``), so its effects and its ack commit together.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from freshforce.engine.queue import Job, JobQueue

__all__ = ["AckBatcher"]


@dataclass(frozen=True)
class _Ack:
    job: Job
    started_at: datetime
    outcome: str
    done: asyncio.Future[bool]


class AckBatcher:
    """Acks ``worker``'s effect-free jobs through ``queue``, one transaction per pile-up."""

    def __init__(self, queue: JobQueue, worker: str) -> None:
        self.queue = queue
        self.worker = worker
        self._waiting: list[_Ack] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, job: Job, *, started_at: datetime, outcome: str) -> asyncio.Future[bool]:
        """Hand over ``job``'s ack (done or skipped); the future says False if the lease was lost.

        The future raises the store's error when the batch's transaction failed.
        """
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Ack(job, started_at, outcome, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return done

    async def close(self) -> None:
        """Wait for the acks already handed over to be committed."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                acked = await self.queue.complete_many(
                    self.worker, [(a.job, a.started_at, a.outcome) for a in batch]
                )
            except Exception as exc:  # noqa: BLE001 - handed to every runner waiting on the batch
                for a in batch:
                    if not a.done.done():
                        a.done.set_exception(exc)
                continue
            except asyncio.CancelledError:
                for a in [*batch, *self._waiting]:
                    a.done.cancel()
                raise
            for a in batch:
                if not a.done.done():
                    a.done.set_result(a.job.id in acked)
