"""The integration pair of a tenant: its one FreshBooks and its one Salesforce connection.

A tenant is one integration pair sharing the deployment with others; every job names its
tenant, and a flow opens the pair's clients once per tenant it sees in a batch. A tenant with no
connection, or with two of one system, is a configuration mistake reported by name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from freshforce.errors import ConfigError
from freshforce.store.connections import ConnectionInfo, list_connections

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.connectors.freshbooks import FreshBooksClient
    from freshforce.connectors.salesforce import SalesforceClient

__all__ = ["Pair", "PairSource", "pair_connections"]


@dataclass(frozen=True)
class Pair:
    """A tenant's two connections and their open clients."""

    tenant: str
    freshbooks_connection: str
    salesforce_connection: str
    freshbooks: FreshBooksClient
    salesforce: SalesforceClient


# How a flow gets the pair of a job's tenant (``Runtime.pair``; tests pass their own).
PairSource = Callable[[str], Awaitable[Pair]]


async def pair_connections(engine: AsyncEngine, tenant: str) -> tuple[str, str]:
    """Return the names of ``tenant``'s FreshBooks and Salesforce connections."""
    async with engine.connect() as db:
        found = await list_connections(db, tenant=tenant)
    return _one(found, tenant, "freshbooks"), _one(found, tenant, "salesforce")


def _one(found: list[ConnectionInfo], tenant: str, system: str) -> str:
    names = [c.id for c in found if c.system == system]
    if len(names) == 1:
        return names[0]
    if not names:
        msg = (
            f"tenant {tenant!r} has no {system} connection: connect one with "
            f"`freshforce connect {system}`"
        )
    else:
        listed = ", ".join(names)
        msg = f"tenant {tenant!r} has {len(names)} {system} connections ({listed}); keep one"
    raise ConfigError(msg)
