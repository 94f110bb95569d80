"""Changes to an invoiced deal, by policy: a draft follows its deal, the rest waits for review.

Once a deal has its invoice, each later change of the Opportunity (or its line items) compares
what the deal would invoice now with the invoice as FreshBooks has it:

- the same: nothing to do;
- different, the invoice a draft and ``invoice_draft_changes: update`` (the default): the
  invoice is updated in place (header fields and the whole set of lines);
- different otherwise (sent, viewed, paid, or drafts under ``review``): a review entry on the
  invoice's link, field ``invoice``, with both contents;
- the deal no longer won: a review entry, field ``StageName`` (an invoice is never voided or
  deleted by the flow);
- the Opportunity deleted: a review entry, field ``deleted``, under ``invoice_deleted_deal:
  review`` (the default); ``ignore`` leaves the invoice as it is.

Review entries are conflicts of the ``invoices`` flow, listed by ``freshforce conflicts`` and
the dashboard. Settling one re-runs the deal (job ``link/<id>``): taking Salesforce's side of an
``invoice`` entry writes the deal's content to the invoice, sent or not; any other settlement
keeps the invoice, and the same difference is not flagged again.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.engine.fieldlog import field_write
from freshforce.engine.flow import Outcome
from freshforce.store.conflicts import Conflict, Parked, Resolution, park_conflict
from freshforce.store.conflicts import settled_conflicts as _settled
from freshforce.store.linking import NewLink, create_link
from freshforce.store.links import find_links
from freshforce.store.scope import Scope
from freshforce.store.writelog import record_field_writes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.connectors.freshbooks.models import Invoice
    from freshforce.engine.flow import Effect
    from freshforce.engine.pair import Pair
    from freshforce.flows.invoice_source import Opportunity
    from freshforce.store.links import Link
    from freshforce.store.queue import Job

__all__ = ["CONTENT", "DELETED", "STAGE", "content_of", "deleted_deal", "follow_deal", "unwon"]

FLOW = "invoices"
CONTENT, STAGE, DELETED = "invoice", "StageName", "deleted"
_INVOICES = RESOURCES["invoices"]
_SKIP = frozenset({"po_number"})  # the reference: the same by construction
log = structlog.get_logger("freshforce.flows.invoices")


def content_of(body: Mapping[str, Any], invoice: Mapping[str, Any]) -> tuple[Any, Any]:
    """Return (wanted, current): ``body``'s fields and lines, and the same of ``invoice``.

    Both are plain JSON with numbers normalised, so equal contents compare equal.
    """
    wanted = {k: _norm(v) for k, v in body.items() if k not in _SKIP and k != "lines"}
    current = {k: _norm(invoice.get(k)) for k in wanted}
    lines = list(body.get("lines") or [])
    have = list(invoice.get("lines") or [])
    wanted["lines"] = [_norm(line) for line in lines]
    current["lines"] = [
        {k: _norm(line.get(k)) for k in (lines[n] if n < len(lines) else line)}
        for n, line in enumerate(have)
    ]
    return wanted, current


def _norm(value: object) -> Any:  # noqa: ANN401 - JSON values
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    if value is None:
        return ""
    text = str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return text if not number.is_finite() else format(number.normalize(), "f")


def _summary(invoice: Invoice) -> dict[str, Any]:
    amount = invoice.amount.amount if invoice.amount else None
    return {
        "id": invoice.id,
        "invoice_number": invoice.invoice_number,
        "status": invoice.v3_status,
        "amount": None if amount is None else str(amount),
    }


async def follow_deal(
    engine: AsyncEngine,
    pair: Pair,
    job: Job,
    opportunity: Opportunity,
    invoice: Invoice,
    *,
    body: Mapping[str, Any],
    update_drafts: bool,
) -> Outcome:
    """Bring ``invoice`` in line with its won deal's ``body``, or flag the difference."""
    wanted, current = content_of(body, invoice.raw)
    if wanted == current:
        return Outcome.skipped(job)
    settled = await _last_settled(engine, job.tenant, opportunity.id, CONTENT)
    chosen = settled is not None and settled.parked.salesforce_value == wanted
    if chosen and settled is not None and settled.resolution is not Resolution.SALESFORCE:
        log.info("invoice_change_kept", record_key=job.key, invoice_id=invoice.id)
        return Outcome.skipped(job)
    draft = invoice.v3_status == "draft" or invoice.status == 1
    if not chosen and not (draft and update_drafts):
        log.info("invoice_change_flagged", record_key=job.key, invoice_id=invoice.id)
        parked = _parked(CONTENT, base=current, freshbooks=current, salesforce=wanted)
        return Outcome.done(job, _review(job, opportunity, invoice, parked))
    fields = {k: v for k, v in body.items() if k not in _SKIP}
    await pair.freshbooks.update(_INVOICES, invoice.id, fields)
    log.info("invoice_updated", record_key=job.key, invoice_id=invoice.id)
    writes = [
        field_write(
            system="freshbooks", obj="invoice", record_id=str(invoice.id), field=name,
            before=current.get(name), after=value, job_id=job.id,
        )
        for name, value in wanted.items()
        if current.get(name) != value
    ]  # fmt: skip
    scope = Scope(job.tenant, FLOW)

    async def log_writes(db: AsyncConnection) -> None:
        await record_field_writes(db, scope, writes)

    return Outcome.done(job, log_writes)


async def unwon(
    engine: AsyncEngine, job: Job, opportunity: Opportunity, invoice: Invoice
) -> Outcome:
    """Flag an invoiced deal that is no longer won; the invoice itself is left alone."""
    stage = opportunity.record["Opportunity"].get("StageName")
    settled = await _last_settled(engine, job.tenant, opportunity.id, STAGE)
    if settled is not None and settled.parked.salesforce_value == stage:
        return Outcome.skipped(job)
    log.info("invoice_deal_not_won", record_key=job.key, invoice_id=invoice.id, stage=stage)
    parked = _parked(STAGE, base="won", freshbooks=_summary(invoice), salesforce=stage)
    return Outcome.done(job, _review(job, opportunity, invoice, parked))


async def deleted_deal(
    engine: AsyncEngine, job: Job, opportunity_id: str, link: Link, *, review: bool
) -> Outcome:
    """Flag (or, under ``ignore``, just note) an invoiced Opportunity deleted in Salesforce."""
    if not review:
        log.info("invoice_deal_deleted", record_key=job.key, invoice_id=link.freshbooks_id)
        return Outcome.skipped(job)
    settled = await _last_settled(engine, job.tenant, opportunity_id, DELETED)
    if settled is not None:
        return Outcome.skipped(job)
    log.info("invoice_deal_deleted_flagged", record_key=job.key, invoice_id=link.freshbooks_id)
    invoice = {"id": link.freshbooks_id}
    parked = Parked(link.id, DELETED, None, invoice, None)
    scope = Scope(job.tenant, FLOW)

    async def park(db: AsyncConnection) -> None:
        await park_conflict(db, scope, parked)

    return Outcome.done(job, park)


def _parked(field: str, *, base: Any, freshbooks: Any, salesforce: Any) -> Parked:  # noqa: ANN401
    return Parked(0, field, base, freshbooks, salesforce)  # the link id is set in the commit


async def _last_settled(
    engine: AsyncEngine, tenant: str, opportunity_id: str, field: str
) -> Conflict | None:
    scope = Scope(tenant, FLOW)
    async with engine.connect() as db:
        found = await find_links(db, scope, salesforce_ids=[opportunity_id])
        if not found:
            return None
        settled = await _settled(db, scope, [found[0].id])
    mine = [c for c in settled.get(found[0].id, []) if c.parked.field == field]
    return mine[-1] if mine else None


async def _link(db: AsyncConnection, scope: Scope, opportunity: str, invoice: str) -> Link | None:
    made = await create_link(db, scope, NewLink(invoice, opportunity))
    if made is not None:
        return made
    found = await find_links(db, scope, salesforce_ids=[opportunity])
    return found[0] if found else None


def _review(job: Job, opportunity: Opportunity, invoice: Invoice, parked: Parked) -> Effect:
    scope = Scope(job.tenant, FLOW)

    async def park(db: AsyncConnection) -> None:
        link = await _link(db, scope, opportunity.id, str(invoice.id))
        if link is None:  # another invoice holds this deal's link: flag on that one
            return
        placed = Parked(link.id, parked.field, *(getattr(parked, n) for n in _VALUES))
        await park_conflict(db, scope, placed)

    return park


_VALUES = ("base_value", "freshbooks_value", "salesforce_value")
