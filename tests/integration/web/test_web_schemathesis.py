"""Schemathesis against the dashboard's OpenAPI spec: no generated call makes a 5xx.

Cases are generated from the spec the app serves and sent in process through the ASGI
transport, as a logged-in operator (bearer token) on a store holding a dead letter, a conflict
and an audit row, so the routes' found paths are walked too, on SQLite and PostgreSQL. The app
and its engine live on one event loop in a thread of their own; the test sends each case there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from web_support import PASSWORD_HASH, FakeClock

from freshforce.engine.queue import Failure, JobQueue, Settlement
from freshforce.settings import Settings
from freshforce.store.audit import record_audit
from freshforce.store.conflicts import Parked, park_conflict
from freshforce.store.engine import create_engine
from freshforce.store.linking import NewLink, create_links
from freshforce.store.migrate import upgrade
from freshforce.store.scope import Scope
from freshforce.store.users import Role, add_user, set_api_token
from freshforce.web import create_app
from freshforce.web.passwords import new_api_token, token_hash

T = TypeVar("T")
BASE = "http://testserver"
EXAMPLES = 15  # per operation: the whole run stays well under a minute on both backends


@dataclass
class Served:
    """The app on its own loop, with a client and an operator's bearer token."""

    loop: asyncio.AbstractEventLoop
    app: Any  # Any: the FastAPI app
    client: httpx.AsyncClient
    token: str

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


async def _seed(engine: Any, clock: FakeClock) -> str:
    queue = JobQueue(engine, clock=clock)
    token = new_api_token()
    async with engine.begin() as db:
        await add_user(
            db, username="olga", password_hash=PASSWORD_HASH, role=Role.OPERATOR, now=clock()
        )
        await set_api_token(db, username="olga", token_hash=token_hash(token), now=clock())
        [link] = await create_links(db, Scope("default", "clients"), [NewLink("1", "001A")])
        assert link is not None
        parked = Parked(link.id, "email", "a", "b", "c")
        await park_conflict(db, Scope("default", "clients"), parked)
        await record_audit(db, actor="olga", action="x.y", target="dead_letter:1", now=clock())
        await queue.enqueue(db, "clients", "freshbooks/client/1", ["h1"])
    [job] = await queue.claim("w1", 1)
    failure = Failure("PermanentError", "bad")
    await queue.settle("w1", [Settlement(job, "dead", 0.0, failure=failure)])
    return token


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    async def make_engine() -> Any:
        await upgrade(database_url)
        return create_engine(database_url)

    engine = run(make_engine())
    clock = FakeClock()
    token = run(_seed(engine, clock))
    settings_ = Settings(data_dir=tmp_path, web_session_key="k" * 40, alert_interval_seconds=0)
    app = create_app(engine, settings=settings_, clock=clock)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=BASE
    )
    try:
        yield Served(loop, app, client, token)
    finally:
        run(client.aclose())
        run(engine.dispose())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _send(served: Served, case: Any) -> None:
    auth = {"Authorization": f"Bearer {served.token}"}
    kwargs = case.as_transport_kwargs(base_url=BASE, headers=auth)
    request = served.client.build_request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        cookies=kwargs.get("cookies"),
        json=kwargs.get("json"),
        content=kwargs.get("content") or kwargs.get("data"),
    )
    response = served.run(served.client.send(request))
    case.validate_response(response, checks=[not_a_server_error])


def test_no_call_makes_a_server_error(served: Served) -> None:
    spec = schemathesis.openapi.from_dict(served.app.openapi())
    operations = [result.ok() for result in spec.get_all_operations()]
    assert len(operations) > 20  # the whole API, not an empty spec
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure here reproduces
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            _send(served, case)

        check()
