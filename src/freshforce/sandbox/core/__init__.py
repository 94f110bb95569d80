"""Vendor-neutral sandbox machinery: clock, faults, request log, webhooks, admin API, TLS, serving.

A vendor server (``sandbox/freshbooks``, ``sandbox/salesforce``) is built from these parts:

1. ``runtime = SandboxRuntime.create(seed)``: one clock, fault set, request log and webhook
   ``DeliveryQueue`` per server. Use ``runtime.clock.now()`` for every timestamp and expiry.
2. Implement ``SandboxControl`` on the vendor state: ``reset()``, ``seed(records, seed)``,
   ``snapshot()`` and ``mint_token(user, expires_in)`` (see ``runtime.SandboxControl``).
3. Implement ``FaultRenderer.render_fault(rule, path) -> FaultResponse`` with the vendor's own
   bodies for ``error``, ``rate_limit``, ``expired_token`` and ``limit_exhausted``.
4. ``install(app, runtime, control, renderer)`` adds the fault and request-log middlewares and
   the ``/_sandbox`` admin routes. Call ``attribute_request(request, user, client)`` in the auth
   dependency so the request log knows who called. A vendor with several users passes
   ``users=`` (a ``UserDirectory``: add, list, find, identify a token, mint) and gets
   ``/_sandbox/users``, fault rules aimed at one user or OAuth client and user names in the
   log; ``callbacks=`` checks callback ids for per-callback delivery modes.
5. Webhooks/CDC: ``runtime.deliveries.enqueue(Outgoing(...))`` from a route handler; retries,
   loss, duplication, lateness and reordering are applied and logged by the queue.
6. Serve: ``SandboxServer(app, host, port, tls=generate_certificate(dir))`` then
   ``start_in_thread()`` (sync callers) or ``await serve()`` (an event loop you own).
   Call ``await runtime.aclose()`` on shutdown (a FastAPI lifespan does it).

Nothing here imports the engine, the store or the connectors, or any vendor package.
"""

from freshforce.sandbox.core.admin import admin_router
from freshforce.sandbox.core.clock import SandboxClock
from freshforce.sandbox.core.delivery import (
    DeliveryAttempt,
    DeliveryLog,
    DeliveryMode,
    DeliveryQueue,
    DeliveryRetryPolicy,
    Outgoing,
)
from freshforce.sandbox.core.faults import (
    DroppedConnectionError,
    FaultKind,
    FaultMiddleware,
    FaultRenderer,
    FaultResponse,
    FaultRule,
    FaultSet,
)
from freshforce.sandbox.core.mount import install
from freshforce.sandbox.core.requestlog import (
    LoggedRequest,
    RequestLog,
    RequestLogMiddleware,
    attribute_request,
    redact_body,
)
from freshforce.sandbox.core.runtime import SandboxControl, SandboxRuntime
from freshforce.sandbox.core.server import SandboxServer
from freshforce.sandbox.core.tls import TlsFiles, generate_certificate
from freshforce.sandbox.core.users import Caller, SandboxUser, UserDirectory, split_name

__all__ = [
    "Caller",
    "DeliveryAttempt",
    "DeliveryLog",
    "DeliveryMode",
    "DeliveryQueue",
    "DeliveryRetryPolicy",
    "DroppedConnectionError",
    "FaultKind",
    "FaultMiddleware",
    "FaultRenderer",
    "FaultResponse",
    "FaultRule",
    "FaultSet",
    "LoggedRequest",
    "Outgoing",
    "RequestLog",
    "RequestLogMiddleware",
    "SandboxClock",
    "SandboxControl",
    "SandboxRuntime",
    "SandboxServer",
    "SandboxUser",
    "TlsFiles",
    "UserDirectory",
    "admin_router",
    "attribute_request",
    "generate_certificate",
    "install",
    "redact_body",
    "split_name",
]
