"""Assembles one Salesforce sandbox from its parts: state, sessions, connected app, HTTP app.

The one place the pieces are built and handed to each other; the ``freshforce sandbox`` command,
the tests and the benchmark call ``build_salesforce_sandbox``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI

from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.api import create_app
from freshforce.sandbox.salesforce.changes import ChangeLog
from freshforce.sandbox.salesforce.seed import seed_org
from freshforce.sandbox.salesforce.sessions import ConnectedApp, Sessions
from freshforce.sandbox.salesforce.state import SalesforceState

__all__ = ["SalesforceSandbox", "build_salesforce_sandbox"]

ADMIN_USERNAME = "admin@freshforce.sandbox"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SalesforceSandbox:
    """A ready sandbox org and its app, with the credentials printed for the user."""

    state: SalesforceState
    sessions: Sessions
    app: FastAPI
    client_id: str
    username: str
    client_secret: str = field(repr=False)
    password: str = field(repr=False)


def build_salesforce_sandbox(
    runtime: SandboxRuntime | None = None,
    *,
    seed: int = 42,
    records: int = 0,
    daily_api_limit: int = 15_000,
    changes: ChangeLog | None = None,
    client_id: str = "freshforce-sandbox",
    client_secret: str = "sandbox-secret",  # noqa: S107 - a local sandbox's documented default
    password: str = "sandbox-password",  # noqa: S107 - same
    redirect_uris: tuple[str, ...] = (),
    multi_currency: bool = False,
    org_number: int = 1,
    username: str = ADMIN_USERNAME,
) -> SalesforceSandbox:
    """Build state, sessions and app; ``records`` accounts etc. are seeded from ``seed``.

    ``multi_currency`` turns the org setting on (off by default, as in a new real org).
    """
    clock = runtime.clock.now if runtime is not None else _utc_now
    state = SalesforceState(
        clock=clock,
        changes=changes,
        rng=random.Random(seed),  # noqa: S311 - transaction keys, not secrets
        daily_api_limit=daily_api_limit,
        multi_currency=multi_currency,
        org_number=org_number,
    )
    sessions = Sessions(org_id=state.org_id, clock=clock)
    sessions.register_app(ConnectedApp(client_id, client_secret, redirect_uris))
    sessions.set_password(username, state.admin_user_id, password)
    if records:
        seed_org(state, records, seed)
    app = create_app(state, sessions, runtime)
    return SalesforceSandbox(
        state=state,
        sessions=sessions,
        app=app,
        client_id=client_id,
        username=username,
        client_secret=client_secret,
        password=password,
    )
