"""The outbox drain: announced facts published to Salesforce as platform events.

One process drains a tenant's outbox at a time (the lease ``freshforce/outbox/<tenant>``). Each
run (every ``DRAIN_SECONDS`` while ``platform_event_publish`` names something) first copies
dead letters new since its cursor into the outbox as ``FreshForce_Sync_Error__e`` facts (rows and
cursor in one transaction), then publishes the unpublished rows in order with the Pub/Sub API's
``Publish`` and marks each row published with its replay id, or failed with the server's error
(it stays due and is tried again next run). A row is written in the transaction of its fact, so
a process that dies between the write and the publish leaves the row for the next run: every
fact is published, and its ``Event_Key__c`` names it for subscribers. Only a crash after the
server accepted a row and before the row is marked can send it twice; a subscriber that must
see each fact once drops repeated ``Event_Key__c`` values.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import grpc
import structlog

from freshforce.errors import FreshforceError
from freshforce.flows.announce import EVENTS
from freshforce.intake.lease import LeaseKeeper
from freshforce.intake.stream import Stream
from freshforce.store.cursors import load_cursor, save_cursor
from freshforce.store.outbox import (
    LetterFact,
    add_fact,
    dead_letters_after,
    mark_failed,
    mark_published,
    unpublished,
)

if TYPE_CHECKING:
    from freshforce.connectors.salesforce.pubsub import PubSubClient
    from freshforce.runtime import Runtime
    from freshforce.store.outbox import OutboxRow

__all__ = ["DRAIN_SECONDS", "OutboxDrain"]

DRAIN_SECONDS = 5.0
_CURSOR = ("freshforce", "outbox/dead_letters")
_BATCH = 100
_LEASE_TTL = timedelta(seconds=60)  # one drain per tenant among the processes of one store
_REASON_LENGTH = 255  # a text field of the event
log = structlog.get_logger("freshforce.service.outbox")


def _error_fields(letter: LetterFact) -> dict[str, object]:
    system, _, rest = letter.key.partition("/")
    record_id = rest.rpartition("/")[2] if system == "salesforce" else None
    return {
        "Flow__c": letter.flow,
        "Record_Key__c": letter.key,
        "Record_Id__c": record_id,
        "Reason__c": letter.error[:_REASON_LENGTH] or None,
    }


@dataclass
class OutboxDrain:
    """Publishes one tenant's announced facts through its Salesforce connection."""

    runtime: Runtime
    kinds: frozenset[str]
    channel: Callable[[], grpc.aio.Channel]
    tenant: str = "default"
    holder: str = ""  # default: the runtime's holder name
    published: int = 0
    failed: int = 0
    _client: PubSubClient | None = field(default=None, repr=False)
    _opened: grpc.aio.Channel | None = field(default=None, repr=False)
    _keeper: LeaseKeeper = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._keeper = LeaseKeeper(
            self.runtime.engine,
            Stream(_CURSOR[0], f"outbox/{self.tenant}"),
            holder=self.holder or self.runtime.holder_name(),
            ttl=_LEASE_TTL,
            clock=self.runtime.clock,
        )

    async def run_once(self) -> bool:
        """Copy new dead letters, publish what is due; False when another process drains."""
        if not await self._keeper.acquire():
            log.debug("outbox_drained_elsewhere", lease=self._keeper.name)
            return False
        await self._keeper.guard(self._drain())
        return True

    async def _drain(self) -> None:
        if "errors" in self.kinds:
            await self._copy_dead_letters()
        async with self.runtime.engine.connect() as db:
            due = [r for r in await unpublished(db, limit=_BATCH) if r.tenant == self.tenant]
        if not due:
            return
        client = await self._pubsub()
        for event, rows in _by_event(due):
            await self._publish(client, event, rows)

    async def aclose(self) -> None:
        """Close the channel and give the drain's lease up."""
        await self._keeper.release()
        if self._opened is not None:
            await self._opened.close(None)
            self._opened = self._client = None

    async def _pubsub(self) -> PubSubClient:
        if self._client is None:
            pair = await self.runtime.pair(self.tenant)
            self._opened = self.channel()
            self._client = await self.runtime.pubsub_client(
                pair.salesforce_connection, self._opened
            )
        return self._client

    async def _copy_dead_letters(self) -> None:
        async with self.runtime.engine.begin() as db:
            stored = await load_cursor(db, *_CURSOR)
            after = int(json.loads(stored)["position"]) if stored else 0
            letters = await dead_letters_after(db, after, limit=_BATCH)
            for letter in letters:
                await add_fact(
                    db,
                    tenant=letter.tenant,
                    event=EVENTS["errors"],
                    event_key=f"error/{letter.tenant}/{letter.id}",
                    fields=_error_fields(letter),
                    now=self.runtime.clock(),
                )
            if letters:
                value = json.dumps({"position": str(letters[-1].id), "seen": []})
                await save_cursor(db, *_CURSOR, value, now=self.runtime.clock())

    async def _publish(self, client: PubSubClient, event: str, rows: list[OutboxRow]) -> None:
        now = self.runtime.clock()
        records = [(row.event_key, row.fields) for row in rows]
        try:
            results = await client.publish(
                f"/event/{event}", records, now_ms=int(now.timestamp() * 1000)
            )
        except (grpc.aio.AioRpcError, FreshforceError, ValueError, TypeError) as exc:
            log.warning("outbox_publish_failed", platform_event=event, error=str(exc))
            async with self.runtime.engine.begin() as db:
                for row in rows:
                    await mark_failed(db, row.id, error=f"{type(exc).__name__}: {exc}")
            self.failed += len(rows)
            return
        by_key = {result.correlation_key: result for result in results}
        async with self.runtime.engine.begin() as db:
            for row in rows:
                result = by_key.get(row.event_key)
                if result is not None and result.ok:
                    replay = base64.b64encode(result.replay_id).decode()
                    self.published += await mark_published(db, row.id, replay_id=replay, now=now)
                else:
                    error = result.error if result is not None else "no result for this event"
                    await mark_failed(db, row.id, error=error)
                    self.failed += 1
                    log.warning("outbox_event_refused", platform_event=event, error=error)


def _by_event(rows: Iterable[OutboxRow]) -> list[tuple[str, list[OutboxRow]]]:
    grouped: dict[str, list[OutboxRow]] = {}
    for row in rows:
        grouped.setdefault(row.event, []).append(row)
    return list(grouped.items())
