"""Intake of a running service: each tenant's pollers and CDC subscribers, on one scheduler.

For every tenant (integration pair) with a pair of connections (one FreshBooks, one Salesforce) it
schedules the FreshBooks callback check (register the callbacks of the watched resources against
``public_url``, idempotently, then wait for FreshBooks to verify them; at start and hourly; a check
that fails is logged, e.g. ``public_url`` unreachable; skipped with a warning when ``public_url``
is empty), the FreshBooks and Salesforce pollers every ``poll_interval_seconds`` and, when ``cdc``
is on, one CDC subscriber per watched entity. Every stream is leased (docs/operations.md, "Change
capture"): of several processes running intake on one store, one reads each stream and the others
stand by and take over if it stops. Each stream records its events and jobs under its connection's
tenant (intake/commit.py), so the worker runs them with that tenant's pair. The service looks for
newly connected tenants every ``TENANT_SCAN_SECONDS`` and starts their intake without a restart.
Each tenant also gets one subscriber per platform event channel of ``platform_event_channels``
(on the CDC channel).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.errors import ConfigError, LeaseLostError
from freshforce.intake import CdcConfig, LeaseKeeper, PollerConfig, Stream, register_callbacks
from freshforce.intake.event_subscriber import EventChannelConfig
from freshforce.service.targets import cdc_topic
from freshforce.store.connections import list_connections

if TYPE_CHECKING:
    import grpc

    from freshforce.engine.pair import Pair
    from freshforce.intake import CdcSubscriber, FreshBooksPoller, SalesforcePoller
    from freshforce.intake.event_subscriber import EventSubscriber
    from freshforce.runtime import Runtime
    from freshforce.service.scheduler import Scheduler
    from freshforce.service.targets import IntakeTargets

__all__ = [
    "CALLBACK_REGISTRATIONS_AT_ONCE",
    "TENANT_SCAN_SECONDS",
    "TenantIntake",
    "open_intake",
    "poll_offset",
]

log = structlog.get_logger("freshforce.service.intake")
# How often a running service looks for tenants connected since it started.
TENANT_SCAN_SECONDS = 30.0
_GOLDEN = 0.6180339887498949
# Callbacks are registered at start and checked again hourly (FreshBooks may disable one); each
# check waits this long for FreshBooks to verify new ones through the webhook route.
CALLBACK_CHECK_SECONDS = 3600.0
CALLBACK_VERIFY_SECONDS = 30.0
# Tenants registering their callbacks at once (a service starting with 1,000 tenants would
# otherwise register and poll for verification all together and exhaust the store's pool).
CALLBACK_REGISTRATIONS_AT_ONCE = 8
ChannelFactory = Callable[[], "grpc.aio.Channel"]


@dataclass
class TenantIntake:
    """One tenant's pollers and subscribers, and what they watch."""

    pair: Pair
    targets: IntakeTargets
    freshbooks: FreshBooksPoller
    salesforce: SalesforcePoller
    callbacks: LeaseKeeper  # one process checks a connection's callbacks at a time
    subscribers: list[CdcSubscriber] = field(default_factory=list)
    listeners: list[EventSubscriber] = field(default_factory=list)  # platform event channels
    channel: grpc.aio.Channel | None = None

    @property
    def tenant(self) -> str:
        return self.pair.tenant

    def schedule(
        self,
        scheduler: Scheduler,
        seconds: float,
        stop: asyncio.Event,
        *,
        public_url: str,
        verify_seconds: float = CALLBACK_VERIFY_SECONDS,
        offset: float = 0.0,
        registering: asyncio.Semaphore | None = None,
    ) -> None:
        """Register this tenant's callbacks, polls and subscriptions with ``scheduler``.

        The polls first run ``offset`` seconds in (see :func:`poll_offset`); ``registering``
        bounds how many tenants register their callbacks at once.
        """
        connection = self.pair.freshbooks_connection
        if not public_url:
            log.warning(
                "webhooks_not_registered",
                connection=connection,
                reason="public_url (FRESHFORCE_PUBLIC_URL) is empty; the poller alone sees changes",
            )
        elif self.targets.freshbooks:
            name = f"{self.tenant}:freshbooks/callbacks"
            register = partial(_register_webhooks, self, public_url, verify_seconds, registering)
            scheduler.every(CALLBACK_CHECK_SECONDS, name, register)
        for resource in self.targets.freshbooks:
            name = f"{self.tenant}:freshbooks/poll/{resource}"
            scheduler.every(seconds, name, partial(self.freshbooks.poll, resource), offset=offset)
        for target in self.targets.salesforce:
            scheduler.every(
                seconds,
                f"{self.tenant}:{target.stream}",
                partial(self.salesforce.poll, target),
                offset=offset,
            )
        for sub in self.subscribers:
            # A standby retries when the holder's lease could have expired.
            retry = sub.config.lease_ttl.total_seconds()
            scheduler.every(retry, f"{self.tenant}:{sub.stream}", partial(_subscribe, sub, stop))
        for listener in self.listeners:
            retry = listener.config.lease_ttl.total_seconds()
            name = f"{self.tenant}:{listener.stream}"
            scheduler.every(retry, name, partial(_subscribe, listener, stop))

    async def release(self) -> None:
        """Give up the poll leases this process holds (on a clean stop)."""
        for resource in self.targets.freshbooks:
            await self.freshbooks.release(resource)
        for target in self.targets.salesforce:
            await self.salesforce.release(target)
        if self.channel is not None:
            await self.channel.close(None)


def poll_offset(index: int, seconds: float) -> float:
    """Return when the ``index``-th watched tenant first polls, within its ``seconds`` period.

    The first tenant polls at once; the others spread over the period by the golden ratio, so
    the polls of many tenants never fall due together, however many are added later.
    """
    return (index * _GOLDEN % 1.0) * seconds


async def _subscribe(sub: CdcSubscriber | EventSubscriber, stop: asyncio.Event) -> None:
    try:
        await sub.run(stop)
    except LeaseLostError as exc:
        log.info("cdc_standby", stream=sub.stream, lease=sub.lease_name, detail=exc.message)


async def open_intake(
    runtime: Runtime,
    targets: IntakeTargets,
    *,
    holder: str,
    channel: ChannelFactory | None,
    skip: Collection[str] = (),
    unpaired: set[str] | None = None,
    cdc: bool = True,
    event_channels: Sequence[str] = (),
) -> list[TenantIntake]:
    """Return the intake of every tenant with a pair of connections.

    With a ``channel``: a CDC subscriber per watched entity (``cdc``) and a platform event
    subscriber per channel of ``event_channels``. Tenants in ``skip`` (watched already) are
    left out. A tenant without its pair is logged once per name added to ``unpaired`` (kept by
    the caller across scans).
    """
    async with runtime.engine.connect() as db:
        tenants = sorted({c.tenant for c in await list_connections(db)} - set(skip))
    opened: list[TenantIntake] = []
    for tenant in tenants:
        try:
            pair = await runtime.pair(tenant)
        except ConfigError as exc:
            if unpaired is None or tenant not in unpaired:
                log.warning("tenant_not_watched", tenant=tenant, reason=exc.message)
            if unpaired is not None:
                unpaired.add(tenant)
            continue
        if unpaired is not None:
            unpaired.discard(tenant)
        opened.append(
            await _open_tenant(
                runtime,
                pair,
                targets,
                holder=holder,
                channel=channel,
                cdc=cdc,
                event_channels=event_channels,
            )
        )
    if not opened and not skip:
        log.warning("no_tenant_watched", hint="connect both systems with `freshforce connect`")
    return opened


async def _open_tenant(
    runtime: Runtime,
    pair: Pair,
    targets: IntakeTargets,
    *,
    holder: str,
    channel: ChannelFactory | None,
    cdc: bool,
    event_channels: Sequence[str],
) -> TenantIntake:
    ttl = runtime.stream_lease()
    config = PollerConfig(flows=dict(targets.freshbooks), also=dict(targets.also), lease_ttl=ttl)
    intake = TenantIntake(
        pair,
        targets,
        await runtime.freshbooks_poller(pair.freshbooks_connection, holder=holder, config=config),
        await runtime.salesforce_poller(pair.salesforce_connection, holder=holder),
        LeaseKeeper(
            runtime.engine,
            Stream(pair.freshbooks_connection, "freshbooks/callbacks"),
            holder=holder,
            ttl=timedelta(seconds=CALLBACK_VERIFY_SECONDS * 2),
            clock=runtime.clock,
        ),
    )
    if channel is None:
        return intake
    intake.channel = opened = channel()
    for entity, flow in targets.cdc.items() if cdc else ():
        config_of = CdcConfig(topic=cdc_topic(entity), flows={entity: flow}, lease_ttl=ttl)
        intake.subscribers.append(
            await runtime.cdc_subscriber(
                pair.salesforce_connection, config_of, channel=opened, holder=holder
            )
        )
    for name in event_channels:
        events = EventChannelConfig(name, flows=dict(targets.cdc), lease_ttl=ttl)
        intake.listeners.append(
            await runtime.event_subscriber(
                pair.salesforce_connection, events, channel=opened, holder=holder
            )
        )
    return intake


async def _register_webhooks(
    intake: TenantIntake, public_url: str, wait: float, registering: asyncio.Semaphore | None
) -> None:
    """Register the callbacks of ``intake``'s resources and wait until FreshBooks verified them.

    Under the connection's ``freshbooks/callbacks`` lease, so listeners starting together on one
    store do not each register the same callback; at most ``registering``'s count at once.
    """
    async with registering or contextlib.nullcontext():
        await _register_under_lease(intake, public_url, wait)


async def _register_under_lease(intake: TenantIntake, public_url: str, wait: float) -> None:
    if not await intake.callbacks.acquire():
        log.info("callbacks_checked_elsewhere", lease=intake.callbacks.name)
        return
    try:
        await intake.callbacks.guard(_register(intake, public_url, wait))
    finally:
        await intake.callbacks.release()


async def _register(intake: TenantIntake, public_url: str, wait: float) -> None:
    connection = intake.pair.freshbooks_connection
    events = [RESOURCES[name].singular for name in intake.targets.freshbooks]
    done = await register_callbacks(
        intake.pair.freshbooks, public_url, connection, events=events, wait_seconds=wait
    )
    for callback in done:
        log.info(
            "webhook_registered",
            connection=connection,
            callback_event=callback.event,
            action=str(callback.action),
            verified=callback.verified,
        )
