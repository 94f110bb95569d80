"""The per-server bundle of shared machinery, and the hooks a vendor's state offers the admin API.

A vendor server builds one ``SandboxRuntime`` (clock, fault rules, request log, webhook queue)
and implements ``SandboxControl`` for its state; ``mount.install`` fits both onto its app.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from freshforce.sandbox.core.clock import SandboxClock
from freshforce.sandbox.core.delivery import DeliveryLog, DeliveryQueue, DeliveryRetryPolicy
from freshforce.sandbox.core.faults import FaultSet
from freshforce.sandbox.core.requestlog import RequestLog

__all__ = ["SandboxControl", "SandboxRuntime"]


class SandboxControl(Protocol):
    """What a vendor's state offers the admin API. Every method runs on the server's loop.

    - ``reset()``: forget every record, token and subscription (the seeded OAuth app and user
      stay so the printed credentials keep working).
    - ``seed(records, seed)``: add ``records`` generated records of each kind from ``seed``;
      return how many of each kind were made, e.g. ``{"clients": 10}``.
    - ``snapshot()``: the whole state as one JSON object (what ``--state-file`` stores).
    - ``mint_token(user, expires_in)``: a token response for ``user`` (the default user when
      None) as the vendor's token endpoint would answer; raise ``LookupError`` for an unknown user.
    """

    def reset(self) -> None: ...

    def seed(self, records: int, seed: int) -> dict[str, int]: ...

    def snapshot(self) -> dict[str, Any]: ...  # JSON object

    def mint_token(self, user: str | None, expires_in: int | None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SandboxRuntime:
    """The shared machinery of one sandbox server; build one per server and pass it in."""

    clock: SandboxClock
    faults: FaultSet
    requests: RequestLog
    deliveries: DeliveryQueue

    @classmethod
    def create(
        cls,
        seed: int = 42,
        clock: SandboxClock | None = None,
        retry: DeliveryRetryPolicy | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
    ) -> SandboxRuntime:
        """Build a runtime whose faults and delivery decisions follow ``seed``."""
        clock = clock or SandboxClock()
        return cls(
            clock=clock,
            faults=FaultSet(random.Random(seed)),  # noqa: S311 - simulation, not crypto
            requests=RequestLog(),
            deliveries=DeliveryQueue(
                DeliveryLog(),
                clock,
                random.Random(seed + 1),  # noqa: S311 - simulation, not crypto
                retry,
                client_factory,
            ),
        )

    def reset(self) -> None:
        """Forget faults, logs, pending deliveries and the clock offset."""
        self.faults.clear()
        self.requests.clear()
        self.deliveries.clear()
        self.deliveries.log.clear()
        self.clock.set_offset(0.0)

    async def aclose(self) -> None:
        """Stop background work (the webhook worker)."""
        await self.deliveries.aclose()
