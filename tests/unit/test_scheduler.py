"""The scheduler runs each task on its own period, survives failing runs and stops on request."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from structlog.testing import capture_logs

from freshforce.service import Scheduler
from freshforce.service.intake import poll_offset


async def until(check: object, within: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met"
        await asyncio.sleep(0.005)


async def test_tasks_repeat_and_a_failing_run_is_logged_without_stopping_its_task() -> None:
    scheduler = Scheduler(random.Random(1))
    calls: list[str] = []

    async def tick() -> None:
        calls.append("tick")

    async def flaky() -> None:
        calls.append("flaky")
        if calls.count("flaky") == 1:
            raise RuntimeError("remote said no")

    scheduler.every(0.01, "tick", tick)
    scheduler.every(0.01, "flaky", flaky)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(scheduler.run(stop))
        await until(lambda: scheduler.runs("tick") >= 3 and scheduler.runs("flaky") >= 3)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert scheduler.failures("flaky") == 1
    assert scheduler.failures("tick") == 0
    [failed] = [e for e in logs if e["event"] == "scheduled_task_failed"]
    assert (failed["task"], failed["error"], failed["detail"]) == (
        "flaky",
        "RuntimeError",
        "remote said no",
    )
    assert scheduler.names == ["tick", "flaky"]


async def test_a_task_not_at_start_waits_its_period_and_stop_ends_the_wait() -> None:
    scheduler = Scheduler(random.Random(1))
    ran = asyncio.Event()

    async def hourly() -> None:
        ran.set()

    scheduler.every(3600, "hourly", hourly, at_start=False)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert not ran.is_set()
    assert scheduler.runs("hourly") == 0


async def test_a_run_still_going_after_the_grace_is_cancelled() -> None:
    scheduler = Scheduler(random.Random(1), grace=0.05)
    started, finished = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()
        finished.set()

    scheduler.every(1, "stuck", stuck)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.wait_for(started.wait(), 10)
    with capture_logs() as logs:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert not finished.is_set()
    assert [e["task"] for e in logs if e["event"] == "scheduled_task_cancelled"] == ["stuck"]


def test_waits_are_jittered_by_the_injected_random_source() -> None:
    delays = []
    for seed in (1, 1, 2):
        scheduler = Scheduler(random.Random(seed), jitter=0.5)
        scheduler.every(10, "t", lambda: asyncio.sleep(0))
        delays.append(scheduler._delay(scheduler._entries["t"]))
    assert delays[0] == delays[1] != delays[2]
    assert all(10 <= d <= 15 for d in delays)


def test_bad_periods_and_duplicate_names_are_refused() -> None:
    scheduler = Scheduler(random.Random(1))
    scheduler.every(1, "poll", lambda: asyncio.sleep(0))
    with pytest.raises(ValueError, match="'poll' is registered already"):
        scheduler.every(1, "poll", lambda: asyncio.sleep(0))
    with pytest.raises(ValueError, match="must be > 0 seconds"):
        scheduler.every(0, "never", lambda: asyncio.sleep(0))


async def test_a_task_registered_while_running_starts_at_once_and_stops_with_the_rest() -> None:
    scheduler = Scheduler(random.Random(1))
    calls: list[str] = []

    async def late() -> None:
        calls.append("late")

    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.sleep(0.01)
    scheduler.every(0.01, "late", late)
    await until(lambda: scheduler.runs("late") >= 2)
    stop.set()
    await asyncio.wait_for(task, 5)
    runs = scheduler.runs("late")
    await asyncio.sleep(0.05)
    assert scheduler.runs("late") == runs  # its loop ended with the scheduler
    assert calls.count("late") == runs


async def test_an_offset_delays_only_the_first_run_and_tenants_polls_spread() -> None:
    scheduler = Scheduler(random.Random(1))
    scheduler.every(0.01, "now", lambda: asyncio.sleep(0))
    scheduler.every(0.01, "later", lambda: asyncio.sleep(0), offset=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await until(lambda: scheduler.runs("now") >= 3)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert scheduler.runs("later") == 0
    offsets = sorted(poll_offset(i, 60.0) for i in range(10))
    assert offsets[0] == 0.0  # the first tenant polls at once
    assert all(0 <= o < 60 for o in offsets)
    assert min(b - a for a, b in itertools.pairwise(offsets)) > 2  # none fall due together
