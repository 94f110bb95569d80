"""The request log: every API request a sandbox served, with secrets redacted.

``RequestLogMiddleware`` records time, user, client, method, path, query, selected headers,
request and response bodies and status. The vendor's auth code names the caller with
``attribute_request`` so the log (and its filters) know which user and OAuth client made it; with
a ``name_of`` hook (the vendor's user directory) each entry also carries the user's name.
"""

from __future__ import annotations

import itertools
import re
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from freshforce.sandbox.core.clock import SandboxClock
from freshforce.sandbox.core.faults import (
    FAULT_STATE_KEY,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)
from freshforce.sandbox.core.users import CLIENT_STATE_KEY, USER_STATE_KEY

__all__ = [
    "LOGGED_HEADERS",
    "SECRET_KEYS",
    "LoggedRequest",
    "RequestLog",
    "RequestLogMiddleware",
    "attribute_request",
    "redact_body",
]

LOGGED_HEADERS = (
    "authorization",
    "content-type",
    "user-agent",
    "sforce-call-options",
    "sforce-query-options",
    "x-api-version",
    "api-version",
    "x-freshbooks-hmac-sha256",
)
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "token",
        "password",
        "id_token",
        "code",
        "verifier",
        "assertion",
    }
)
REDACTED = "***"
_MAX_BODY = 64 * 1024
# A secret key's string value in JSON text; replacing in place keeps the body as it was sent.
_JSON_SECRET = re.compile(r'("(?:' + "|".join(sorted(SECRET_KEYS)) + r')"\s*:\s*)"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class LoggedRequest:
    """One served request as the admin API returns it."""

    id: int
    at: str
    user: str | None
    client: str | None
    method: str
    path: str
    query: str
    headers: dict[str, str]
    request_body: str
    status: int
    response_body: str
    fault: str | None = None  # the fault kinds that fired for this request, comma-separated
    user_name: str | None = None  # the user's name, when the sandbox keeps a user directory


def attribute_request(request: Request, user: str, client: str) -> None:
    """Name the user and OAuth client behind ``request`` for the request log."""
    setattr(request.state, USER_STATE_KEY, user)
    setattr(request.state, CLIENT_STATE_KEY, client)


class RequestLog:
    """A bounded, thread-safe list of served requests, newest last."""

    def __init__(self, limit: int = 10_000) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(
        self,
        user: str | None = None,
        path: str | None = None,
        methods: frozenset[str] | None = None,
    ) -> list[LoggedRequest]:
        """Entries for ``user`` (exact) whose path starts with ``path``, oldest first.

        ``methods`` keeps only requests with one of those (upper-case) HTTP methods.
        """
        with self._lock:
            found: Iterable[LoggedRequest] = list(self._entries)
        if user is not None:
            found = (e for e in found if e.user == user)
        if path is not None:
            found = (e for e in found if e.path.startswith(path))
        if methods is not None:
            found = (e for e in found if e.method in methods)
        return list(found)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def redact_body(raw: bytes, content_type: str) -> str:
    """Return the body as text with every secret value replaced, truncated to 64 KiB."""
    text = raw[:_MAX_BODY].decode("utf-8", errors="replace")
    if not text:
        return ""
    if "json" in content_type:
        return _JSON_SECRET.sub(r'\1"' + REDACTED + '"', text)
    if "x-www-form-urlencoded" in content_type:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True)
        return urllib.parse.urlencode([(k, REDACTED if k in SECRET_KEYS else v) for k, v in pairs])
    return text


def _redact_query(query: str) -> str:
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    return urllib.parse.urlencode([(k, REDACTED if k in SECRET_KEYS else v) for k, v in pairs])


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if name in LOGGED_HEADERS:
            value = raw_value.decode("latin-1")
            if name == "authorization":
                value = value.split(" ", 1)[0] + " " + REDACTED
            found[name] = value
    return found


class RequestLogMiddleware:
    """ASGI middleware appending one ``LoggedRequest`` per HTTP request outside the admin API."""

    def __init__(
        self,
        app: ASGIApp,
        log: RequestLog,
        clock: SandboxClock,
        exempt_prefix: str = "/_sandbox",
        name_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self._app = app
        self._log = log
        self._clock = clock
        self._exempt = exempt_prefix
        self._name_of = name_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self._exempt):
            await self._app(scope, receive, send)
            return
        at = self._clock.now().isoformat()
        request_chunks: list[bytes] = []
        response_chunks: list[bytes] = []
        status = 0
        response_type = ""

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_chunks.append(message.get("body", b""))
            return message

        async def logged_send(message: Message) -> None:
            nonlocal status, response_type
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        response_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                response_chunks.append(message.get("body", b""))
            await send(message)

        state = scope.setdefault("state", {})
        try:
            await self._app(scope, logged_receive, logged_send)
        finally:
            identity = (state.get(USER_STATE_KEY), state.get(CLIENT_STATE_KEY))
            self._record(
                scope, at, status, identity, (request_chunks, response_chunks), response_type
            )

    def _record(  # noqa: PLR0917 - one log row's parts
        self,
        scope: Scope,
        at: str,
        status: int,
        identity: tuple[str | None, str | None],
        bodies: tuple[list[bytes], list[bytes]],
        response_type: str,
    ) -> None:
        headers = _headers(scope)
        request_chunks, response_chunks = bodies
        user = identity[0]
        name = self._name_of(user) if user is not None and self._name_of is not None else None
        self._log.append(
            LoggedRequest(
                id=self._log.next_id(),
                at=at,
                user=identity[0],
                client=identity[1],
                method=scope["method"],
                path=scope["path"],
                query=_redact_query(scope.get("query_string", b"").decode("latin-1")),
                headers=headers,
                request_body=redact_body(b"".join(request_chunks), headers.get("content-type", "")),
                status=status,
                response_body=redact_body(b"".join(response_chunks), response_type),
                fault=scope.get("state", {}).get(FAULT_STATE_KEY),
                user_name=name,
            )
        )
