"""One business record's story as the timeline page and the API show it.

A search (a FreshBooks id, a Salesforce id, an e-mail address or an organisation name) becomes
the store's trace query (``engine/tracekey.py``; a name becomes its ``org:`` match key), and the
trace becomes JSON: the record's links with a link to the record in each system, and every
event, job, attempt, field write and conflict in time order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from freshforce.engine.matchkey import organisation_key
from freshforce.engine.tracekey import trace_query
from freshforce.store.conflicts import Conflict
from freshforce.store.connections import list_connections
from freshforce.store.links import Link
from freshforce.store.trace import Trace, TraceEntry, TraceQuery, trace_record
from freshforce.web.deps import WebDeps
from freshforce.web.views import plain

__all__ = ["FRESHBOOKS_APP_URL", "TimelineSearch", "record_timeline", "search_query"]

# Any: JSON bound for a template or an API answer.
Json = dict[str, Any]
FRESHBOOKS_APP_URL = "https://my.freshbooks.com"
# The FreshBooks object each flow links, as it appears in the FreshBooks app's addresses.
_FRESHBOOKS_OBJECT = {"clients": "client", "invoices": "invoice", "payments": "payment"}


@dataclass(frozen=True)
class TimelineSearch:
    """What a person typed, and how to read it: ``auto`` (id or e-mail, else a name) or ``name``."""

    text: str
    by: str = "auto"  # auto | name
    flow: str | None = None
    tenant: str = "default"


def search_query(search: TimelineSearch) -> TraceQuery:
    """Return the trace query for a search; ``ValueError`` says what may be searched for."""
    text = search.text.strip()
    if not text:
        msg = "q: type a FreshBooks id, a Salesforce id, an e-mail address or a name"
        raise ValueError(msg)
    if search.by != "name":
        try:
            return trace_query(text, flow=search.flow)
        except ValueError:
            if "@" in text or text.isdigit():
                raise
    key = organisation_key(text)
    if key is None:
        msg = f"q: {text!r} has no letters or digits to match a name by"
        raise ValueError(msg)
    return TraceQuery(match_key=key, flow=search.flow)


async def record_timeline(deps: WebDeps, search: TimelineSearch) -> Json:
    """Return the record's links and timeline; ``ValueError`` for a search that reads as nothing."""
    query = search_query(search)
    async with deps.engine.connect() as conn:
        trace = await trace_record(conn, search.tenant, query)
        infos = await list_connections(conn, tenant=search.tenant)
    instance = next((c.instance_url for c in infos if c.system == "salesforce"), None)
    return {
        "query": {k: v for k, v in asdict(query).items() if v is not None},
        "tenant": search.tenant,
        "links": [_link(link, instance) for link in trace.links],
        "timeline": [_entry(entry) for entry in trace.timeline],
        "counts": _counts(trace),
    }


def freshbooks_url(flow: str, record_id: str) -> str:
    """Return the FreshBooks app's address of a flow's record."""
    return f"{FRESHBOOKS_APP_URL}/#/{_FRESHBOOKS_OBJECT.get(flow, 'client')}/{record_id}"


def salesforce_url(instance_url: str | None, record_id: str) -> str | None:
    """Return the Salesforce address of a record, or ``None`` before Salesforce is connected."""
    return None if not instance_url else f"{instance_url.rstrip('/')}/{record_id}"


def _link(link: Link, instance_url: str | None) -> Json:
    salesforce = [i for i in (link.salesforce_id, link.salesforce_secondary_id) if i]
    return {
        "id": link.id,
        "flow": link.flow,
        "freshbooks_id": link.freshbooks_id,
        "freshbooks_url": link.freshbooks_id and freshbooks_url(link.flow, link.freshbooks_id),
        "salesforce": [{"id": i, "url": salesforce_url(instance_url, i)} for i in salesforce],
        "extra_ids": dict(link.extra_ids),
        "created_at": plain(link.created_at),
    }


def _entry(entry: TraceEntry) -> Json:
    item = entry.item
    if isinstance(item, Conflict):
        detail: Json = {
            "id": item.id,
            "flow": item.flow,
            "status": item.status.value,
            **{k: plain(v) for k, v in asdict(item.parked).items()},
            "resolution": plain(item.resolution),
            "resolved_value": item.resolved_value,
            "resolved_by": item.resolved_by,
            "resolved_at": plain(item.resolved_at),
        }
    else:
        detail = {k: plain(v) for k, v in asdict(item).items()}
    return {"at": plain(entry.at), "kind": entry.kind, "summary": _summary(entry), **detail}


def _summary(entry: TraceEntry) -> str:  # noqa: PLR0911 - one line per kind of entry
    item: Any = entry.item  # Any: each branch reads the fields of its own kind
    match entry.kind:
        case "event" if item.source == "echo":
            return f"echo of our own write to {item.system} {item.object} dropped"
        case "event":
            return f"{item.system} {item.object} changed ({item.source})"
        case "job":
            return f"job {item.id} {item.flow} {item.key}: {item.status}"
        case "attempt":
            error = f" {item.error_class}: {item.error_message}" if item.error_class else ""
            return f"job {item.job_id} attempt {item.attempt}: {item.outcome or 'running'}{error}"
        case "field_write":
            return f"wrote {item.system} {item.object} {item.field}"
        case "conflict":
            return f"conflict on {item.parked.field}: {item.status.value}"
        case _:
            return entry.kind


def _counts(trace: Trace) -> dict[str, int]:
    echoes = sum(1 for e in trace.events if e.source == "echo")
    return {
        "events": len(trace.events) - echoes,
        "echoes": echoes,
        "jobs": len(trace.jobs),
        "attempts": len(trace.attempts),
        "field_writes": len(trace.field_writes),
        "conflicts": len(trace.conflicts),
    }
