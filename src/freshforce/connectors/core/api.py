"""The remote-call executor: one request with retries, error classification, counting and logs.

A connector is a plain client composed of small parts handed to ``ApiClient``: an
``httpx.AsyncClient`` (from ``build_http_client``, with its OAuth ``Auth`` flow), the vendor's
``ErrorMapper`` (status plus vendor error code onto the ``freshforce.errors`` classes), a
``CallRetryPolicy`` and a ``CallCounter``. Classification by next action:

- success: the response is returned;
- ``TransientError``: retried here with backoff and jitter, honouring ``retry_after``;
- ``AmbiguousWriteError``: a write whose outcome is unknown (response lost, gateway error after
  the write may have run): raised at once, the caller looks its idempotency reference up first;
- ``AuthError`` / ``PermanentError`` / skip (``RecordGoneError``): raised at once.

Refresh-and-retry on an expired token happens below this layer, inside the ``httpx.Auth`` flow.
Log lines carry method, path, status, attempt and timing, never headers, bodies or query values.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from freshforce.connectors.core.calls import CallCounter
from freshforce.connectors.core.retry import CallRetryPolicy
from freshforce.errors import AmbiguousWriteError, FreshforceError, TransientError

__all__ = ["ApiClient", "ErrorMapper", "Sleep"]

ErrorMapper = Callable[[httpx.Response], FreshforceError | None]
Sleep = Callable[[float], Awaitable[None]]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Gateway answers to a write that may already have run; 503 and 429 mean it was not taken.
_AMBIGUOUS_STATUSES = frozenset({500, 502, 504})
# Failures before any byte of the request left: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

log = structlog.get_logger("freshforce.connectors")


class ApiClient:
    """Sends requests for one connection of one system through the shared policy."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        system: str,
        connection_id: str,
        map_error: ErrorMapper,
        retry: CallRetryPolicy,
        counter: CallCounter,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.system = system
        self.connection_id = connection_id
        self._map_error = map_error
        self._retry = retry
        self._counter = counter
        self._sleep = sleep
        self._monotonic = monotonic

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: httpx.QueryParams | None = None,
        json: Any = None,  # noqa: ANN401 - a JSON body of any shape, at the wire
        headers: Mapping[str, str] | None = None,
        write: bool | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send until success or a final error; ``write`` defaults to "not a safe method".

        ``content`` is a raw body (CSV, say) sent instead of ``json``; its ``Content-Type``
        comes in ``headers``. Read a text answer with ``response.text`` and its headers.
        """
        is_write = method.upper() not in _SAFE_METHODS if write is None else write
        call = _Call(method.upper(), url, params, json, headers, is_write=is_write, content=content)
        started = self._monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._once(call, attempt)
            if isinstance(outcome, httpx.Response):
                return outcome
            wait = self._retry_wait(outcome, attempt, started)
            if wait is None:
                raise outcome
            log.info(
                "api_call_retrying",
                system=self.system,
                connection_id=self.connection_id,
                attempt=attempt,
                wait_seconds=round(wait, 3),
                error_class=type(outcome).__name__,
                http_status=outcome.http_status,
            )
            await self._sleep(wait)

    def _retry_wait(self, error: FreshforceError, attempt: int, started: float) -> float | None:
        if not isinstance(error, TransientError) or isinstance(error, AmbiguousWriteError):
            return None
        elapsed = self._monotonic() - started
        return self._retry.delay(attempt, elapsed, error.retry_after)

    async def _once(self, call: _Call, attempt: int) -> httpx.Response | FreshforceError:
        self._counter.record(self.connection_id)
        began = self._monotonic()
        error: FreshforceError | None
        try:
            response = await self.http.request(
                call.method,
                call.url,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=call.headers,
            )
        except httpx.TransportError as exc:
            error = self._transport_error(exc, is_write=call.is_write)
            error.__cause__ = exc
            self._log(call, None, attempt, began, error)
            return error
        except FreshforceError as exc:  # raised by the auth flow (refresh) before any answer
            self._log(call, None, attempt, began, exc)
            return exc
        error = self._classify(response, is_write=call.is_write)
        self._log(call, response.status_code, attempt, began, error)
        return response if error is None else error

    def _classify(self, response: httpx.Response, *, is_write: bool) -> FreshforceError | None:
        error = self._map_error(response)
        if (
            error is not None
            and is_write
            and type(error) is TransientError
            and response.status_code in _AMBIGUOUS_STATUSES
        ):
            return AmbiguousWriteError(
                f"{error.message} (the write may have been applied)",
                retry_after=error.retry_after,
                system=error.system,
                remote_code=error.remote_code,
                http_status=error.http_status,
            )
        return error

    def _transport_error(self, exc: httpx.TransportError, *, is_write: bool) -> FreshforceError:
        kind = type(exc).__name__
        if isinstance(exc, _NOT_SENT) or not is_write:
            return TransientError(f"{self.system}: network failure ({kind})", system=self.system)
        return AmbiguousWriteError(
            f"{self.system}: the response to a write was lost ({kind}); "
            "look the record up before writing again",
            system=self.system,
        )

    def _log(
        self,
        call: _Call,
        status: int | None,
        attempt: int,
        began: float,
        error: FreshforceError | None,
    ) -> None:
        log.debug(
            "api_call",
            system=self.system,
            connection_id=self.connection_id,
            method=call.method,
            path=httpx.URL(call.url).path,
            http_status=status,
            attempt=attempt,
            elapsed_ms=round((self._monotonic() - began) * 1000, 1),
            error_class=None if error is None else type(error).__name__,
        )


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    params: httpx.QueryParams | None
    json: Any  # JSON body, at the wire
    headers: Mapping[str, str] | None
    is_write: bool = field(kw_only=True)
    content: bytes | None = field(default=None, kw_only=True)
