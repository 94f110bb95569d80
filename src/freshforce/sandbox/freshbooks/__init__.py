"""The FreshBooks sandbox: OAuth, identity, accounting and webhooks as FreshBooks documents them.

``build_freshbooks(FreshBooksOptions(...))`` returns the ASGI app with its state and runtime;
serve it with ``freshforce.sandbox.core.SandboxServer`` or call it through
``httpx.ASGITransport``. Layout follows moto: ``state``/``accounting``/``oauth``/``webhooks`` hold
records and behaviour, ``api``/``events_api``/``oauth_api`` the routes, ``wire`` the envelopes,
``errors`` the exact error bodies, ``seed`` the generated data.
"""

from freshforce.sandbox.freshbooks.app import FreshBooksOptions, FreshBooksSandbox, build_freshbooks
from freshforce.sandbox.freshbooks.state import DEFAULT_APP, DEFAULT_IDENTITY, FreshBooksState
from freshforce.sandbox.freshbooks.webhooks import sign

__all__ = [
    "DEFAULT_APP",
    "DEFAULT_IDENTITY",
    "FreshBooksOptions",
    "FreshBooksSandbox",
    "FreshBooksState",
    "build_freshbooks",
    "sign",
]
