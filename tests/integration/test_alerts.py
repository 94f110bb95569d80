"""Alerts in the store: one open per problem, resolved with one recovery notice, raised anew."""

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from freshforce.store.alerts import AlertKind, list_alerts, raise_alert, resolve_alerts
from freshforce.store.connections import (
    ConnectionStatus,
    NewConnection,
    Tokens,
    load_connection,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FAILED, RECOVERED = AlertKind.CONNECTION_AUTH_FAILED, AlertKind.CONNECTION_AUTH_RECOVERED


async def _raise(
    db: AsyncConnection, connection_id: str = "fb-1", at: datetime = NOW
) -> int | None:
    return await raise_alert(
        db,
        kind=FAILED,
        message=f"{connection_id}: refused",
        connection_id=connection_id,
        now=at,
    )


async def _resolve(db: AsyncConnection, at: datetime, connection_id: str = "fb-1") -> int | None:
    return await resolve_alerts(
        db,
        kind=FAILED,
        connection_id=connection_id,
        notice_kind=RECOVERED,
        message=f"{connection_id}: back",
        now=at,
    )


async def test_resolving_closes_the_open_alert_once_and_the_next_incident_alerts(
    store_engine: AsyncEngine,
) -> None:
    later = NOW + timedelta(minutes=5)
    async with store_engine.begin() as db:
        first = await _raise(db)
        assert await _raise(db) is None  # still open: not repeated
        other = await _raise(db, "fb-2")
        notice = await _resolve(db, later)
        assert await _resolve(db, later) is None  # nothing open any more: no second notice
        second = await _raise(db, at=later)
    async with store_engine.connect() as db:
        mine = await list_alerts(db, connection_id="fb-1")
        theirs = await list_alerts(db, connection_id="fb-2")
    assert [(a.id, a.kind, a.severity) for a in mine] == [
        (first, FAILED, "error"),
        (notice, RECOVERED, "info"),
        (second, FAILED, "error"),
    ]
    assert [a.resolved_at for a in mine] == [later, later, None]
    assert mine[1].message == f"fb-1: back (resolves alert {first})"
    assert [(a.id, a.resolved_at) for a in theirs] == [(other, None)]  # another connection's


async def test_two_resolvers_at_once_record_one_notice(store_engine: AsyncEngine) -> None:
    async with store_engine.begin() as db:
        await _raise(db)
    async with store_engine.connect() as first, store_engine.connect() as second:
        await first.begin()
        assert await _resolve(first, NOW) is not None
        racing = asyncio.create_task(_resolve(second, NOW))
        await asyncio.sleep(0.2)  # let the second resolver reach the lock the first one holds
        await first.commit()
        assert await racing is None
        await second.commit()
    async with store_engine.connect() as db:
        assert [a.kind for a in await list_alerts(db)] == [FAILED, RECOVERED]


async def test_reconnecting_resolves_the_auth_alert_and_a_stale_pause_does_nothing(
    store_engine: AsyncEngine,
) -> None:
    cipher = TokenCipher([SecretStr(new_key())])
    tokens = Tokens(SecretStr("at"), SecretStr("rt"), NOW + timedelta(hours=12))
    new = NewConnection("fb-1", "freshbooks", tokens)
    async with store_engine.begin() as db:
        version = await save_connection(db, cipher, new, now=NOW)
        await set_status(db, "fb-1", ConnectionStatus.PAUSED, reason="refused", now=NOW)
        alert = await _raise(db)
    later = NOW + timedelta(hours=1)
    async with store_engine.begin() as db:
        assert await save_connection(db, cipher, new, now=later) == version + 1
        # a refusal of the grant from before the reconnect must not pause it again
        assert not await set_status(
            db, "fb-1", ConnectionStatus.PAUSED, now=later, expected_version=version
        )
    async with store_engine.connect() as db:
        alerts = await list_alerts(db, connection_id="fb-1")
        stored = await load_connection(db, cipher, "fb-1")
    assert stored is not None
    assert stored.status is ConnectionStatus.ACTIVE
    assert [(a.kind, a.resolved_at) for a in alerts] == [(FAILED, later), (RECOVERED, later)]
    assert f"resolves alert {alert}" in alerts[1].message
    assert "freshbooks connection fb-1: reconnected" in alerts[1].message
