"""Intake of a running service: each tenant's pollers and CDC subscribers, on one scheduler.

For the watched tenant with a pair of connections (one FreshBooks, one Salesforce) it schedules
the FreshBooks callback check (register the callbacks of the watched resources against
``public_url``, idempotently, then wait for FreshBooks to verify them; at start and hourly; a
check that fails is logged, e.g. ``public_url`` unreachable; skipped with a warning when
``public_url`` is empty), the FreshBooks and Salesforce pollers every ``poll_interval_seconds``
and, when ``cdc`` is on, one CDC subscriber per watched entity. Every stream is leased
(docs/operations.md, "Change capture"): of several processes running intake on one store, one
reads each stream and the others stand by and take over if it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

import structlog

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.errors import ConfigError, LeaseLostError
from freshforce.intake import CdcConfig, LeaseKeeper, PollerConfig, Stream, register_callbacks
from freshforce.service.targets import cdc_topic
from freshforce.store.connections import list_connections

if TYPE_CHECKING:
    import asyncio

    import grpc

    from freshforce.engine.pair import Pair
    from freshforce.intake import CdcSubscriber, FreshBooksPoller, SalesforcePoller
    from freshforce.runtime import Runtime
    from freshforce.service.scheduler import Scheduler
    from freshforce.service.targets import IntakeTargets

__all__ = ["TenantIntake", "open_intake"]

log = structlog.get_logger("freshforce.service.intake")
# Intake stores its events and jobs under the default tenant; another tenant's changes would be
# run against the default tenant's pair, so only it is watched until intake names tenants.
WATCHED_TENANTS = frozenset({"default"})
# Callbacks are registered at start and checked again hourly (FreshBooks may disable one); each
# check waits this long for FreshBooks to verify new ones through the webhook route.
CALLBACK_CHECK_SECONDS = 3600.0
CALLBACK_VERIFY_SECONDS = 30.0
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
    ) -> None:
        """Register this tenant's callbacks, polls and subscriptions with ``scheduler``."""
        connection = self.pair.freshbooks_connection
        if not public_url:
            log.warning(
                "webhooks_not_registered",
                connection=connection,
                reason="public_url (FRESHFORCE_PUBLIC_URL) is empty; the poller alone sees changes",
            )
        elif self.targets.freshbooks:
            name = f"{self.tenant}:freshbooks/callbacks"
            register = partial(_register_webhooks, self, public_url, verify_seconds)
            scheduler.every(CALLBACK_CHECK_SECONDS, name, register)
        for resource in self.targets.freshbooks:
            name = f"{self.tenant}:freshbooks/poll/{resource}"
            scheduler.every(seconds, name, partial(self.freshbooks.poll, resource))
        for target in self.targets.salesforce:
            scheduler.every(
                seconds, f"{self.tenant}:{target.stream}", partial(self.salesforce.poll, target)
            )
        for sub in self.subscribers:
            # A standby retries when the holder's lease could have expired.
            retry = sub.config.lease_ttl.total_seconds()
            scheduler.every(retry, f"{self.tenant}:{sub.stream}", partial(_subscribe, sub, stop))

    async def release(self) -> None:
        """Give up the poll leases this process holds (on a clean stop)."""
        for resource in self.targets.freshbooks:
            await self.freshbooks.release(resource)
        for target in self.targets.salesforce:
            await self.salesforce.release(target)
        if self.channel is not None:
            await self.channel.close(None)


async def _subscribe(sub: CdcSubscriber, stop: asyncio.Event) -> None:
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
) -> list[TenantIntake]:
    """Return the intake of every tenant with a pair of connections (``channel``: CDC on)."""
    async with runtime.engine.connect() as db:
        tenants = sorted({c.tenant for c in await list_connections(db)})
    opened: list[TenantIntake] = []
    for tenant in tenants:
        if tenant not in WATCHED_TENANTS:
            reason = "intake records changes for the 'default' tenant only"
            log.warning("tenant_not_watched", tenant=tenant, reason=reason)
            continue
        try:
            pair = await runtime.pair(tenant)
        except ConfigError as exc:
            log.warning("tenant_not_watched", tenant=tenant, reason=exc.message)
            continue
        opened.append(await _open_tenant(runtime, pair, targets, holder=holder, channel=channel))
    if not opened:
        log.warning("no_tenant_watched", hint="connect both systems with `freshforce connect`")
    return opened


async def _open_tenant(
    runtime: Runtime,
    pair: Pair,
    targets: IntakeTargets,
    *,
    holder: str,
    channel: ChannelFactory | None,
) -> TenantIntake:
    config = PollerConfig(flows=dict(targets.freshbooks), also=dict(targets.also))
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
    if channel is not None:
        intake.channel = opened = channel()
        for entity, flow in targets.cdc.items():
            cdc = CdcConfig(topic=cdc_topic(entity), flows={entity: flow})
            intake.subscribers.append(
                await runtime.cdc_subscriber(
                    pair.salesforce_connection, cdc, channel=opened, holder=holder
                )
            )
    return intake


async def _register_webhooks(intake: TenantIntake, public_url: str, wait: float) -> None:
    """Register the callbacks of ``intake``'s resources and wait until FreshBooks verified them.

    Under the connection's ``freshbooks/callbacks`` lease, so listeners starting together on one
    store do not each register the same callback.
    """
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
