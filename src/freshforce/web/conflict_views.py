"""Conflicts as the review pages and the API show them, and settling one with an audit row.

Settling goes through ``engine/settle.py`` (the conflict is resolved and its link re-synced by a
``link/<id>`` job in one transaction); the audit row records who took which side or value.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from freshforce.engine.settle import ConflictNotOpenError, settle_conflict
from freshforce.store.audit import record_audit
from freshforce.store.conflicts import Conflict, ConflictStatus, Resolution, get_conflict
from freshforce.store.conflicts import list_conflicts as store_list_conflicts
from freshforce.store.links import get_link
from freshforce.store.scope import Scope
from freshforce.web.actions import GoneError, NotFoundError
from freshforce.web.deps import WebDeps
from freshforce.web.views import plain

__all__ = ["conflict_view", "conflicts_view", "parse_value", "resolve"]

# Any: JSON bound for a template or an API answer.
Json = dict[str, Any]


def _json(conflict: Conflict) -> Json:
    return {
        "id": conflict.id,
        "tenant": conflict.tenant,
        "flow": conflict.flow,
        **{k: plain(v) for k, v in asdict(conflict.parked).items()},
        "status": conflict.status.value,
        "resolution": plain(conflict.resolution),
        "resolved_value": conflict.resolved_value,
        "resolved_by": conflict.resolved_by,
        "resolved_at": plain(conflict.resolved_at),
        "created_at": plain(conflict.created_at),
        "updated_at": plain(conflict.updated_at),
    }


async def conflicts_view(deps: WebDeps, tenant: str, state: str = "open") -> list[Json]:
    """Return the tenant's conflicts, oldest first: ``open``, ``resolved`` or ``all``."""
    status = None if state == "all" else ConflictStatus(state)
    async with deps.engine.connect() as conn:
        found = await store_list_conflicts(conn, tenant, status=status)
    return [_json(c) for c in found]


async def conflict_view(deps: WebDeps, tenant: str, conflict_id: int) -> Json:
    """Return one conflict; :class:`NotFoundError` when the tenant has none of that id."""
    async with deps.engine.connect() as conn:
        found = await get_conflict(conn, tenant, conflict_id)
        if found is None:
            raise NotFoundError(f"no conflict {conflict_id} for tenant {tenant!r}")
        link = await get_link(conn, Scope(tenant, found.flow), found.parked.link_id)
    record_key = link and (link.freshbooks_id or link.salesforce_id)
    return {**_json(found), "record_key": record_key}


def parse_value(text: str, kind: str) -> Any:  # noqa: ANN401 - a JSON wire value
    """Read a typed value: ``text`` as it is, or ``json`` parsed (``ValueError`` names where)."""
    if kind == "text":
        return text
    if kind != "json":
        msg = f"value_type: {kind!r} is not one of text, json"
        raise ValueError(msg)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"value: not JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise ValueError(msg) from None


async def resolve(
    deps: WebDeps,
    actor: str,
    tenant: str,
    conflict_id: int,
    *,
    take: Resolution,
    value: Any = None,  # noqa: ANN401 - a JSON wire value, only with Resolution.VALUE
) -> Json:
    """Settle an open conflict as ``actor`` and audit it; return the settled conflict.

    :class:`NotFoundError` for an unknown conflict, :class:`GoneError` for a settled one.
    """
    before = await conflict_view(deps, tenant, conflict_id)
    try:
        settled = await settle_conflict(
            deps.queue, tenant, conflict_id, take=take, value=value, by=actor
        )
    except ConflictNotOpenError:
        raise GoneError(f"conflict {conflict_id} was settled already") from None
    async with deps.engine.begin() as conn:
        await record_audit(
            conn,
            actor=actor,
            action="conflict.resolve",
            target=f"conflict:{conflict_id}",
            now=deps.clock(),
            detail={
                "tenant": tenant,
                "flow": settled.flow,
                "link_id": settled.parked.link_id,
                "field": settled.parked.field,
                "take": take.value,
                "value": settled.resolved_value,
                "freshbooks_value": before["freshbooks_value"],
                "salesforce_value": before["salesforce_value"],
            },
        )
    return _json(settled)
