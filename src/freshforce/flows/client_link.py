"""The invoices flow's default way to an invoice's client: the link the clients flow stored.

``LinkedClientResolver`` answers ``ClientResolver.freshbooks_client_for`` (flows/invoices.py)
from the clients flow's link of the Account, else ``Account.FreshBooks_Client_Id__c``; with
neither it asks the clients flow to sync the Account now (a coalesced ``clients`` job at invoice
priority, which matches or creates the client under the clients flow's locks, so never a
duplicate) and raises a retryable error: the invoice job runs again once the link exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from freshforce.connectors.salesforce import Priority, to_18
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.engine.retry import wait_delay
from freshforce.errors import PermanentError, TransientError
from freshforce.store.links import find_links
from freshforce.store.scope import Scope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from freshforce.engine.pair import Pair

__all__ = ["LinkedClientResolver"]

_FLOW = "invoices"
# How long an invoice waits for the clients flow before it looks again: long enough for that
# job to run (so the waiting does not spend the invoice job's attempts in a burst).
_LINK_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class LinkedClientResolver:
    """The clients flow's link of the Account, else ``Account.FreshBooks_Client_Id__c``."""

    engine: AsyncEngine

    async def freshbooks_client_for(
        self, pair: Pair, account_id: str, tenant: str, *, attempt: int = 1
    ) -> int:
        """Return the linked client's id, or raise ``TransientError`` (not linked yet).

        The wait doubles with ``attempt`` (the invoice job's), so the job outlasts a clients
        job whose worker died and whose lease must expire before it runs again.
        """
        account_id = to_18(account_id)
        async with self.engine.connect() as db:
            found = await find_links(db, Scope(tenant, "clients"), salesforce_ids=[account_id])
        linked = [k.freshbooks_id for k in found if k.salesforce_id == account_id]
        if linked and linked[0]:
            return _client_id(linked[0], account_id)
        accounts = await pair.salesforce.get_by_ids(
            "Account", [account_id], ["FreshBooks_Client_Id__c"], priority=Priority.INVOICES
        )
        stored = (accounts.get(account_id) or {}).get("FreshBooks_Client_Id__c")
        if stored:
            return _client_id(str(stored), account_id)
        request = JobRequest(
            "clients",
            f"salesforce/Account/{account_id}",
            ({"source": "invoices", "reason": "invoice needs its client"},),
            priority=int(Priority.INVOICES),
            tenant=tenant,
        )
        async with self.engine.begin() as db:
            await JobQueue(self.engine).enqueue_many(db, [request])
        msg = (
            f"Account {account_id} is not linked to a FreshBooks client yet: the clients flow "
            "was asked to link it, and the invoice waits for that"
        )
        raise TransientError(
            msg,
            retry_after=wait_delay(attempt, _LINK_WAIT_SECONDS),
            flow=_FLOW,
            record_key=f"salesforce/Account/{account_id}",
        )


def _client_id(value: str, account_id: str) -> int:
    try:
        return int(value)
    except ValueError:
        msg = f"Account {account_id}: FreshBooks client id {value!r} is not a number"
        raise PermanentError(msg, flow=_FLOW, system="salesforce") from None
