"""A service starting with many tenants registers their FreshBooks callbacks a few at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from freshforce.service import intake


async def test_callback_registrations_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    running = peak = 0

    async def register(_intake: Any, _url: str, _wait: float) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    monkeypatch.setattr(intake, "_register_under_lease", register)
    gate = asyncio.Semaphore(3)
    await asyncio.gather(
        *(intake._register_webhooks(None, "http://x", 1.0, gate) for _ in range(40))  # type: ignore[arg-type]
    )
    assert peak == 3
    peak = 0
    await asyncio.gather(
        *(intake._register_webhooks(None, "http://x", 1.0, None) for _ in range(5))
    )  # type: ignore[arg-type]
    assert peak == 5  # without a gate, all at once
