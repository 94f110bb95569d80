"""Register the FreshBooks callbacks the product needs, once, against the ``public_url`` setting.

Each connection's callbacks post to ``<public_url>/webhooks/freshbooks/<connection>``, the web
app's route, which confirms them with FreshBooks when their verifier arrives. Registration is
idempotent: a callback already registered with the same event and URI is kept (and, while
unverified, asked to resend its verifier), never duplicated; callbacks for other URIs are left
alone. Bare event names (``client``) subscribe to every event on that object.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import quote

from freshforce.errors import ConfigError, TransientError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from freshforce.connectors.freshbooks.client import Callback, FreshBooksClient

__all__ = [
    "CALLBACK_EVENTS",
    "CallbackAction",
    "RegisteredCallback",
    "register_callbacks",
    "webhook_uri",
]

CALLBACK_EVENTS: tuple[str, ...] = ("client", "invoice", "payment")


class CallbackAction(StrEnum):
    """What registration did for one event."""

    CREATED = "created"
    KEPT = "kept"  # already registered with this URI (verified, or its verifier re-sent)


@dataclass(frozen=True)
class RegisteredCallback:
    """One event's callback after registration."""

    event: str
    callback_id: int
    action: CallbackAction
    verified: bool


def webhook_uri(public_url: str, connection: str) -> str:
    """Return the URI FreshBooks posts ``connection``'s deliveries to."""
    if not public_url:
        msg = "setting public_url (FRESHFORCE_PUBLIC_URL) is empty: FreshBooks cannot reach us"
        raise ConfigError(msg)
    return f"{public_url.rstrip('/')}/webhooks/freshbooks/{quote(connection, safe='')}"


async def register_callbacks(
    client: FreshBooksClient,
    public_url: str,
    connection: str,
    *,
    events: Sequence[str] = CALLBACK_EVENTS,
    wait_seconds: float = 0.0,
) -> list[RegisteredCallback]:
    """Make sure one callback per event posts to this install; optionally wait until verified.

    ``wait_seconds`` > 0 polls FreshBooks until every callback is verified (the web route
    confirms them as their verifiers arrive) and raises ``TransientError`` if that takes longer.
    """
    uri = webhook_uri(public_url, connection)
    existing = await client.list_callbacks()
    done: list[RegisteredCallback] = []
    for event in events:
        mine = [c for c in existing if c.event == event and c.uri == uri]
        if not mine:
            made = await client.register_callback(event, uri)
            done.append(RegisteredCallback(event, made.id, CallbackAction.CREATED, made.verified))
            continue
        kept = next((c for c in mine if c.verified), mine[0])
        if not kept.verified:
            await client.resend_verification(kept.id)
        done.append(RegisteredCallback(event, kept.id, CallbackAction.KEPT, kept.verified))
    if wait_seconds > 0:
        done = await _wait_verified(client, done, wait_seconds)
    return done


async def _wait_verified(
    client: FreshBooksClient, done: list[RegisteredCallback], wait_seconds: float
) -> list[RegisteredCallback]:
    deadline = time.monotonic() + wait_seconds
    while True:
        state: dict[int, Callback] = {c.id: c for c in await client.list_callbacks()}
        done = [
            RegisteredCallback(r.event, r.callback_id, r.action, state[r.callback_id].verified)
            if r.callback_id in state
            else r
            for r in done
        ]
        waiting = [r.event for r in done if not r.verified]
        if not waiting:
            return done
        if time.monotonic() >= deadline:
            msg = (
                f"FreshBooks callbacks not verified after {wait_seconds:g} s: {', '.join(waiting)}"
                " (is public_url reachable from FreshBooks and is the web app running?)"
            )
            raise TransientError(msg)
        await asyncio.sleep(0.2)
