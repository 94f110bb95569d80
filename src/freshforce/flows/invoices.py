"""The invoices flow: a won Opportunity becomes exactly one FreshBooks invoice, written back.

Jobs are keyed ``salesforce/Opportunity/<id>`` (``link/<id>`` after a review is settled;
``salesforce/OpportunityLineItem/<id>`` hands the change to its Opportunity's job). Per
batch and tenant: one query reads the Opportunities with their Account, Contact and line items;
a deal that is not won (``IsWon``, or a stage listed in ``won_stages``) is skipped, and a deal
that has its invoice already goes to ``invoice_changes.py`` (update a draft, or flag for
review). The client comes from a :class:`ClientResolver`, the invoice's fields and lines from
the ``invoices`` map (one line for ``Amount`` when the deal has no line items), draft or sent
by ``invoice_send``.

Exactly one invoice per Opportunity: the ledger records a pending create (reference: the
Opportunity id) in its own transaction before the POST, and the invoice carries the reference
in ``po_number`` (FreshBooks shows it as the invoice's reference). An attempt that finds the
entry pending lists the client's invoices and adopts the one with that reference; done, it
adopts the recorded id. The write-back (invoice id, number, URL, payment status) is one
Collections update per batch, keyed by Id, so repeating it changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from freshforce.assist.baseline import thresholds_of
from freshforce.assist.guard import BaselineGuard
from freshforce.assist.rules import invoice_findings, invoice_total
from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority, to_18
from freshforce.engine.batch import outcome_for, per_tenant
from freshforce.engine.create_once import completed, create_once
from freshforce.engine.fieldlog import field_write, jsonable
from freshforce.engine.flow import Effect, Outcome
from freshforce.engine.guard import NO_GUARD, Finding, PlannedWrite, WriteGuard
from freshforce.engine.queue import JobQueue, JobRequest
from freshforce.errors import (
    ConfigError,
    FreshforceError,
    PermanentError,
    TransientError,
)
from freshforce.flows.announce import Announce, invoice_fact
from freshforce.flows.client_link import LinkedClientResolver
from freshforce.flows.invoice_changes import deleted_deal, follow_deal, unwon
from freshforce.flows.invoice_source import (
    InvoiceSettings,
    Opportunity,
    find_invoice,
    get_invoice,
    invoice_body,
    opportunity_query,
    read_opportunities,
)
from freshforce.mapping import Direction, LookupKey, System
from freshforce.store.idempotency import CreateRef, complete_create, ledger_entry
from freshforce.store.linking import NewLink, create_link
from freshforce.store.links import find_links, get_link
from freshforce.store.scope import Scope
from freshforce.store.writelog import FieldWrite, record_field_writes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from freshforce.connectors.freshbooks.models import Invoice
    from freshforce.engine.flow import FlowContext
    from freshforce.engine.pair import Pair, PairSource
    from freshforce.mapping import FlowMap, MappedRecord, MapSet
    from freshforce.runtime import Runtime
    from freshforce.store.queue import Job

__all__ = ["FLOW", "ClientResolver", "InvoicesFlow", "LinkedClientResolver", "invoices_flow"]

FLOW = "invoices"
_INVOICES = RESOURCES["invoices"]
_REF = CreateRef("freshbooks", "invoice", "")
log = structlog.get_logger("freshforce.flows.invoices")


class ClientResolver(Protocol):
    """Finds the FreshBooks client of a Salesforce Account for an invoice."""

    async def freshbooks_client_for(
        self, pair: Pair, account_id: str, tenant: str, *, attempt: int = 1
    ) -> int:
        """Return the client id; raise ``TransientError`` to wait, ``PermanentError`` to fail."""
        ...


@dataclass(frozen=True)
class _Ready:
    """A job whose invoice exists: what to write back and what to record."""

    job: Job
    opportunity: Opportunity
    invoice: Invoice
    writes: tuple[FieldWrite, ...]


@dataclass
class InvoicesFlow:
    """The ``invoices`` flow (see the module docstring)."""

    pairs: PairSource
    engine: AsyncEngine  # the ledger's own short transactions
    map: FlowMap
    clients: ClientResolver
    settings: InvoiceSettings
    batch_size: int = 50
    announce: Announce | None = None  # records "invoice created" with the link (announce.py)
    guard: WriteGuard = NO_GUARD  # asked before each invoice is created (engine/guard.py)
    name: str = field(default=FLOW, init=False)

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        del ctx  # the ledger writes in short transactions of its own (engine/create_once.py)
        return await per_tenant(jobs, self.pairs, self._tenant)

    async def _tenant(self, pair: Pair, jobs: list[Job]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        lines = [job for job in jobs if _record_id(job, "OpportunityLineItem") is not None]
        if lines:
            outcomes |= await self._to_deals(pair, lines)
            jobs = [job for job in jobs if job.id not in outcomes]
        wanted = await self._wanted(pair.tenant, jobs, outcomes)
        if not wanted:
            return outcomes
        described = await pair.salesforce.describe("Opportunity", priority=Priority.INVOICES)
        multi_currency = "CurrencyIsoCode" in described.field_names()
        soql = opportunity_query(self.map, list(wanted), currency=multi_currency)
        found = await read_opportunities(pair.salesforce, soql)
        async with self.engine.connect() as db:
            linked = await find_links(db, Scope(pair.tenant, FLOW), salesforce_ids=list(wanted))
        invoiced = {link.salesforce_id: link for link in linked}
        work = []
        after: list[Awaitable[Outcome]] = []
        for opportunity_id, job in wanted.items():
            opportunity = found.get(opportunity_id)
            link = invoiced.get(opportunity_id)
            if opportunity is None and link is not None:
                review = self.settings.deleted_deal == "review"
                after.append(deleted_deal(self.engine, job, opportunity_id, link, review=review))
            elif opportunity is None:  # deleted before it was invoiced: nothing to invoice
                log.info("invoice_skipped", record_key=job.key, reason="deleted, never invoiced")
                outcomes[job.id] = Outcome.skipped(job)
            elif invoice_id := opportunity.invoice_id or (link and link.freshbooks_id):
                after.append(self._after_invoice(pair, job, opportunity, invoice_id))
            elif not self.settings.is_won(opportunity.record):
                log.info("invoice_skipped", record_key=job.key, reason="not won")
                outcomes[job.id] = Outcome.skipped(job)
            else:
                work.append(self._invoice(pair, job, opportunity))
        ready: list[_Ready] = []
        outcomes |= {o.job_id: o for o in await asyncio.gather(*after)}
        for result in await asyncio.gather(*work):
            if isinstance(result, _Ready):
                ready.append(result)
            else:
                outcomes[result.job_id] = result
        outcomes |= await self._write_back(pair, ready)
        return outcomes

    async def _to_deals(self, pair: Pair, jobs: list[Job]) -> dict[int, Outcome]:
        """Hand each changed line item to its Opportunity's job; a line gone is skipped.

        A line edit that leaves the deal's amount alone (a description, a service date) raises
        no change event of the Opportunity. The deal's own job follows it, so jobs about one
        deal still never run at once (per-key exclusivity on the Opportunity's key).
        """
        ids = {job.id: _record_id(job, "OpportunityLineItem") or "" for job in jobs}
        found = await pair.salesforce.get_by_ids(
            "OpportunityLineItem", list(ids.values()), ["OpportunityId"], priority=Priority.INVOICES
        )
        parent = {line: to_18(str(r["OpportunityId"])) for line, r in found.items()}
        outcomes: dict[int, Outcome] = {}
        for job in jobs:
            deal = parent.get(ids[job.id])
            if deal is None:  # deleted: the deal's amount, rolled up, raises its own change
                log.info("invoice_skipped", record_key=job.key, reason="line item gone")
                outcomes[job.id] = Outcome.skipped(job)
                continue
            request = JobRequest(
                FLOW,
                f"salesforce/Opportunity/{deal}",
                ({"source": "line item", "line_item": ids[job.id]},),
                priority=job.priority,
                tenant=pair.tenant,
            )
            outcomes[job.id] = Outcome.done(job, _enqueue(request))
        return outcomes

    async def _wanted(
        self, tenant: str, jobs: Sequence[Job], outcomes: dict[int, Outcome]
    ) -> dict[str, Job]:
        """Return the batch's Opportunities, one job each; ``outcomes`` gets the others'."""
        wanted: dict[str, Job] = {}
        settled = await self._linked_deals(tenant, jobs)
        for job in jobs:
            opportunity_id = settled.get(job.id) or _opportunity_id(job)
            if opportunity_id is None and _is_link_key(job.key):
                outcomes[job.id] = Outcome.skipped(job)  # a review settled on a forgotten link
            elif opportunity_id is None:
                msg = f"invoices jobs are keyed salesforce/Opportunity/<id>, got {job.key!r}"
                outcomes[job.id] = Outcome.fail(job, PermanentError(msg, flow=FLOW))
            elif opportunity_id in wanted:
                outcomes[job.id] = Outcome.skipped(job)  # the same deal twice in one batch
            else:
                wanted[opportunity_id] = job
        return wanted

    async def _linked_deals(self, tenant: str, jobs: Sequence[Job]) -> dict[int, str]:
        """Return the Opportunity of each ``link/<id>`` job (a settled review re-runs its deal)."""
        found: dict[int, str] = {}
        keyed = [(job, job.key.removeprefix("link/")) for job in jobs if _is_link_key(job.key)]
        if not keyed:
            return found
        async with self.engine.connect() as db:
            for job, ident in keyed:
                link = await get_link(db, Scope(tenant, FLOW), int(ident))
                if link is not None and link.salesforce_id:
                    found[job.id] = link.salesforce_id
        return found

    async def _after_invoice(
        self, pair: Pair, job: Job, opportunity: Opportunity, invoice_id: str
    ) -> Outcome:
        """Follow an invoiced deal's changes or flag them (flows/invoice_changes.py)."""
        try:
            invoice = await get_invoice(pair.freshbooks, int(invoice_id))
            if not self.settings.is_won(opportunity.record):
                outcome = await unwon(self.engine, job, opportunity, invoice)
            else:
                _, _, body = await self._body(pair, job, opportunity)
                update = self.settings.draft_changes == "update"
                outcome = await follow_deal(
                    self.engine, pair, job, opportunity, invoice, body=body, update_drafts=update
                )
        except FreshforceError as exc:
            exc.flow, exc.record_key = exc.flow or FLOW, exc.record_key or job.key
            return outcome_for(job, exc)
        # Close the ledger and keep the link of a deal that shows its invoice already.
        done = self._done_effect(job.tenant, opportunity.id, str(invoice.id))
        return replace(outcome, effects=(done, *outcome.effects))

    async def _body(
        self, pair: Pair, job: Job, opportunity: Opportunity
    ) -> tuple[int, MappedRecord, dict[str, Any]]:
        """Return the deal's client, its mapped record and the invoice it gives."""
        client_id = await self.clients.freshbooks_client_for(
            pair, opportunity.account_id, job.tenant, attempt=job.attempt
        )
        mapped = self.map.apply(
            opportunity.record,
            Direction.TO_FRESHBOOKS,
            lookups=self._client_lookups(opportunity, client_id),
            record_key=job.key,
        )
        return client_id, mapped, invoice_body(mapped, opportunity)

    async def _invoice(self, pair: Pair, job: Job, opportunity: Opportunity) -> _Ready | Outcome:
        invoice: Invoice | None = None
        try:
            client_id, mapped, body = await self._body(pair, job, opportunity)
            planned = await self._planned(pair, job, client_id, body, opportunity)
            verdict = await self.guard.check(planned)
            if verdict.held:
                return Outcome.skipped(job)  # waits for review: `freshforce anomalies`
            invoice = await self._create_once(pair, job, client_id, body, opportunity.id)
            invoice = await self._send(pair, opportunity, invoice)
        except FreshforceError as exc:
            exc.flow, exc.record_key = exc.flow or FLOW, exc.record_key or job.key
            kept = () if invoice is None else (self._ledger_effect(job, invoice),)
            return outcome_for(job, exc, *kept)
        writes = [
            field_write(
                system="freshbooks", obj="invoice", record_id=str(invoice.id), field=ref,
                before=None, after=value, trace=mapped.traces.get(ref), job_id=job.id,
            )
            for ref, value in mapped.values.items()
        ]  # fmt: skip
        return _Ready(job, opportunity, invoice, tuple(writes))

    async def _planned(
        self, pair: Pair, job: Job, client_id: int, body: Mapping[str, Any], deal: Opportunity
    ) -> PlannedWrite:
        """Describe the invoice to create for the guard, with the hard rules' findings.

        The rules compare the Amount with the lines and look at the client's invoices.
        """
        existing: list[Invoice] = []
        if self.guard is not NO_GUARD:
            search = {"customerid": str(client_id)}
            async for page in pair.freshbooks.list_all(_INVOICES, search=search):
                existing += page.records  # type: ignore[arg-type]  # Invoices
        async with self.engine.connect() as db:
            known = await ledger_entry(db, job.tenant, _ref(deal.id)) is not None
        findings = invoice_findings(
            body,
            deal.record["Opportunity"].get("Amount"),
            existing,
            reference=deal.id,
            ledger_knows=known,
        )
        return _planned(job, client_id, body, tuple(findings))

    def _client_lookups(self, opportunity: Opportunity, client_id: int) -> dict[LookupKey, object]:
        keys = self.map.lookup_keys(opportunity.record, Direction.TO_FRESHBOOKS)
        answers: dict[LookupKey, object] = {}
        for key in keys:
            if key.system is not System.SALESFORCE or key.object != "Account" or key.by != "Id":
                msg = (
                    f"{self.map.file}: the invoices flow resolves lookups of Account by Id "
                    f"only, not {key.object} by {key.by}"
                )
                raise ConfigError(msg, flow=FLOW)
            answers[key] = str(client_id)
        return answers

    async def _create_once(
        self, pair: Pair, job: Job, client_id: int, body: Mapping[str, Any], reference: str
    ) -> Invoice:
        async def create() -> Invoice:
            created: Invoice = await pair.freshbooks.create(_INVOICES, body)  # type: ignore[assignment]
            log.info("invoice_created", record_key=job.key, invoice_id=created.id)
            return created

        async def fetch(invoice_id: str) -> Invoice:
            log.info("invoice_adopted", record_key=job.key, invoice_id=invoice_id)
            return await get_invoice(pair.freshbooks, int(invoice_id))

        async def find() -> Invoice | None:
            found = await find_invoice(pair.freshbooks, client_id, reference)
            if found is not None:
                log.info("invoice_adopted", record_key=job.key, invoice_id=found.id)
            return found

        scope = Scope(job.tenant, FLOW)
        return await create_once(
            self.engine, scope, _ref(reference), fetch=fetch, find=find, create=create
        )

    async def _send(self, pair: Pair, opportunity: Opportunity, invoice: Invoice) -> Invoice:
        if not self.settings.send or invoice.status != 1:  # 1: draft
            return invoice
        action: dict[str, Any] = {"action_email": True}
        if opportunity.contact_email:
            action["email_recipients"] = [opportunity.contact_email]
        await pair.freshbooks.update(_INVOICES, invoice.id, action)
        return await get_invoice(pair.freshbooks, invoice.id)

    async def _write_back(self, pair: Pair, ready: list[_Ready]) -> dict[int, Outcome]:
        if not ready:
            return {}
        outcomes: dict[int, Outcome] = {}
        updates: list[dict[str, Any]] = []
        for item in list(ready):
            try:
                updates.append(self._back_fields(pair, item))
            except FreshforceError as exc:
                ready.remove(item)
                kept = self._ledger_effect(item.job, item.invoice)
                outcomes[item.job.id] = outcome_for(item.job, exc, kept)
        if not ready:
            return outcomes
        try:
            results = await pair.salesforce.update(
                "Opportunity",
                [{"Id": r.opportunity.id, **u} for r, u in zip(ready, updates, strict=True)],
                priority=Priority.INVOICES,
            )
        except FreshforceError as exc:
            return outcomes | {
                r.job.id: outcome_for(r.job, exc, self._ledger_effect(r.job, r.invoice))
                for r in ready
            }
        for item, fields, result in zip(ready, updates, results, strict=True):
            if result.success:
                outcomes[item.job.id] = Outcome.done(item.job, *self._effects(item, fields))
                continue
            fault = "; ".join(f"{e.code}: {e.message}" for e in result.errors)
            msg = f"write-back to Opportunity {item.opportunity.id} failed: {fault}"
            error = TransientError(msg, flow=FLOW, record_key=item.job.key, system="salesforce")
            outcomes[item.job.id] = Outcome.retry(
                item.job, error, self._ledger_effect(item.job, item.invoice)
            )
        return outcomes

    def _back_fields(self, pair: Pair, item: _Ready) -> dict[str, Any]:
        mapped = self.map.apply(item.invoice.raw, Direction.TO_SALESFORCE)
        fields = {k: jsonable(v) for k, v in mapped.by_object().get("Opportunity", {}).items()}
        fields[self.settings.url_field] = self.settings.invoice_url(
            pair.freshbooks.account_id, item.invoice.id
        )
        if not item.opportunity.record["Opportunity"].get(self.settings.status_field):
            fields[self.settings.status_field] = self.settings.unpaid
        return fields

    def _effects(self, item: _Ready, fields: Mapping[str, Any]) -> tuple[Effect, ...]:
        before = item.opportunity.record["Opportunity"]
        back = [
            field_write(
                system="salesforce", obj="Opportunity", record_id=item.opportunity.id,
                field=name, before=before.get(name), after=value, job_id=item.job.id,
            )
            for name, value in fields.items()
        ]  # fmt: skip
        writes = [*item.writes, *back]
        scope = Scope(item.job.tenant, FLOW)

        async def log_writes(db: AsyncConnection) -> None:
            await record_field_writes(db, scope, writes)

        done = self._done_effect(item.job.tenant, item.opportunity.id, str(item.invoice.id))
        return (done, log_writes, *self._announced(item))

    def _announced(self, item: _Ready) -> tuple[Effect, ...]:
        if self.announce is None:
            return ()
        invoice = item.invoice
        fact = invoice_fact(
            item.job.tenant,
            opportunity_id=item.opportunity.id,
            account_id=item.opportunity.account_id,
            invoice_id=str(invoice.id),
            number=invoice.invoice_number,
            amount=invoice.amount.amount if invoice.amount else None,
            currency=invoice.currency_code,
            status=invoice.v3_status,
        )
        return (self.announce(fact),)

    def _ledger_effect(self, job: Job, invoice: Invoice) -> Effect:
        """Record the invoice as created, whatever failed after: the next attempt adopts it."""
        return completed(job.tenant, _ref(_opportunity_id(job) or ""), str(invoice.id))

    def _done_effect(self, tenant: str, opportunity_id: str, invoice_id: str) -> Effect:
        async def done(db: AsyncConnection) -> None:
            await complete_create(db, tenant, _ref(opportunity_id), invoice_id)
            await create_link(db, Scope(tenant, FLOW), NewLink(invoice_id, opportunity_id))

        return done


def _planned(
    job: Job, client_id: int, body: Mapping[str, Any], findings: tuple[Finding, ...] = ()
) -> PlannedWrite:
    """Describe the invoice about to be created for the write guard: its total and currency."""
    total, _ = invoice_total(body)
    currency = {"currency": str(body["currency_code"])} if body.get("currency_code") else {}
    return PlannedWrite(
        job.tenant, FLOW, job.key, str(client_id), {"amount": total}, currency, findings=findings
    )


def _ref(opportunity_id: str) -> CreateRef:
    return CreateRef(_REF.system, _REF.object, opportunity_id)


def _is_link_key(key: str) -> bool:
    return key.startswith("link/") and key.removeprefix("link/").isdigit()


def _enqueue(request: JobRequest) -> Effect:
    async def effect(db: AsyncConnection) -> None:
        await JobQueue(db.engine).enqueue_many(db, [request])

    return effect


def _record_id(job: Job, sobject: str) -> str | None:
    """Return the 18-character id of a ``salesforce/<sobject>/<id>`` job, else ``None``."""
    system, _, rest = job.key.partition("/")
    obj, _, ident = rest.partition("/")
    if system != "salesforce" or obj != sobject or len(ident) not in {15, 18}:
        return None
    try:
        return to_18(ident)
    except ValueError:
        return None


def _opportunity_id(job: Job) -> str | None:
    return _record_id(job, "Opportunity")


def invoices_flow(
    runtime: Runtime, maps: MapSet, *, clients: ClientResolver | None = None
) -> InvoicesFlow:
    """Build the ``invoices`` flow from the runtime and the ``invoices`` map."""
    flow_map = maps[FLOW]
    return InvoicesFlow(
        pairs=runtime.pair,
        engine=runtime.engine,
        map=flow_map,
        clients=clients or LinkedClientResolver(runtime.engine),
        settings=InvoiceSettings.from_values(flow_map.values),
        guard=BaselineGuard(runtime.engine, thresholds_of(flow_map.anomalies)),
    )
