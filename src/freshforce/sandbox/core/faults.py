"""Fault injection: rules per endpoint pattern, applied by an ASGI middleware in front of an app.

A rule names a kind, a method and a path pattern (a glob, or a regular expression when
``regex`` is true), and fires by probability (drawn from the seeded generator the ``FaultSet``
was given) and/or for a limited number of matching requests (``times``). The vendor app supplies a
``FaultRenderer`` that turns a fired rule into that vendor's exact error status, headers and body.
A rule may also name a ``user`` and/or an OAuth ``client``: it then fires only for requests whose
bearer token speaks for them (the middleware's ``identify`` hook names the caller beforehand), so
a drill aimed at the integration never hits a person's calls.

Kinds:

- ``latency``: sleep ``latency_ms`` before the request is handled, then handle it normally.
- ``error``: answer ``status`` (default 503) without handling the request.
- ``rate_limit``: answer 429 with ``Retry-After: retry_after`` without handling the request.
- ``expired_token``: answer the vendor's 401 for an expired token.
- ``limit_exhausted``: answer the vendor's "quota used up" error (FreshBooks 429, Salesforce 403).
- ``drop``: close the connection before any response is complete; the request is not handled.
- ``ambiguous``: handle the request (the write commits), then lose the response by closing the
  connection: the client cannot tell whether its write happened.
- ``invalid_value``: answer the vendor's refusal of the value of ``field`` (status default 400)
  without handling the request, as a vendor-side check the emulator does not model would.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import json
import random
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

import httpx

from freshforce.sandbox.core.users import CLIENT_STATE_KEY, USER_STATE_KEY, Caller

__all__ = [
    "FAULT_STATE_KEY",
    "DroppedConnectionError",
    "FaultKind",
    "FaultMiddleware",
    "FaultRenderer",
    "FaultResponse",
    "FaultRule",
    "FaultSet",
]

FAULT_STATE_KEY = "sandbox_fault"  # scope state entry naming the fault kinds that fired
FaultKind = Literal[
    "latency",
    "error",
    "rate_limit",
    "expired_token",
    "limit_exhausted",
    "drop",
    "ambiguous",
    "invalid_value",
]

# ASGI's own types are dicts of anything: this is the wire between server and app.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class DroppedConnectionError(httpx.RemoteProtocolError):
    """Raised inside the app to cut the connection; in process, the client sees this error.

    Over a socket the server closes the connection mid-response, which an HTTP client reports as
    a protocol error; through ``httpx.ASGITransport`` the same exception type reaches the client.
    """


@dataclass(frozen=True)
class FaultRule:
    """One fault: what happens, to which requests, how often."""

    kind: FaultKind
    method: str = "*"
    path: str = "*"
    regex: bool = False
    probability: float = 1.0
    times: int | None = None
    status: int | None = None
    retry_after: int = 1
    latency_ms: int = 0
    id: int = 0
    user: str | None = None  # only requests by this user id
    client: str | None = None  # only requests with a token of this OAuth client
    field: str | None = None  # invalid_value: the field whose value is refused

    @property
    def scoped(self) -> bool:
        """Whether the rule needs to know the caller."""
        return self.user is not None or self.client is not None

    def matches(self, method: str, path: str, caller: Caller | None = None) -> bool:
        """Whether this rule's method, path pattern and caller cover the request."""
        if self.method not in ("*", method.upper()):
            return False
        if self.user is not None and (caller is None or caller.user != self.user):
            return False
        if self.client is not None and (caller is None or caller.client != self.client):
            return False
        if self.regex:
            return re.search(self.path, path) is not None
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(frozen=True)
class FaultResponse:
    """What a vendor answers for a fired rule: status, extra headers and a JSON body."""

    status: int
    body: Any  # JSON value, shaped like the vendor's own error
    headers: tuple[tuple[str, str], ...] = ()


class FaultRenderer(Protocol):
    """The vendor's half of fault injection: its error body for each kind that answers."""

    def render_fault(self, rule: FaultRule, path: str) -> FaultResponse: ...


class FaultSet:
    """The active rules of one server, with the seeded generator that decides probabilities."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> FaultRule:
        """Activate ``rule`` and return it with its assigned id."""
        if not 0.0 <= rule.probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {rule.probability}")
        if rule.times is not None and rule.times < 1:
            raise ValueError(f"times must be at least 1 when given, got {rule.times}")
        if rule.regex:
            try:
                re.compile(rule.path)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {rule.path!r} ({exc})") from exc
        with self._lock:
            stored = replace(rule, id=next(self._ids))
            self._rules.append(stored)
        return stored

    def rules(self) -> list[FaultRule]:
        """Return the active rules, oldest first (``times`` shows what is left)."""
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> bool:
        """Deactivate one rule; False when no rule has that id."""
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        """Deactivate every rule."""
        with self._lock:
            self._rules.clear()

    def scoped(self) -> bool:
        """Whether any active rule is aimed at one user or client (the caller must be known)."""
        with self._lock:
            return any(rule.scoped for rule in self._rules)

    def fire(self, method: str, path: str, caller: Caller | None = None) -> list[FaultRule]:
        """Return the rules that fire for this request, in the order they were added.

        Each matching rule draws once from the generator; a counted rule that fires uses up one
        of its ``times`` and disappears when none are left. Rules aimed at another caller (or at
        any caller, when ``caller`` is None) do not match and draw nothing.
        """
        fired: list[FaultRule] = []
        with self._lock:
            kept: list[FaultRule] = []
            for rule in self._rules:
                if rule.matches(method, path, caller) and self._draw(rule):
                    fired.append(rule)
                    if rule.times is not None:
                        if rule.times > 1:
                            kept.append(replace(rule, times=rule.times - 1))
                        continue
                kept.append(rule)
            self._rules = kept
        return fired

    def _draw(self, rule: FaultRule) -> bool:
        if rule.probability >= 1.0:
            return True
        return self._rng.random() < rule.probability


class FaultMiddleware:
    """ASGI middleware that applies a ``FaultSet`` to every request outside ``exempt_prefix``.

    ``identify`` names the caller of a request from its token; it is asked only while a rule
    aimed at one user or client is active.
    """

    def __init__(
        self,
        app: ASGIApp,
        faults: FaultSet,
        renderer: FaultRenderer,
        exempt_prefix: str = "/_sandbox",
        identify: Callable[[Scope], Caller | None] | None = None,
    ) -> None:
        self._app = app
        self._faults = faults
        self._renderer = renderer
        self._exempt = exempt_prefix
        self._identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self._exempt):
            await self._app(scope, receive, send)
            return
        ambiguous = False
        fired = self._fire(scope, path)
        for rule in fired:
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.kind == "ambiguous":
                ambiguous = True
            elif rule.kind == "drop":
                await _drop(send)
            else:
                await self._answer(self._renderer.render_fault(rule, path), send)
                return
        if ambiguous:
            await self._app(scope, receive, _swallow)
            await _drop(send)
        await self._app(scope, receive, send)

    def _fire(self, scope: Scope, path: str) -> list[FaultRule]:
        """Fire the rules for this request; note their kinds and the caller for the log."""
        caller = None
        if self._identify is not None and self._faults.scoped():
            caller = self._identify(scope)
        fired = self._faults.fire(scope["method"], path, caller)
        if fired:
            state = scope.setdefault("state", {})
            state[FAULT_STATE_KEY] = ",".join(r.kind for r in fired)
            if caller is None and self._identify is not None:
                caller = self._identify(scope)
            if caller is not None:  # the log names who was hit, even if the app never runs
                state[USER_STATE_KEY] = caller.user
                state[CLIENT_STATE_KEY] = caller.client
        return fired

    @staticmethod
    async def _answer(response: FaultResponse, send: Send) -> None:
        body = _json_bytes(response.body)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in response.headers),
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _swallow(_message: Message) -> None:
    """Lose everything sent: the response of an ambiguous failure."""


async def _drop(send: Send) -> None:
    """Start a response that promises a body, then abort: the server closes the connection."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise DroppedConnectionError("connection dropped by a sandbox fault rule")


def _json_bytes(value: Any) -> bytes:  # noqa: ANN401 - any JSON value
    return json.dumps(value, separators=(",", ":")).encode()
