"""A garbage or truncated change event on the wire: a clear error, the replay position kept.

The sandbox sends another payload in place of one event (``PubSubControls.corrupt``). The
subscriber stops with an error naming the event's replay id, stores no event or job for it and
does not move its cursor past it; once the event arrives intact, it is processed.
"""

import asyncio
import base64

import pytest
from test_sf_cdc import _true, cdc, eventually, running, stopped

from freshforce.connectors.salesforce.cdc_decode import UndecodableEventError
from freshforce.sandbox.salesforce.pubsub.replay import encode_replay_id
from freshforce.store.cursors import load_cursor

__all__ = ["cdc"]  # the fixture, shared with test_sf_cdc


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
async def test_an_undecodable_event_stops_the_stream_without_passing_it(cdc, damage: str) -> None:
    sub = await cdc.subscriber()
    stop, task = await running(sub)
    first = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Before"})
    await eventually(lambda: _true(sub.stats.events >= 1))
    await stopped(stop, task)
    async with cdc.engine.connect() as conn:
        kept = await load_cursor(conn, "sf-1", sub.stream)
    assert kept is not None

    log = cdc.sf.sandbox.state.changes
    second = await cdc.user_write("POST", "/sobjects/Account/", {"Name": "Broken"})
    replay = log.latest_replay_id()
    event = cdc.runner.service._registry.topic("/data/AccountChangeEvent").since(replay - 1, 1)[0]
    payload = bytes(event.event.payload)
    cdc.runner.controls.corrupt[replay] = (
        payload[: len(payload) // 2] if damage == "truncated" else b"\xff\x00garbage\x13\x37"
    )

    broken = await cdc.subscriber()
    task = asyncio.create_task(broken.run(asyncio.Event()))
    with pytest.raises(UndecodableEventError) as caught:
        await asyncio.wait_for(task, 10)
    assert base64.b64encode(encode_replay_id(replay)).decode() in str(caught.value)
    async with cdc.engine.connect() as conn:
        assert await load_cursor(conn, "sf-1", broken.stream) == kept  # not moved past it
    assert await cdc.job_keys() == {f"salesforce/Account/{first['id']}"}

    del cdc.runner.controls.corrupt[replay]  # the event arrives intact again
    healed = await cdc.subscriber()
    stop, task = await running(healed)
    await eventually(lambda: _true(healed.stats.events >= 1))
    await stopped(stop, task)
    assert await cdc.job_keys() == {
        f"salesforce/Account/{first['id']}",
        f"salesforce/Account/{second['id']}",
    }
