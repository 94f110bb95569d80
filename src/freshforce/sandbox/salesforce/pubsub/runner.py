"""The Pub/Sub server beside a Salesforce sandbox: built from its org, run by the sandbox command.

``attach_pubsub`` wires the server to the sandbox's change log, object catalog and sessions, and
mounts ``/_sandbox/pubsub`` on its REST app. ``PubSubRunner`` serves it the way the command runs
its HTTP servers: ``serve()`` until ``request_stop()``.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Mapping
from datetime import datetime

from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core.server import ListenError
from freshforce.sandbox.core.tls import TlsFiles
from freshforce.sandbox.salesforce.avro import CdcField
from freshforce.sandbox.salesforce.build import SalesforceSandbox
from freshforce.sandbox.salesforce.cdc_entities import CatalogEntities
from freshforce.sandbox.salesforce.platform_events import EventDefinition
from freshforce.sandbox.salesforce.pubsub.admin import pubsub_admin_router
from freshforce.sandbox.salesforce.pubsub.controls import PubSubControls
from freshforce.sandbox.salesforce.pubsub.server import PubSubServer, start_pubsub_server
from freshforce.sandbox.salesforce.pubsub.service import PubSubService
from freshforce.sandbox.salesforce.pubsub.topics import TopicRegistry

__all__ = ["PubSubRunner", "attach_pubsub"]


class PubSubRunner:
    """Runs one Pub/Sub server on the caller's loop until asked to stop."""

    def __init__(
        self,
        service: pb_grpc.PubSubServicer,
        controls: PubSubControls,
        host: str,
        port: int,
        tls: TlsFiles | None,
    ) -> None:
        self.service = service
        self.controls = controls
        self._host, self._port, self._tls = host, port, tls
        self._server: PubSubServer | None = None
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def target(self) -> str:
        """``host:port`` for ``grpc.insecure_channel``/``secure_channel`` (once started)."""
        if self._server is None:
            raise RuntimeError("the Pub/Sub server has not started yet")
        return self._server.target

    async def wait_started(self) -> None:
        """Return once the server accepts calls."""
        await self._ready.wait()

    async def serve(self) -> None:
        """Start the server and keep it up until ``request_stop()``."""
        tls = (
            None if self._tls is None else (self._tls.key.read_bytes(), self._tls.cert.read_bytes())
        )
        _check_free(self._host, self._port)
        try:
            self._server = await start_pubsub_server(
                self.service, host=self._host, port=self._port, tls=tls
            )
        except RuntimeError as exc:  # grpc's only signal that the port could not be bound
            raise ListenError(self._host, self._port, "address in use or not allowed") from exc
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._server.stop(grace=1.0)

    def request_stop(self) -> None:
        """Ask ``serve`` to return after a short grace period for open streams."""
        self._stop.set()


def _check_free(host: str, port: int) -> None:
    """Raise ListenError with the system's reason if ``host:port`` cannot be bound.

    gRPC reports a failed bind only as "Failed to bind", and logs the cause to stderr itself.
    """
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise ListenError(host, port, exc.strerror or str(exc)) from exc
    finally:
        probe.close()


def attach_pubsub(
    sandbox: SalesforceSandbox,
    *,
    clock: Callable[[], datetime],
    seed: int = 42,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: TlsFiles | None = None,
    controls: PubSubControls | None = None,
    platform_events: Mapping[str, tuple[CdcField, ...]] | None = None,
) -> PubSubRunner:
    """Build the Pub/Sub server of ``sandbox`` and mount its admin routes on the REST app.

    The org's platform events (``state.platform_events``: freshforce's four and
    ``Sandbox_Notice__e``) are served; ``platform_events`` defines more on the org.
    """
    state, sessions = sandbox.state, sandbox.sessions
    controls = controls or PubSubControls()
    for name, fields in (platform_events or {}).items():
        state.platform_events.define(EventDefinition(name, fields))
    registry = TopicRegistry(state.changes, CatalogEntities(state.catalog), state.platform_events)

    def check_token(token: str) -> str | None:
        return state.org_id if sessions.authenticate(token) is not None else None

    service = PubSubService(
        registry=registry,
        check_token=check_token,
        controls=controls,
        clock=clock,
        rng=random.Random(seed + 2),  # noqa: S311 - rpc ids, not secrets
    )
    sandbox.app.include_router(
        pubsub_admin_router(
            controls=controls,
            log=state.changes,
            registry=registry,
            clock=clock,
            commit_user=lambda: state.admin_user_id,
            rng=random.Random(seed + 3),  # noqa: S311 - transaction keys, not secrets
        )
    )
    return PubSubRunner(service, controls, host, port, tls)
