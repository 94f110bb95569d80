"""Changes reach the flow the way they do in service: a signed webhook, or a poller's tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn

from freshforce.intake import PollTarget
from freshforce.web import create_app

from .conftest import World


class _Live:
    """The web app (with its webhook route) on a real socket, for the sandbox to deliver to."""

    def __init__(self, world: World) -> None:
        import socket  # noqa: PLC0415

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        app = create_app(
            world.engine, settings=world.runtime.settings, transport=world.runtime.transport
        )
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task
        self.sock.close()


@pytest.fixture
async def live(world: World) -> AsyncIterator[str]:
    server = _Live(world)
    for _ in range(500):
        if server.server.started:
            break
        await asyncio.sleep(0.01)
    yield server.url
    await server.stop()


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(1500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_freshbooks_edit_arrives_by_webhook_and_reaches_salesforce(
    world: World, live: str
) -> None:
    fb = (await world.runtime.pair("default")).freshbooks
    uri = f"{live}/webhooks/freshbooks/fb-main"
    callbacks = [
        await fb.register_callback(event, uri) for event in ("client.create", "client.update")
    ]

    async def verified() -> bool:
        found = {c.id: c.verified for c in await fb.list_callbacks()}
        return all(found.get(c.id) for c in callbacks)

    await _until(verified, "the callbacks to be verified")
    fb_id = await world.fb_create(organization="Hooked Ltd", lname="Webb")

    async def queued() -> bool:
        return bool(await world.queue().jobs())

    await _until(queued, "the webhook's job")
    await world.sync()  # nothing enqueued by hand: the webhook did it
    [account] = await world.soql(
        f"SELECT Id, Name FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    assert account["Name"] == "Hooked Ltd"


async def test_a_lost_webhook_is_caught_by_the_poller(world: World) -> None:
    fb_id = await world.fb_create(organization="Polled Co", lname="Late")  # no callback: lost
    poller = await world.runtime.freshbooks_poller("fb-main")
    result = await poller.poll("clients")
    assert result is not None
    await world.sync()
    assert len(await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )) == 1  # fmt: skip


async def test_a_salesforce_edit_found_by_the_poller_reaches_freshbooks(world: World) -> None:
    fb_id = await world.fb_create(organization="Modstamp Inc", lname="Stamp")
    await world.sync(f"freshbooks/client/{fb_id}")
    [account] = await world.soql(
        f"SELECT Id FROM Account WHERE FreshBooks_Client_Id__c = '{fb_id}'"  # noqa: S608
    )
    await world.sf_update(account["Id"], BillingCity="Halifax")
    poller = await world.runtime.salesforce_poller("sf-main")
    assert await poller.poll(PollTarget("Account", "clients")) is not None
    await world.sync()
    assert (await world.fb_get(fb_id))["p_city"] == "Halifax"
