"""Read a ``freshforce trace KEY`` argument: which record it names, as the store's trace query.

A KEY is a FreshBooks id (``42``, or ``client/42`` to name the object), a Salesforce id (15 or
18 characters, or ``Account/001…``; stored in the 18-character form) or an e-mail address
(matched by its normalised match key). A job's record key (``freshbooks/client/42``) works too.
Fifteen or eighteen letters and digits read as a Salesforce id: no FreshBooks id is that long.
"""

from __future__ import annotations

import re

from freshforce.connectors.salesforce.ids import to_18
from freshforce.engine.matchkey import email_key
from freshforce.store.trace import TraceQuery

__all__ = ["trace_query"]

_FRESHBOOKS = re.compile(r"(?:freshbooks/)?(?:(?P<object>[a-z_]+)/)?(?P<id>\d+)")
_SALESFORCE = re.compile(
    r"(?:salesforce/)?(?:[A-Za-z_0-9]+/)?(?P<id>[A-Za-z0-9]{15}|[A-Za-z0-9]{18})"
)


def trace_query(key: str, *, flow: str | None = None) -> TraceQuery:
    """Return the trace query for ``key``; a ``ValueError`` says what a KEY may be."""
    text = key.strip()
    if "@" in text:
        match_key = email_key(text)
        if match_key is None:
            msg = f"trace KEY {key!r}: not an e-mail address"
            raise ValueError(msg)
        return TraceQuery(match_key=match_key, flow=flow)
    if found := _SALESFORCE.fullmatch(text):
        try:
            return TraceQuery(salesforce_id=to_18(found["id"]), flow=flow)
        except ValueError as exc:
            msg = f"trace KEY {key!r}: {exc}"
            raise ValueError(msg) from exc
    if found := _FRESHBOOKS.fullmatch(text):
        return TraceQuery(freshbooks_id=found["id"], freshbooks_object=found["object"], flow=flow)
    msg = (
        f"trace KEY {key!r}: give a FreshBooks id (42 or client/42), a Salesforce id "
        "(15 or 18 characters) or an e-mail address"
    )
    raise ValueError(msg)
