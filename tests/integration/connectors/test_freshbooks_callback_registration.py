"""Registering the product's FreshBooks callbacks against public_url: once, and verified."""

from __future__ import annotations

import pytest

from freshforce.errors import ConfigError
from freshforce.intake import (
    CALLBACK_EVENTS,
    CallbackAction,
    register_callbacks,
    webhook_uri,
)

from .conftest import CONNECTION, FbWorld
from .live_web import LiveWeb


async def test_registering_twice_leaves_one_verified_callback_per_event(
    fb_world: FbWorld, live_web: LiveWeb
) -> None:
    client = await fb_world.client()
    elsewhere = await client.register_callback("client", "http://127.0.0.1:9/other-install")
    await live_web.start()

    first = await register_callbacks(client, live_web.url, CONNECTION, wait_seconds=20)
    second = await register_callbacks(client, live_web.url + "/", CONNECTION, wait_seconds=20)

    uri = webhook_uri(live_web.url, CONNECTION)
    mine = [(c.event, c.verified) for c in await client.list_callbacks() if c.uri == uri]
    assert sorted(mine) == [(event, True) for event in sorted(CALLBACK_EVENTS)]
    assert [r.action for r in first] == [CallbackAction.CREATED] * len(CALLBACK_EVENTS)
    assert [r.action for r in second] == [CallbackAction.KEPT] * len(CALLBACK_EVENTS)
    assert [r.callback_id for r in second] == [r.callback_id for r in first]
    assert elsewhere.id in {c.id for c in await client.list_callbacks()}


async def test_a_callback_registered_while_the_app_was_down_is_verified_on_the_next_run(
    fb_world: FbWorld, live_web: LiveWeb
) -> None:
    client = await fb_world.client()
    down = await register_callbacks(client, live_web.url, CONNECTION, events=("payment",))
    assert [(r.action, r.verified) for r in down] == [(CallbackAction.CREATED, False)]

    await live_web.start()
    again = await register_callbacks(
        client, live_web.url, CONNECTION, events=("payment",), wait_seconds=20
    )

    assert [(r.callback_id, r.action, r.verified) for r in again] == [
        (down[0].callback_id, CallbackAction.KEPT, True)
    ]


async def test_an_empty_public_url_is_a_clear_error(fb_world: FbWorld) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        await register_callbacks(await fb_world.client(), "", CONNECTION)
