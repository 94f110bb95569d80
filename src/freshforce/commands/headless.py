"""``freshforce connect SYSTEM --refresh-token TOKEN``: connect a server that has no browser.

The refresh token (obtained elsewhere) is checked by spending it once: the token endpoint's
answer names the account (FreshBooks: through ``/auth/api/v1/users/me``; Salesforce: its identity
URL), and the new pair is stored encrypted like any grant. The token is never printed or logged.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import SecretStr

from freshforce.errors import ConfigError

if TYPE_CHECKING:
    from freshforce.commands.context import CliContext
    from freshforce.connectors.providers import System

__all__ = ["connect_headless"]

_URL = re.compile(r"^https?://[^/?#\s]+/?$")


def _checked_instance(system: System, instance_url: str | None) -> str | None:
    if system == "freshbooks":
        if instance_url:
            msg = "--instance-url is for Salesforce connections only"
            raise ConfigError(msg)
        return None
    if not instance_url:
        msg = "--instance-url is required with a Salesforce --refresh-token (https://<domain>.my.salesforce.com)"
        raise ConfigError(msg)
    if not _URL.match(instance_url):
        msg = f"--instance-url must be an http(s) URL with no path, not {instance_url!r}"
        raise ConfigError(msg)
    return instance_url.rstrip("/")


async def connect_headless(
    cli: CliContext,
    system: System,
    connection_id: str,
    refresh_token: str,
    instance_url: str | None,
    *,
    tenant: str = "default",
) -> str:
    """Refresh ``refresh_token`` once, store the connection, return a one-line summary."""
    import sqlalchemy as sa  # noqa: PLC0415 - lazy CLI imports

    from freshforce.connectors.oauth import TokenGrant, refresh_grant  # noqa: PLC0415
    from freshforce.connectors.providers import (  # noqa: PLC0415
        connection_from_grant,
        provider_for,
    )
    from freshforce.runtime import Runtime  # noqa: PLC0415
    from freshforce.store.connections import save_connection  # noqa: PLC0415
    from freshforce.store.schema import connections  # noqa: PLC0415

    instance = _checked_instance(system, instance_url)
    if not refresh_token.strip():
        msg = "--refresh-token is empty"
        raise ConfigError(msg)
    settings = cli.settings
    provider = provider_for(system, settings)
    async with await Runtime.open(settings) as runtime:
        now = runtime.clock()
        grant = await refresh_grant(
            provider, SecretStr(refresh_token.strip()), now=now, transport=runtime.transport
        )
        if instance is not None:
            grant = TokenGrant(grant.tokens, {**grant.extra, "instance_url": instance})
        new = await connection_from_grant(
            system, connection_id, grant, settings, transport=runtime.transport
        )
        new = replace(new, tenant=tenant)
        async with runtime.engine.begin() as db:
            await save_connection(db, runtime.cipher, new, now=now)
            await db.execute(
                sa.update(connections)
                .where(connections.c.id == connection_id)
                .values(token_refreshed_at=now)
            )
    return (
        f"Connected {system} as {connection_id!r} (tenant {tenant}): account {new.remote_account}"
        + (f", business {new.remote_business}" if new.remote_business else "")
    )
