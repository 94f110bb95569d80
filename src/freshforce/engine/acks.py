"""Group commit of settlements: the outcomes of many batches, committed in one transaction.

A runner whose batch has ended hands its settlements (outcomes, effects, acks) over and waits.
The first runner to finish starts a flush; the runners finishing while it commits wait for the
next one, so a group is whatever piled up during one commit and no settlement waits on a timer.
Each job in the group stays fenced on its own (``JobQueue.settle``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from freshforce.engine.queue import EffectFailed, JobQueue, Settlement

__all__ = ["GroupCommit"]


@dataclass(frozen=True)
class _Waiting:
    settlements: Sequence[Settlement]
    done: asyncio.Future[dict[int, str]]


class GroupCommit:
    """Commits ``worker``'s settlements through ``queue``, one transaction per pile-up."""

    def __init__(self, queue: JobQueue, worker: str, on_effect_error: EffectFailed) -> None:
        self.queue = queue
        self.worker = worker
        self.on_effect_error = on_effect_error
        self._waiting: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, settlements: Sequence[Settlement]) -> asyncio.Future[dict[int, str]]:
        """Hand settlements over; the future gives job id → outcome committed (or lost_lease).

        The future raises the store's error when the group's transaction failed.
        """
        done: asyncio.Future[dict[int, str]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(settlements, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return done

    async def close(self) -> None:
        """Wait for the settlements already handed over to be committed."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher

    async def _flush(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                ended = await self.queue.settle(
                    self.worker,
                    [s for w in group for s in w.settlements],
                    on_effect_error=self.on_effect_error,
                )
            except Exception as exc:  # noqa: BLE001 - handed to every runner waiting on the group
                for w in group:
                    if not w.done.done():
                        w.done.set_exception(exc)
                continue
            except asyncio.CancelledError:
                for w in [*group, *self._waiting]:
                    w.done.cancel()
                raise
            for w in group:
                if not w.done.done():
                    w.done.set_result({s.job.id: ended[s.job.id] for s in w.settlements})
