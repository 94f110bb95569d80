"""One business record of a clients batch (a unit) and what the flow decides to do with it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from freshforce.engine.flow import Outcome
from freshforce.engine.matchkey import email_key, organisation_key
from freshforce.engine.twoway import Plan, Sides, freshbooks_view, plan_create, plan_sync
from freshforce.errors import PermanentError
from freshforce.mapping import DeletePolicy, Direction
from freshforce.mapping.catalogue import System
from freshforce.store.conflicts import ConflictKind

if TYPE_CHECKING:
    from freshforce.engine.queue import Job
    from freshforce.engine.syncstate import LinkState, Record, StoreState
    from freshforce.flows.clients_read import Remote
    from freshforce.flows.clients_refused import Refusal
    from freshforce.mapping import FlowMap

__all__ = [
    "CREATE_NEW",
    "MATCH_HINT",
    "Action",
    "AmbiguousMatchError",
    "Unit",
    "ambiguous_candidates",
    "decide",
    "review_choice",
    "sf_time",
]

REFUSED = ConflictKind.REFUSED

# extra_ids marker: the FreshBooks client was archived because its Account was deleted.
ARCHIVED_FOR = "archived_for_salesforce_delete"


class AmbiguousMatchError(PermanentError):
    """Several records on the far side match: a person picks (never a guess)."""


class Action(StrEnum):
    """What a unit does."""

    NOTHING = "nothing"
    SYNC = "sync"  # linked (or just matched): three-way merge and its writes
    CREATE_SALESFORCE = "create_salesforce"
    CREATE_FRESHBOOKS = "create_freshbooks"
    UNLINK = "unlink"
    ARCHIVE_FRESHBOOKS = "archive_freshbooks"  # the Account was deleted
    RESTORE_FRESHBOOKS = "restore_freshbooks"  # ... and undeleted
    DELETE_FRESHBOOKS = "delete_freshbooks"
    DELETE_SALESFORCE = "delete_salesforce"
    MERGED = "merged"  # the Account was merged into another: the link follows


@dataclass
class Unit:
    """The jobs about one business record in a batch, and everything decided about it."""

    jobs: list[Job]
    record: Record
    fb_id: str | None = None
    account_id: str | None = None
    contact_id: str | None = None
    link_id: int | None = None
    state: LinkState | None = None
    found: dict[str, set[str]] = field(default_factory=dict)  # strategy → candidates
    candidates: set[str] = field(default_factory=set)  # of the first strategy finding any
    action: Action = Action.NOTHING
    plan: Plan | None = None
    error: BaseException | None = None
    refused: list[Refusal] = field(default_factory=list)  # fields Salesforce refused

    def attach(self, state: StoreState, remote: Remote) -> None:
        """Find this unit's link (by link id, FreshBooks id, Account or Contact id)."""
        found: LinkState | None = None
        if self.link_id is not None:
            found = state.by_id.get(self.link_id)
        elif self.fb_id is not None:
            found = state.by_freshbooks.get(self.fb_id)
        elif self.account_id is not None:
            found = state.by_salesforce.get(self.account_id)
        elif self.contact_id is not None:
            found = state.by_salesforce.get(self.contact_id)
            contact = remote.contacts.get(self.contact_id)
            if found is None and contact and contact.get("AccountId"):
                from freshforce.connectors.salesforce.ids import to_18  # noqa: PLC0415

                self.account_id = to_18(contact["AccountId"])
                found = state.by_salesforce.get(self.account_id)
            if found is None:
                self.contact_id = None if self.account_id else self.contact_id
        if found is not None:
            self.state = found
            link = found.link
            self.fb_id, self.account_id = link.freshbooks_id, link.salesforce_id
            self.contact_id = link.salesforce_secondary_id
            self.record.link = link

    def identity(self) -> str:
        if self.state is not None:
            return f"link:{self.state.link.id}"
        return f"fb:{self.fb_id}" if self.fb_id else f"sf:{self.account_id or self.contact_id}"

    def describe(self) -> str:
        if self.fb_id:
            return f"FreshBooks client {self.fb_id}"
        return f"Salesforce Account {self.account_id or self.contact_id}"

    def fb_alive(self, remote: Remote) -> bool:
        client = remote.clients.get(self.fb_id or "")
        return client is not None and int(client.get("vis_state") or 0) == 0

    def linked_in(self, state: StoreState) -> bool:
        return (self.fb_id or "") in state.by_freshbooks or (
            self.account_id or ""
        ) in state.by_salesforce

    def lock_keys(self, remote: Remote) -> frozenset[str]:
        """Return the keys that make two jobs about this business wait for each other."""
        if self.state is not None:
            return frozenset({self.identity()})
        keys = {self.identity()}
        if self.fb_id and self.fb_id in remote.clients:
            client = remote.clients[self.fb_id]
            keys |= {
                organisation_key(client.get("organization") or _name(client)),
                email_key(client.get("email")),
            } - {None}  # type: ignore[arg-type]  # None removed
        elif self.account_id and self.account_id in remote.accounts:
            contact = remote.first_contact.get(self.account_id) or {}
            keys |= {
                organisation_key(remote.accounts[self.account_id].get("Name")),
                email_key(contact.get("Email")),
            } - {None}  # type: ignore[arg-type]  # None removed
        return frozenset(k for k in keys if k)

    def outcomes(self) -> list[Outcome]:
        """One outcome per job: the first carries the unit's effects, the rest ride along."""
        first, *rest = self.jobs
        if self.error is not None:
            from freshforce.engine.syncstate import Record  # noqa: PLC0415

            release = Record(self.record.scope, first.id, locks=self.record.locks)
            fail = isinstance(self.error, PermanentError)
            make = Outcome.fail if fail else Outcome.retry
            return [make(first, self.error, release), *(make(j, self.error) for j in rest)]
        if self.action is Action.NOTHING and not self.record.writes:
            return [Outcome.skipped(first, self.record), *(Outcome.skipped(j) for j in rest)]
        return [Outcome.done(first, self.record), *(Outcome.done(j) for j in rest)]


def decide(flow: FlowMap, unit: Unit, remote: Remote) -> None:
    """Choose the unit's action and plan its writes from what was read."""
    if unit.state is not None:
        _linked(flow, unit, remote)
    elif unit.fb_id is not None:
        _from_freshbooks(flow, unit, remote)
    elif unit.account_id is not None:
        _from_salesforce(flow, unit, remote)


def sides_of(unit: Unit, remote: Remote, fb_id: str | None, account_id: str | None) -> Sides:
    """Both sides' current state for ``fb_id`` and ``account_id`` (either may be new)."""
    client = remote.clients.get(fb_id or "", {})
    account = remote.accounts.get(account_id or "", {})
    contact = remote.contacts.get(unit.contact_id or "") or remote.first_contact.get(
        account_id or ""
    )
    modified = {"Account": sf_time(account.get("LastModifiedDate"))}
    if contact:
        modified["Contact"] = sf_time(contact.get("LastModifiedDate"))
    return Sides(
        client,
        {"Account": account, "Contact": contact or {}},
        remote.client_updated.get(fb_id or ""),
        modified,
    )


def _linked(flow: FlowMap, unit: Unit, remote: Remote) -> None:
    assert unit.state is not None  # noqa: S101 - decide() checked
    link = unit.state.link
    account = remote.accounts.get(unit.account_id or "")
    client = remote.clients.get(unit.fb_id or "")
    if account is None:
        master = remote.gone.get(unit.account_id or "")
        if master:
            unit.action = Action.MERGED
            unit.record.moved = (unit.account_id or "", master)
            return
        unit.action = {
            DeletePolicy.ARCHIVE: Action.ARCHIVE_FRESHBOOKS,
            DeletePolicy.PROPAGATE: Action.DELETE_FRESHBOOKS,
            DeletePolicy.UNLINK: Action.UNLINK,
            DeletePolicy.IGNORE: Action.NOTHING,
        }[flow.deletes[System.SALESFORCE]]
        if unit.action is Action.ARCHIVE_FRESHBOOKS and not unit.fb_alive(remote):
            unit.action = Action.NOTHING
        return
    if client is None or not unit.fb_alive(remote):
        if client is not None and link.extra_ids.get(ARCHIVED_FOR):
            unit.action = Action.RESTORE_FRESHBOOKS  # the Account came back: so does the client
            return
        unit.action = {
            DeletePolicy.ARCHIVE: Action.UNLINK,  # an Account has no archive: forget the link
            DeletePolicy.PROPAGATE: Action.DELETE_SALESFORCE,
            DeletePolicy.UNLINK: Action.UNLINK,
            DeletePolicy.IGNORE: Action.NOTHING,
        }[flow.deletes[System.FRESHBOOKS]]
        return
    snapshot = unit.state.snapshot
    unit.action = Action.SYNC
    waiting = unit.state.held.items()
    unit.plan = plan_sync(
        flow,
        sides_of(unit, remote, unit.fb_id, unit.account_id),
        snapshot.fields if snapshot else None,
        held={name: c.parked.base_value for name, c in waiting if c.kind is not REFUSED},
        resolved=unit.state.resolved,
        refused={name: c.parked.refused_value for name, c in waiting if c.kind is REFUSED},
    )


def _from_freshbooks(flow: FlowMap, unit: Unit, remote: Remote) -> None:
    if not unit.fb_alive(remote):
        return  # deleted or archived before it was ever linked: nothing to do
    if len(unit.candidates) > 1:
        unit.error = _ambiguous(unit, "Accounts", unit.candidates)
    elif unit.candidates:
        unit.account_id = next(iter(unit.candidates))
        unit.action = Action.SYNC
        unit.plan = plan_sync(flow, sides_of(unit, remote, unit.fb_id, unit.account_id), None)
    else:
        unit.action = Action.CREATE_SALESFORCE
        unit.plan = plan_create(
            flow, Direction.TO_SALESFORCE, sides_of(unit, remote, unit.fb_id, None)
        )


def _from_salesforce(flow: FlowMap, unit: Unit, remote: Remote) -> None:
    if unit.account_id not in remote.accounts:
        return  # deleted before it was ever linked
    alive = {c for c in unit.candidates if remote.clients.get(c, {}).get("vis_state", 1) == 0}
    if len(alive) > 1:
        unit.error = _ambiguous(unit, "FreshBooks clients", alive)
    elif alive:
        unit.fb_id = next(iter(alive))
        unit.action = Action.SYNC
        unit.plan = plan_sync(flow, sides_of(unit, remote, unit.fb_id, unit.account_id), None)
    else:
        unit.action = Action.CREATE_FRESHBOOKS
        sides = sides_of(unit, remote, None, unit.account_id)
        unit.plan = plan_create(flow, Direction.TO_FRESHBOOKS, sides)


def _ambiguous(unit: Unit, what: str, candidates: set[str]) -> AmbiguousMatchError:
    listed = ", ".join(sorted(candidates))
    return AmbiguousMatchError(
        f"{unit.describe()} matches {len(candidates)} {what} ({listed}); link one by setting "
        "Account.FreshBooks_Client_Id__c, or make the names and e-mails differ, then replay"
    )


_CANDIDATES = re.compile(r"matches \d+ (?:Accounts|FreshBooks clients) \(([^)]*)\)")


def ambiguous_candidates(message: str) -> list[str]:
    """Return the candidate ids an :class:`AmbiguousMatchError`'s message lists (or none)."""
    found = _CANDIDATES.search(message)
    return [c.strip() for c in found.group(1).split(",")] if found else []


# A job hint carrying a person's answer to an ambiguous match: ``{"match": "<candidate id>"}``
# links that candidate, ``{"match": "new"}`` creates the record on the far side instead.
MATCH_HINT = "match"
CREATE_NEW = "new"


def review_choice(jobs: list[Job]) -> str | None:
    """Return the latest review answer (a candidate id or ``new``) the unit's jobs carry."""
    found = [
        str(hint[MATCH_HINT])
        for job in jobs
        for hint in job.hints
        if isinstance(hint, dict) and hint.get(MATCH_HINT)
    ]
    return found[-1] if found else None


def sf_time(value: Any) -> dt.datetime | None:  # noqa: ANN401 - a wire value
    """Parse a Salesforce datetime (``2026-01-02T03:04:05.000+0000``) to an aware datetime."""
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value))


def _name(client: dict[str, Any]) -> str | None:
    text = f"{client.get('fname') or ''} {client.get('lname') or ''}".strip()
    return text or None


def fb_view_of(flow: FlowMap, client: dict[str, Any]) -> dict[str, Any]:
    """FreshBooks' two-way fields of ``client`` mapped to Salesforce refs (for fingerprints)."""
    return freshbooks_view(flow, flow.apply(client, Direction.TO_SALESFORCE))
