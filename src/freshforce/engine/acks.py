"""Group commit of settlements: the outcomes of many batches, committed in one transaction.

A runner whose batch has ended hands its settlements (outcomes, effects, acks) over and waits.
The first runner to finish starts a flush; the runners finishing while it commits wait for the
next one, so a group is whatever piled up during one commit and no settlement waits on a timer.
Each job in the group stays fenced on its own (``JobQueue.settle``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from freshforce.engine.queue import EffectFailed, JobQueue, Settlement

__all__ = ["Committed", "GroupCommit"]


# Told how a group's commit ended: job id → outcome committed (or lost_lease), or the store's
# error when the group's transaction failed (then the mapping is empty).
Committed = Callable[[dict[int, str], BaseException | None], None]


@dataclass(frozen=True)
class _Waiting:
    settlements: Sequence[Settlement]
    done: Committed


class GroupCommit:
    """Commits ``worker``'s settlements through ``queue``, one transaction per pile-up."""

    def __init__(self, queue: JobQueue, worker: str, on_effect_error: EffectFailed) -> None:
        self.queue = queue
        self.worker = worker
        self.on_effect_error = on_effect_error
        self._waiting: list[_Waiting] = []
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, settlements: Sequence[Settlement], done: Committed) -> None:
        """Hand settlements over; ``done`` is called once their group's commit has ended.

        It is called from the group commit's own task, with job id → outcome committed (or
        lost_lease), or with the store's error when the group's transaction failed (or a
        ``CancelledError`` when the commit was cancelled). No future per submission: the
        runners of a worker hand over one small batch each, many times a second.
        """
        self._waiting.append(_Waiting(settlements, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

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
                    _tell(w, {}, exc)
                continue
            except asyncio.CancelledError as exc:
                for w in [*group, *self._waiting]:
                    _tell(w, {}, exc)
                self._waiting = []
                raise
            for w in group:
                _tell(w, {s.job.id: ended[s.job.id] for s in w.settlements}, None)


def _tell(waiting: _Waiting, ended: dict[int, str], error: BaseException | None) -> None:
    """Call one ``done``; an error in it goes to the loop's handler (as a callback's would)."""
    try:
        waiting.done(ended, error)
    except Exception as exc:  # noqa: BLE001 - one runner's bookkeeping; the others go on
        asyncio.get_running_loop().call_exception_handler(
            {"message": "group commit: a done callback raised", "exception": exc}
        )
