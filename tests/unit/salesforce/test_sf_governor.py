import asyncio
from datetime import UTC, datetime

import pytest

from freshforce.connectors.salesforce.governor import (
    Governor,
    GovernorConfig,
    Priority,
    parse_limit_info,
)
from freshforce.errors import TransientError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ORG = "00D000000000001EAA"


def governor(reserve: int = 100, step: float = 0.1) -> Governor:
    return Governor(GovernorConfig(reserve=reserve, step_fraction=step), clock=lambda: NOW)


def test_parses_the_header_variants() -> None:
    assert parse_limit_info("api-usage=18/5000") == (18, 5000)
    assert parse_limit_info("per-app-api-usage=17/250(appName=x); api-usage=19/5000") == (
        19,
        5000,
    )
    assert parse_limit_info("api-usage=3/15000, api-bursts=1/750") == (3, 15000)
    assert parse_limit_info("per-app-api-usage=17/250(appName=x)") is None


async def test_unknown_org_is_admitted() -> None:
    await governor().admit(ORG, Priority.BACKFILL)


async def test_backfill_waits_first_and_payments_last() -> None:
    gov = governor(reserve=100, step=0.1)  # floors on 1000: 100, 200, 300, 400
    gov.observe(ORG, "api-usage=650/1000")  # 350 left
    await gov.admit(ORG, Priority.CLIENTS)
    with pytest.raises(TransientError) as info:
        await gov.admit(ORG, Priority.BACKFILL)
    assert info.value.retry_after == 300.0
    assert "349 calls left" in str(info.value)
    gov.observe(ORG, "api-usage=850/1000")  # 150 left
    await gov.admit(ORG, Priority.PAYMENTS)
    for low in (Priority.INVOICES, Priority.CLIENTS, Priority.BACKFILL):
        with pytest.raises(TransientError):
            await gov.admit(ORG, low)
    gov.observe(ORG, "api-usage=900/1000")  # the reserve: nothing runs
    with pytest.raises(TransientError):
        await gov.admit(ORG, Priority.PAYMENTS)
    snap = gov.snapshot(ORG)
    assert snap.remaining == 100
    assert snap.deferred == {"payments": 1, "invoices": 1, "clients": 1, "backfill": 2}
    assert snap.admitted["payments"] == 1
    assert snap.floors == {"payments": 100, "invoices": 200, "clients": 300, "backfill": 400}


async def test_admission_counts_calls_between_headers() -> None:
    gov = governor(reserve=10, step=0.0)
    gov.observe(ORG, "api-usage=985/1000")  # 15 left, floor 10: five calls fit
    for _ in range(5):
        await gov.admit(ORG, Priority.PAYMENTS)
    with pytest.raises(TransientError):
        await gov.admit(ORG, Priority.PAYMENTS)


async def test_a_waiting_caller_is_let_through_when_figures_improve() -> None:
    gov = governor(reserve=100, step=0.1)
    gov.observe(ORG, "api-usage=900/1000")
    waiting = asyncio.create_task(gov.admit(ORG, Priority.BACKFILL, max_wait=5))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gov.observe(ORG, "api-usage=10/1000")  # the rolling window freed calls
    await asyncio.wait_for(waiting, 1)
    assert gov.snapshot(ORG).admitted["backfill"] == 1


async def test_exhausted_blocks_everything() -> None:
    gov = governor(reserve=0, step=0.0)
    gov.observe(ORG, "api-usage=10/1000")
    gov.exhausted(ORG)
    with pytest.raises(TransientError):
        await gov.admit(ORG, Priority.PAYMENTS)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="reserve"):
        GovernorConfig(reserve=-1)
    with pytest.raises(ValueError, match="step_fraction"):
        GovernorConfig(step_fraction=0.5)
