"""The scheduler: runs named periodic tasks until stopped; a failing run is logged, never fatal.

``every(seconds, name, coro_fn)`` registers a task; :meth:`Scheduler.run` runs each in its own
loop: call it, then wait ``seconds`` plus up to ``jitter`` of that again (from the injected
random source, so processes sharing a store spread their polls), then again, until ``stop`` is
set. A task registered while the scheduler runs starts at once (a tenant connected later). A
run never overlaps the previous run of the same task. A run that raises is logged as
``scheduled_task_failed`` and the task runs again at its next tick. On stop, a run in progress
gets ``grace`` seconds to finish, then it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

__all__ = ["Scheduler", "TaskFn"]

TaskFn = Callable[[], Awaitable[object]]
log = structlog.get_logger("freshforce.service.scheduler")


@dataclass
class _Entry:
    name: str
    seconds: float
    fn: TaskFn
    at_start: bool
    offset: float = 0.0
    runs: int = 0
    failures: int = 0


@dataclass
class Scheduler:
    """Named periodic tasks, each in its own loop, all stopped by one event."""

    rng: random.Random
    jitter: float = 0.1  # a fraction of the period added at random to each wait
    grace: float = 5.0  # seconds a run in progress gets to finish once stopped
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _stop: asyncio.Event | None = None  # set while running: tasks added then start at once
    _loops: list[asyncio.Task[None]] = field(default_factory=list)

    def every(
        self,
        seconds: float,
        name: str,
        coro_fn: TaskFn,
        *,
        at_start: bool = True,
        offset: float = 0.0,
    ) -> None:
        """Run ``coro_fn()`` every ``seconds`` (first at once unless ``at_start`` is false).

        ``offset`` delays the first run by that many seconds (tasks of several tenants spread
        over their period instead of all falling due together).
        """
        if seconds <= 0:
            msg = f"scheduled task {name!r}: the period must be > 0 seconds, got {seconds}"
            raise ValueError(msg)
        if name in self._entries:
            msg = f"scheduled task {name!r} is registered already"
            raise ValueError(msg)
        entry = self._entries[name] = _Entry(name, seconds, coro_fn, at_start, max(0.0, offset))
        if self._stop is not None and not self._stop.is_set():
            self._loops.append(asyncio.create_task(self._loop(entry, self._stop), name=name))

    @property
    def names(self) -> list[str]:
        """Return the registered tasks' names, in registration order."""
        return list(self._entries)

    def runs(self, name: str) -> int:
        """Return how many runs of task ``name`` have ended (failed ones included)."""
        return self._entries[name].runs

    def failures(self, name: str) -> int:
        """Return how many runs of task ``name`` raised."""
        return self._entries[name].failures

    async def run(self, stop: asyncio.Event) -> None:
        """Run every task until ``stop`` is set; return once each loop has ended."""
        self._stop = stop
        self._loops = [
            asyncio.create_task(self._loop(entry, stop), name=entry.name)
            for entry in self._entries.values()
        ]
        await stop.wait()
        loops = list(self._loops)
        if not loops:
            return
        _, late = await asyncio.wait(loops, timeout=self.grace)
        for task in late:
            log.warning("scheduled_task_cancelled", task=task.get_name())
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)

    async def _loop(self, entry: _Entry, stop: asyncio.Event) -> None:
        if entry.offset and await _wait(stop, entry.offset):
            return
        if not entry.at_start and await _wait(stop, self._delay(entry)):
            return
        while not stop.is_set():
            await self._once(entry)
            if await _wait(stop, self._delay(entry)):
                return

    async def _once(self, entry: _Entry) -> None:
        try:
            await entry.fn()
        except Exception as exc:  # noqa: BLE001 - one run's failure; the task runs again
            entry.failures += 1
            log.warning(
                "scheduled_task_failed",
                task=entry.name,
                error=type(exc).__name__,
                detail=str(exc)[:300],
                failures=entry.failures,
            )
        finally:
            entry.runs += 1

    def _delay(self, entry: _Entry) -> float:
        return entry.seconds * (1 + self.jitter * self.rng.random())


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop``; say whether it was stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
