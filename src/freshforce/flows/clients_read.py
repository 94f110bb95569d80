"""Reading the clients flow's records for a whole batch: one call per object per side.

FreshBooks clients come by id in pages of 100 (``search[userids][]``); one that the list no
longer shows (deleted) is fetched alone to see its state. Accounts and Contacts come by id, 200
to a query; an Account the query misses is looked up with ``queryAll`` for ``IsDeleted`` and
``MasterRecordId`` (a merge). Candidates for matching an unlinked record are found in batches
too: Accounts by external id or by a word of their name (one query), Contacts by e-mail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from freshforce.connectors.freshbooks.client import RESOURCES
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.soql import by_ids, literal
from freshforce.engine.matchkey import email_key, organisation_key
from freshforce.errors import RecordGoneError

if TYPE_CHECKING:
    from freshforce.connectors.freshbooks import FreshBooksClient
    from freshforce.connectors.salesforce import SalesforceClient
    from freshforce.connectors.salesforce.governor import Priority
    from freshforce.mapping import FlowMap

__all__ = [
    "EXTERNAL_ID",
    "Found",
    "Remote",
    "choose",
    "find_freshbooks_candidates",
    "find_salesforce_candidates",
    "read_first_contacts",
    "read_freshbooks",
    "read_salesforce",
    "refs_of",
]

CLIENTS = RESOURCES["clients"]
EXTERNAL_ID = "FreshBooks_Client_Id__c"
_IN_CHUNK = 100
_CONTACTS_READ = 20  # an Account's oldest Contacts read with it; the linked one, if not among
_ALWAYS = {
    "Account": ("Id", "LastModifiedDate"),
    "Contact": ("Id", "AccountId", "LastModifiedDate"),
}

Wire = dict[str, Any]
Found = dict[str, set[str]]  # match strategy → candidate ids
EXTERNAL, EMAIL, ORGANISATION = "external_id", "email", "organization_normalised"


@dataclass
class Remote:
    """What one batch read from both sides."""

    clients: dict[str, Wire] = field(default_factory=dict)  # FreshBooks id → wire client
    client_updated: dict[str, dt.datetime | None] = field(default_factory=dict)
    accounts: dict[str, Wire] = field(default_factory=dict)  # 18-char id → record
    contacts: dict[str, Wire] = field(default_factory=dict)
    first_contact: dict[str, Wire] = field(default_factory=dict)  # Account id → oldest Contact
    gone: dict[str, str | None] = field(default_factory=dict)  # deleted Account → master id


def refs_of(flow: FlowMap) -> list[str]:
    """Every Salesforce field ref the flow's rules name, and the external id."""
    refs = dict.fromkeys(ref for rule in flow.rules for ref in rule.salesforce)
    refs[f"Account.{EXTERNAL_ID}"] = None
    return list(refs)


def fields_of(refs: Iterable[str], obj: str) -> list[str]:
    """Return the fields of ``obj`` among ``refs`` plus the ones every read needs."""
    wanted = dict.fromkeys(_ALWAYS[obj])
    wanted.update(dict.fromkeys(r.partition(".")[2] for r in refs if r.startswith(f"{obj}.")))
    return list(wanted)


async def read_freshbooks(fb: FreshBooksClient, ids: Iterable[str], remote: Remote) -> None:
    """Read the clients ``ids`` into ``remote`` (deleted ones too)."""
    wanted = sorted({i for i in ids if i not in remote.clients}, key=int)
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        async for page in fb.list_all(CLIENTS, search={"userids": chunk}):
            for record in page.records:
                remote.clients[str(record.id)] = dict(record.raw)
                remote.client_updated[str(record.id)] = record.updated
    for missing in (i for i in wanted if i not in remote.clients):
        try:
            record = await fb.get(CLIENTS, int(missing))
        except RecordGoneError:
            continue
        remote.clients[missing] = dict(record.raw)
        remote.client_updated[missing] = record.updated


async def read_salesforce(
    sf: SalesforceClient,
    refs: Sequence[str],
    *,
    accounts: Iterable[str],
    contacts: Iterable[str],
    priority: Priority,
    remote: Remote,
) -> None:
    """Read Accounts with their oldest Contacts in one query a 200 ids, and what is gone.

    A Contact asked for by id that its Account's first Contacts do not include (or whose
    Account is not asked for) is read by id.
    """
    account_fields, contact_fields = fields_of(refs, "Account"), fields_of(refs, "Contact")
    wanted = sorted({to_18(a) for a in accounts} - set(remote.accounts))
    for start in range(0, len(wanted), 200):
        chunk = wanted[start : start + 200]
        listed = ", ".join(literal(i) for i in chunk)
        children = (
            f"(SELECT {', '.join(contact_fields)} FROM Contacts "  # noqa: S608 - names from the map
            f"ORDER BY CreatedDate, Id LIMIT {_CONTACTS_READ})"
        )
        selected = ", ".join(account_fields)
        soql = f"SELECT {selected}, {children} FROM Account WHERE Id IN ({listed})"  # noqa: S608
        for account in await sf.query(soql, priority=priority):
            _keep_account(account, remote)
        await _gone(sf, [a for a in chunk if a not in remote.accounts], priority, remote)
    missing = sorted({to_18(c) for c in contacts} - set(remote.contacts))
    if missing:
        found = await sf.get_by_ids("Contact", missing, contact_fields, priority=priority)
        remote.contacts.update(found)


def _keep_account(account: Wire, remote: Remote) -> None:
    account_id = to_18(account["Id"])
    block = account.pop("Contacts", None) or {}
    for contact in block.get("records") or []:
        contact_id = to_18(contact["Id"])
        contact.pop("attributes", None)
        remote.contacts.setdefault(contact_id, contact)
        remote.first_contact.setdefault(account_id, contact)
    remote.accounts[account_id] = account


async def _gone(sf: SalesforceClient, ids: list[str], priority: Priority, remote: Remote) -> None:
    if not ids:
        return
    soql = f"{by_ids('Account', ['Id', 'IsDeleted', 'MasterRecordId'], ids)} "
    pages = sf.query_pages(soql.strip(), priority=priority, include_deleted=True)
    async for page in pages:
        for record in page:
            master = record.get("MasterRecordId")
            remote.gone[to_18(record["Id"])] = to_18(master) if master else None
    for missing in ids:
        remote.gone.setdefault(missing, None)


async def read_first_contacts(
    sf: SalesforceClient, ids: list[str], fields: list[str], priority: Priority, remote: Remote
) -> None:
    for start in range(0, len(ids), 200):
        listed = ", ".join(literal(i) for i in ids[start : start + 200])
        soql = (
            f"SELECT {', '.join(fields)} FROM Contact WHERE AccountId IN ({listed}) "  # noqa: S608 - SOQL, values quoted
            "ORDER BY CreatedDate, Id"
        )
        for contact in await sf.query(soql, priority=priority):
            remote.contacts.setdefault(to_18(contact["Id"]), contact)
            remote.first_contact.setdefault(to_18(contact["AccountId"]), contact)


async def find_salesforce_candidates(
    sf: SalesforceClient,
    clients: Mapping[str, Wire],
    *,
    priority: Priority,
) -> dict[str, Found]:
    """Return, per unlinked FreshBooks client and strategy, the Account ids that match it.

    Two queries for the whole batch: Accounts by external id or by a word of the name (one
    query, each Account sorted into its strategies here), and Contacts by e-mail.
    """
    found: dict[str, Found] = {fb: {} for fb in clients}
    if not clients:
        return found
    await _find_accounts(sf, clients, priority, found)
    by_email = {email_key(c.get("email")): fb for fb, c in clients.items()}
    by_email.pop(None, None)
    if by_email:
        emails = ", ".join(literal(k.removeprefix("email:")) for k in by_email if k)
        soql = f"SELECT Id, AccountId, Email FROM Contact WHERE Email IN ({emails})"  # noqa: S608 - SOQL, values quoted
        for contact in await sf.query(soql, priority=priority):
            fb = by_email.get(email_key(contact.get("Email")))
            if fb is not None and contact.get("AccountId"):
                _add(found[fb], EMAIL, to_18(contact["AccountId"]))
    return found


async def _find_accounts(
    sf: SalesforceClient, clients: Mapping[str, Wire], priority: Priority, found: dict[str, Found]
) -> None:
    """Add the Accounts whose external id is a client's, or whose name is a client's."""
    by_org = {organisation_key(_org(c)): fb for fb, c in clients.items()}
    by_org.pop(None, None)
    words = [_word(k) for k in by_org if k]
    listed = ", ".join(literal(fb) for fb in clients)
    likes = [f"Name LIKE {literal('%' + w + '%')}" for w in words]
    where = " OR ".join([f"{EXTERNAL_ID} IN ({listed})", *likes])
    soql = f"SELECT Id, Name, {EXTERNAL_ID} FROM Account WHERE {where}"  # noqa: S608 - values quoted
    for account in await sf.query(soql, priority=priority):
        account_id, name = to_18(account["Id"]), account.get("Name")
        external = account.get(EXTERNAL_ID)
        by_id = external is not None and str(external) in found
        if by_id:
            _add(found[str(external)], EXTERNAL, account_id)
        fb = by_org.get(organisation_key(name))
        # Found by a name condition, or by its external id alone: then one must hold here.
        if fb is not None and (not by_id or _named_like(name, words)):
            _add(found[fb], ORGANISATION, account_id)


def _named_like(name: str | None, words: Iterable[str]) -> bool:
    """Tell whether ``Name LIKE '%word%'`` holds for one of ``words`` (case-insensitive).

    The words are a match key's (letters and digits: no wildcard).
    """
    folded = (name or "").casefold()
    return any(w.casefold() in folded for w in words)


async def find_freshbooks_candidates(
    fb: FreshBooksClient, account: Wire, contact: Wire | None
) -> Found:
    """Return, per strategy, the FreshBooks clients that match one unlinked Account."""
    found: Found = {}
    external = account.get(EXTERNAL_ID)
    if external:
        _add(found, EXTERNAL, str(external))
    email = email_key((contact or {}).get("Email"))
    if email:
        page = await fb.list_page(CLIENTS, search={"email": email.removeprefix("email:")})
        for record in page.records:
            _add(found, EMAIL, str(record.id))
    org = organisation_key(account.get("Name"))
    if org:
        async for page in fb.list_all(CLIENTS, search={"organization_like": _word(org)}):
            for record in page.records:
                if organisation_key(_org(dict(record.raw))) == org:
                    _add(found, ORGANISATION, str(record.id))
    return found


def choose(order: Sequence[str], found: Found, taken: Container[str]) -> set[str]:
    """Return the candidates of the first strategy, in the map's order, that finds any.

    A candidate linked to another record (``taken``) is no candidate.
    """
    for strategy in order:
        left = {c for c in found.get(str(strategy), ()) if c not in taken}
        if left:
            return left
    return set()


def _add(found: Found, strategy: str, candidate: str) -> None:
    found.setdefault(strategy, set()).add(candidate)


def _org(client: Mapping[str, Any]) -> str | None:
    return client.get("organization") or None


def _word(key: str) -> str:
    """Return the name's first word: a part every spelling of the organisation shares."""
    return key.removeprefix("org:").split()[0]
