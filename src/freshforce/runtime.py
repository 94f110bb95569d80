"""The composition root: everything a freshforce process uses, built once from its Settings.

``Runtime.open(settings)`` brings the store to the current migration (when ``auto_migrate``
allows) and builds the store engine, the clock, the randomness, the token cipher, the retry
policies (remote calls and jobs), the Salesforce API governor and the call counter. From a
stored connection's name it opens token sources and FreshBooks/Salesforce clients, and it builds
the job queue, the worker and the pollers with the settings' knobs. Every command, the worker,
intake and the web app (``create_app(runtime)``) start from it; nothing else reads settings.

Tests build one the same way, passing a ``transport`` (a sandbox's ASGI app), a ``clock``, a
recording ``sleep`` and zero-wait policies instead of patching anything.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Self

import grpc
import httpx

from freshforce.clock import Clock, system_clock
from freshforce.connectors.core import CallCounter, CallRetryPolicy, HttpSettings, build_http_client
from freshforce.connectors.core.api import ApiClient
from freshforce.connectors.freshbooks import FreshBooksClient, map_freshbooks_error
from freshforce.connectors.oauth import BearerAuth, TokenSource
from freshforce.connectors.providers import System, provider_for
from freshforce.connectors.salesforce import (
    Governor,
    GovernorConfig,
    SalesforceClient,
    SalesforceOrg,
)
from freshforce.connectors.salesforce.pubsub import PubSubClient, token_metadata
from freshforce.engine import (
    OPEN,
    FlowGate,
    JobQueue,
    QueueConfig,
    QueueMetrics,
    RetryPolicy,
    Worker,
    WorkerConfig,
)
from freshforce.engine.pair import Pair, pair_connections
from freshforce.errors import ConfigError
from freshforce.intake import (
    CdcConfig,
    CdcSubscriber,
    FreshBooksPoller,
    PollerConfig,
    SalesforcePoller,
)
from freshforce.intake.event_subscriber import EventChannelConfig, EventSubscriber
from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.store.connections import Connection, load_connection
from freshforce.store.crypto import TokenCipher
from freshforce.store.engine import create_engine
from freshforce.store.migrate import prepare_database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine import Flow, JobHandler
    from freshforce.intake.cdc import FullPoll
    from freshforce.settings import Settings

__all__ = ["Runtime"]

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Runtime:
    """One process's store, clock, policies, governor, token sources and clients."""

    settings: Settings
    engine: AsyncEngine
    clock: Clock = system_clock
    rng: random.Random = field(default_factory=random.Random)  # jitter and names
    sleep: Sleep = asyncio.sleep
    call_retry: CallRetryPolicy = field(default_factory=CallRetryPolicy)
    job_retry: RetryPolicy = field(default_factory=RetryPolicy)
    governor_config: GovernorConfig = field(default_factory=GovernorConfig)
    counter: CallCounter = field(default_factory=CallCounter)
    # Routes every remote call somewhere else (a sandbox's ASGI app in tests); None: the network.
    transport: httpx.AsyncBaseTransport | None = None
    cipher: TokenCipher = field(init=False)
    governor: Governor = field(init=False)
    _sources: dict[str, TokenSource] = field(init=False, default_factory=dict)
    _http: list[httpx.AsyncClient] = field(init=False, default_factory=list)
    _pairs: dict[str, Pair] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.cipher = TokenCipher(self.settings.encryption_keys)
        self.governor = Governor(self.governor_config, clock=self.clock)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        call_retry: CallRetryPolicy | None = None,
        job_retry: RetryPolicy | None = None,
        governor_config: GovernorConfig | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Runtime:
        """Prepare the store named by ``settings`` and build the runtime on it."""
        await prepare_database(settings.database_url, auto_migrate=settings.auto_migrate)
        return cls(
            settings,
            create_engine(settings.database_url),
            clock=clock,
            rng=rng or random.Random(),  # noqa: S311 - jitter and names, not secrets
            sleep=sleep,
            call_retry=call_retry or CallRetryPolicy(),
            job_retry=job_retry or RetryPolicy(),
            governor_config=governor_config or GovernorConfig(),
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close every client this runtime opened and dispose of the store engine."""
        for http in self._http:
            await http.aclose()
        self._http.clear()
        self._pairs.clear()
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the job queue and the worker -----------------------------------------------------------

    @property
    def queue_config(self) -> QueueConfig:
        """Return the queue knobs from ``job_lease_seconds`` and ``job_max_attempts``."""
        return QueueConfig(
            lease_seconds=self.settings.job_lease_seconds,
            max_attempts=self.settings.job_max_attempts,
        )

    @property
    def worker_config(self) -> WorkerConfig:
        """Return the worker knobs from the ``worker_*`` settings."""
        return WorkerConfig(
            concurrency=self.settings.worker_concurrency,
            batch_size=self.settings.worker_batch_size,
            poll_interval=self.settings.worker_poll_interval,
            shutdown_timeout=self.settings.worker_shutdown_timeout,
        )

    def queue(self) -> JobQueue:
        """Return a job queue on the store with the settings' lease and attempts."""
        return JobQueue(self.engine, clock=self.clock, config=self.queue_config)

    def worker(
        self,
        handlers: Mapping[str, Flow | JobHandler],
        *,
        metrics: QueueMetrics | None = None,
        gate: FlowGate = OPEN,
    ) -> Worker:
        """Return a worker running ``handlers`` with the settings' knobs and the job policy.

        ``gate`` says which tenant's flows are paused (the update breaker; default: none).
        """
        return Worker(
            self.queue(),
            handlers,
            name=self.holder_name(),
            policy=self.job_retry,
            rng=self.rng,
            metrics=metrics,
            config=self.worker_config,
            gate=gate,
        )

    def holder_name(self) -> str:
        """Return a name unique to this process, for job and stream leases."""
        return f"{socket.gethostname()}:{os.getpid()}:{self.rng.getrandbits(32):08x}"

    # -- connections and clients ----------------------------------------------------------------

    async def connection(self, name: str, system: System) -> Connection:
        """Load stored connection ``name``; ``ConfigError`` when absent or of another system."""
        async with self.engine.connect() as db:
            found = await load_connection(db, self.cipher, name)
        if found is None:
            msg = f"no connection named {name!r}: run `freshforce connect {system} --name {name}`"
            raise ConfigError(msg)
        if found.system != system:
            msg = f"connection {name!r} is a {found.system} connection, not {system}"
            raise ConfigError(msg)
        return found

    async def _salesforce_connection(self, name: str) -> Connection:
        found = await self.connection(name, "salesforce")
        if not found.instance_url or not found.remote_account:
            msg = f"connection {name!r} lacks its instance URL or org id: connect it again"
            raise ConfigError(msg)
        return found

    def token_source(self, name: str, system: System) -> TokenSource:
        """Return the one token source of connection ``name`` in this process."""
        source = self._sources.get(name)
        if source is None:
            source = TokenSource(
                self.engine,
                self.cipher,
                name,
                provider_for(system, self.settings),
                clock=self.clock,
                transport=self.transport,
            )
            self._sources[name] = source
        return source

    async def freshbooks(self, name: str) -> FreshBooksClient:
        """Open a FreshBooks client for stored connection ``name``."""
        found = await self.connection(name, "freshbooks")
        http = self._http_client(self.settings.freshbooks_api_url, name, "freshbooks")
        api = ApiClient(
            http,
            system="freshbooks",
            connection_id=name,
            map_error=map_freshbooks_error,
            retry=self.call_retry,
            counter=self.counter,
            sleep=self.sleep,
        )
        return FreshBooksClient(api, found.remote_account or "")

    async def salesforce(self, name: str) -> SalesforceClient:
        """Open a Salesforce client for stored connection ``name`` on its instance URL."""
        found = await self._salesforce_connection(name)
        return SalesforceClient(
            self._http_client(found.instance_url or "", name, "salesforce"),
            SalesforceOrg(found.remote_account or ""),
            self.governor,
            connection_id=name,
            retry=self.call_retry,
            counter=self.counter,
            sleep=self.sleep,
        )

    async def pair(self, tenant: str) -> Pair:
        """Return ``tenant``'s two connections with their clients, opened once per process."""
        found = self._pairs.get(tenant)
        if found is None:
            freshbooks, salesforce = await pair_connections(self.engine, tenant)
            found = Pair(
                tenant,
                freshbooks,
                salesforce,
                await self.freshbooks(freshbooks),
                await self.salesforce(salesforce),
            )
            self._pairs[tenant] = found
        return found

    def _http_client(self, base_url: str, name: str, system: System) -> httpx.AsyncClient:
        http = build_http_client(
            base_url,
            settings=HttpSettings(read_timeout=self.settings.http_timeout_seconds),
            transport=self.transport,
            auth=BearerAuth(self.token_source(name, system)),
        )
        self._http.append(http)
        return http

    # -- intake ---------------------------------------------------------------------------------

    def stream_lease(self) -> timedelta:
        """Return the lease on each intake stream (``stream_lease_seconds``)."""
        return timedelta(seconds=self.settings.stream_lease_seconds)

    async def freshbooks_poller(
        self, name: str, *, holder: str | None = None, config: PollerConfig | None = None
    ) -> FreshBooksPoller:
        """Return the poller of FreshBooks connection ``name`` (leased as ``config`` says)."""
        return FreshBooksPoller(
            await self.freshbooks(name),
            self.engine,
            self.queue(),
            connection_id=name,
            holder=holder or self.holder_name(),
            clock=self.clock,
            config=config or PollerConfig(lease_ttl=self.stream_lease()),
        )

    async def salesforce_poller(self, name: str, *, holder: str | None = None) -> SalesforcePoller:
        """Return the SystemModstamp poller of Salesforce connection ``name``."""
        return SalesforcePoller(
            await self.salesforce(name),
            self.engine,
            self.queue(),
            connection_id=name,
            clock=self.clock,
            holder=holder or self.holder_name(),
            lease_ttl=self.stream_lease(),
        )

    def pubsub_channel(self) -> grpc.aio.Channel:
        """Open a channel to the Pub/Sub API at ``salesforce_pubsub_host`` (caller closes).

        TLS unless ``salesforce_pubsub_tls`` is off (a local sandbox without ``--tls``).
        """
        host = self.settings.salesforce_pubsub_host
        if not self.settings.salesforce_pubsub_tls:
            return grpc.aio.insecure_channel(host)
        return grpc.aio.secure_channel(host, grpc.ssl_channel_credentials())

    async def cdc_subscriber(
        self,
        name: str,
        config: CdcConfig,
        *,
        channel: grpc.aio.Channel,
        holder: str | None = None,
        full_poll: FullPoll | None = None,
        sleep: Sleep | None = None,
    ) -> CdcSubscriber:
        """Return the CDC subscriber of Salesforce connection ``name`` on ``channel``."""
        return CdcSubscriber(
            await self.pubsub_client(name, channel),
            self.engine,
            self.queue(),
            config=config,
            connection_id=name,
            holder=holder or self.holder_name(),
            clock=self.clock,
            rng=self.rng,
            sleep=sleep or self.sleep,
            full_poll=full_poll,
        )

    async def pubsub_client(self, name: str, channel: grpc.aio.Channel) -> PubSubClient:
        """Return a Pub/Sub client of Salesforce connection ``name`` on ``channel``."""
        found = await self._salesforce_connection(name)
        source = self.token_source(name, "salesforce")
        return PubSubClient(
            pb_grpc.PubSubStub(channel),  # type: ignore[no-untyped-call]  # generated stub
            token_metadata(source, found.instance_url or "", found.remote_account or ""),
            source.refresh,
        )

    async def event_subscriber(
        self,
        name: str,
        config: EventChannelConfig,
        *,
        channel: grpc.aio.Channel,
        holder: str | None = None,
    ) -> EventSubscriber:
        """Return the platform event subscriber of Salesforce connection ``name``."""
        return EventSubscriber(
            await self.pubsub_client(name, channel),
            self.engine,
            self.queue(),
            config=config,
            connection_id=name,
            holder=holder or self.holder_name(),
            clock=self.clock,
            rng=self.rng,
            sleep=self.sleep,
        )
