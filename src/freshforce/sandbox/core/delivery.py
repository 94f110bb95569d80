"""Webhook delivery: an async queue that POSTs callbacks with retries and seeded misbehaviour.

The vendor enqueues an ``Outgoing`` (URL, body, headers, event name); a worker task on the
server's event loop sends it. A non-2xx answer or a network error is retried with exponential
backoff up to ``DeliveryRetryPolicy.attempts`` times. ``DeliveryMode`` makes delivery lossy (drop
with a probability), late (hold each delivery back), duplicated (send twice with a probability) or
reordered (hold deliveries back by a random delay so they overtake each other), each decided by
the seeded generator. A mode set for one callback id (``set_mode(mode, callback)``) applies to
that callback's deliveries only; the others follow the server-wide mode. Every attempt, and every
loss, lands in the ``DeliveryLog``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from freshforce.sandbox.core.clock import SandboxClock
from freshforce.sandbox.core.requestlog import redact_body

__all__ = [
    "DeliveryAttempt",
    "DeliveryLog",
    "DeliveryMode",
    "DeliveryQueue",
    "DeliveryRetryPolicy",
    "Outgoing",
]


@dataclass(frozen=True)
class Outgoing:
    """One webhook to send: where, what, and what it is about (for the log)."""

    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    event: str
    object_id: str = ""
    callback: str = ""  # the vendor's id of the subscription this goes to, for per-callback modes


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try at delivering one webhook, as the admin API shows it."""

    delivery_id: int
    attempt: int
    at: str
    url: str
    event: str
    object_id: str
    outcome: str  # delivered | failed | dropped
    status: int | None
    error: str | None
    body: str
    callback: str = ""


@dataclass(frozen=True)
class DeliveryRetryPolicy:
    """How often and how patiently a failed delivery is retried."""

    attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        """Return the wait before attempt ``attempt + 1``, doubling each time."""
        return float(min(self.backoff_seconds * 2.0 ** (attempt - 1), self.max_backoff_seconds))


@dataclass(frozen=True)
class DeliveryMode:
    """How faithfully webhooks arrive: all zero means promptly, once, in order."""

    lossy: float = 0.0
    duplicate: float = 0.0
    late_seconds: float = 0.0
    reorder_seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("lossy", "duplicate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability within 0..1, got {value}")
        for name in ("late_seconds", "reorder_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


class DeliveryLog:
    """A bounded, thread-safe record of every delivery attempt, oldest first."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[DeliveryAttempt] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def append(self, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self._entries.append(attempt)

    def entries(self, event: str | None = None) -> list[DeliveryAttempt]:
        with self._lock:
            found = list(self._entries)
        return [a for a in found if event is None or a.event == event]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    outgoing: Outgoing = field(compare=False)
    delivery_id: int = field(compare=False)
    attempt: int = field(compare=False, default=1)


class DeliveryQueue:
    """Sends webhooks from a worker task started on first use; ``aclose`` stops it."""

    def __init__(
        self,
        log: DeliveryLog,
        clock: SandboxClock,
        rng: random.Random,
        retry: DeliveryRetryPolicy | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.log = log
        self.mode = DeliveryMode()
        self.modes: dict[str, DeliveryMode] = {}  # per callback id, overriding ``mode``
        self._clock = clock
        self._rng = rng
        self._retry = retry or DeliveryRetryPolicy()
        self._client_factory = client_factory or _default_client
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    def set_mode(self, mode: DeliveryMode, callback: str | None = None) -> None:
        """Set the server-wide mode, or the mode of one callback's deliveries."""
        if callback is None:
            self.mode = mode
        else:
            self.modes[callback] = mode

    def mode_for(self, callback: str) -> DeliveryMode:
        """Return the mode deliveries to ``callback`` follow."""
        return self.modes.get(callback, self.mode)

    def enqueue(self, outgoing: Outgoing) -> None:
        """Schedule ``outgoing``; call from the server's event loop (any route handler)."""
        self._ensure_worker()
        delivery_id = next(self._ids)
        mode = self.mode_for(outgoing.callback)
        if self._rng.random() < mode.lossy:
            self._record(delivery_id, 1, outgoing, "dropped", None, None)
            return
        copies = 2 if self._rng.random() < mode.duplicate else 1
        for _ in range(copies):
            delay = mode.late_seconds + self._rng.uniform(0, mode.reorder_seconds)
            self._push(_Job(time.monotonic() + delay, next(self._seq), outgoing, delivery_id))

    async def drain(self, wait_seconds: float = 30.0) -> bool:
        """Wait until nothing is pending or in flight; False if ``wait_seconds`` passed first."""
        if self._task is None:
            return True
        assert self._idle is not None  # noqa: S101 - set together with the task
        try:
            async with asyncio.timeout(wait_seconds):
                while self._heap or self._busy:
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    def pending(self) -> int:
        """Deliveries waiting to be sent (including retries)."""
        return len(self._heap)

    def clear(self) -> None:
        """Forget pending deliveries and every mode (used by reset)."""
        self._heap.clear()
        self.mode = DeliveryMode()
        self.modes.clear()

    async def aclose(self) -> None:
        """Stop the worker; pending deliveries are abandoned."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _ensure_worker(self) -> None:
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            self._idle = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _push(self, job: _Job) -> None:
        heapq.heappush(self._heap, job)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None  # noqa: S101 - created before the task
        assert self._idle is not None  # noqa: S101 - created before the task
        async with self._client_factory() as client:
            while True:
                if not self._heap:
                    self._idle.set()
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                wait = self._heap[0].due - time.monotonic()
                if wait > 0:
                    self._wakeup.clear()
                    try:
                        async with asyncio.timeout(wait):
                            await self._wakeup.wait()
                    except TimeoutError:
                        pass
                    continue
                job = heapq.heappop(self._heap)
                self._busy = True
                try:
                    await self._send(client, job)
                finally:
                    self._busy = False

    async def _send(self, client: httpx.AsyncClient, job: _Job) -> None:
        out = job.outgoing
        try:
            response = await client.post(out.url, content=out.body, headers=dict(out.headers))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self._failed(job, None, f"{type(exc).__name__}: {exc}")
            return
        if 200 <= response.status_code < 300:  # noqa: PLR2004 - the 2xx range
            self._record(job.delivery_id, job.attempt, out, "delivered", response.status_code, None)
        else:
            self._failed(job, response.status_code, None)

    def _failed(self, job: _Job, status: int | None, error: str | None) -> None:
        self._record(job.delivery_id, job.attempt, job.outgoing, "failed", status, error)
        if job.attempt < self._retry.attempts:
            due = time.monotonic() + self._retry.delay(job.attempt)
            retry = _Job(due, next(self._seq), job.outgoing, job.delivery_id, job.attempt + 1)
            heapq.heappush(self._heap, retry)

    def _record(  # noqa: PLR0917 - one log row's columns
        self,
        delivery_id: int,
        attempt: int,
        out: Outgoing,
        outcome: str,
        status: int | None,
        error: str | None,
    ) -> None:
        self.log.append(
            DeliveryAttempt(
                delivery_id=delivery_id,
                attempt=attempt,
                at=self._clock.now().isoformat(),
                url=out.url,
                event=out.event,
                object_id=out.object_id,
                outcome=outcome,
                status=status,
                error=error,
                body=redact_body(out.body, _content_type(out.headers)),
                callback=out.callback,
            )
        )


def _content_type(headers: tuple[tuple[str, str], ...]) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "")


def _default_client() -> httpx.AsyncClient:
    # Receivers are local test servers or the user's own tunnel; a self-signed cert is normal.
    return httpx.AsyncClient(timeout=10.0, verify=False)  # noqa: S501 - see above
