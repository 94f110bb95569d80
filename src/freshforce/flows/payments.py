"""The payments flow: an invoice's payment records, summed, onto the Opportunity it came from.

Jobs are keyed ``freshbooks/payment/<id>`` or ``freshbooks/invoice/<id>``. Per batch and
tenant: the payments named are read in one list call (a deleted one by its own GET) to learn
their invoices; the invoices in one list call; each invoice's payments by ``invoiceid``; the
Opportunities in one query on the invoice id field. The summary comes from the payment records
themselves, never from the invoice's balance: live payments in the invoice's currency are summed
(refunds are negative payments; another currency does not count, as in FreshBooks), and

- ``unpaid``: nothing paid and nothing refunded;
- ``refunded``: money was refunded and what is left paid is zero or less;
- ``partial`` / ``paid`` / ``overpaid``: what is paid is below, equal to or above the amount.

The ``payments`` map turns the summary into Opportunity fields; only the fields that differ are
written, for the whole batch in one Collections update at payments priority. An invoice no
Opportunity carries is not ours: its jobs are skipped. Before writing, the flow asks its write
guard (engine/guard.py): a payment above what was outstanding, in another currency than the
invoice's, or on a draft or deleted invoice is held for review (``freshforce anomalies``), keyed
``freshbooks/invoice/<id>``; a payment method the flow never saw is flagged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from freshforce.assist.baseline import thresholds_of
from freshforce.assist.guard import BaselineGuard
from freshforce.assist.rules import payment_findings
from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority
from freshforce.connectors.salesforce.soql import check_name, literal
from freshforce.engine.batch import outcome_for, per_tenant
from freshforce.engine.fieldlog import field_write, jsonable
from freshforce.engine.flow import Outcome
from freshforce.engine.guard import NO_GUARD, Finding, PlannedWrite, WriteGuard
from freshforce.errors import FreshforceError, PermanentError, RecordGoneError, TransientError
from freshforce.flows.announce import Announce, payment_fact
from freshforce.mapping import Direction, MappingRecordError
from freshforce.store.scope import Scope
from freshforce.store.writelog import record_field_writes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from freshforce.connectors.freshbooks.models import Invoice, Payment
    from freshforce.engine.flow import Effect, FlowContext
    from freshforce.engine.pair import Pair, PairSource
    from freshforce.mapping import FlowMap, MappedRecord, MapSet
    from freshforce.runtime import Runtime
    from freshforce.store.queue import Job

__all__ = ["FLOW", "PaymentSummary", "PaymentsFlow", "payments_flow", "summarise"]

FLOW = "payments"
_PAYMENTS = RESOURCES["payments"]
_INVOICES = RESOURCES["invoices"]
_ID_FIELD = "FreshBooks_Invoice_Id__c"
log = structlog.get_logger("freshforce.flows.payments")


@dataclass(frozen=True)
class PaymentSummary:
    """What an invoice's payment records add up to (the ``payment_summary`` record)."""

    invoiceid: int
    status: str  # unpaid | partial | paid | overpaid | refunded
    currency: str
    amount_paid: Decimal
    balance: Decimal
    last_payment_date: str | None

    def record(self) -> dict[str, Any]:
        """Return the summary as the ``payments`` map reads it (money as FreshBooks Money)."""
        return {
            "id": self.invoiceid,
            "invoiceid": self.invoiceid,
            "status": self.status,
            "amount_paid": {"amount": str(self.amount_paid), "code": self.currency},
            "balance": {"amount": str(self.balance), "code": self.currency},
            "last_payment_date": self.last_payment_date,
        }


def summarise(invoice: Invoice, payments: Sequence[Payment]) -> PaymentSummary:
    """Sum ``invoice``'s live payments in its currency and name the status they give."""
    currency = invoice.currency_code or (invoice.amount.code if invoice.amount else None) or ""
    counted = [
        p
        for p in payments
        if p.vis_state != 1 and p.amount is not None and (p.amount.code or currency) == currency
    ]
    amounts = [p.amount.amount for p in counted if p.amount is not None]
    paid = sum(amounts, Decimal(0))
    total = invoice.amount.amount if invoice.amount else Decimal(0)
    refunded = any(a < 0 for a in amounts)
    if refunded and paid <= 0:
        status = "refunded"
    elif paid <= 0:
        status = "unpaid"
    elif paid < total:
        status = "partial"
    else:
        status = "paid" if paid == total else "overpaid"
    dates = [p.date for p in counted if p.date and p.amount and p.amount.amount > 0]
    balance = max(total - max(paid, Decimal(0)), Decimal(0))
    last = max(dates).isoformat() if dates else None
    return PaymentSummary(invoice.id, status, currency, paid, balance, last)


@dataclass
class PaymentsFlow:
    """The ``payments`` flow (see the module docstring)."""

    pairs: PairSource
    map: FlowMap
    batch_size: int = 100
    announce: Announce | None = None  # records "payments moved this deal" (announce.py)
    guard: WriteGuard = NO_GUARD  # asked before each Opportunity's payment fields are written
    drafts_odd: bool = False  # invoices are sent when created: a payment on a draft is held
    name: str = field(default=FLOW, init=False)

    async def run(self, jobs: Sequence[Job], ctx: FlowContext) -> list[Outcome]:
        del ctx  # everything read here is remote
        return await per_tenant(jobs, self.pairs, self._tenant)

    async def _tenant(self, pair: Pair, jobs: list[Job]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        invoice_of: dict[int, int] = {}  # job id -> invoice id
        payment_jobs: dict[int, list[Job]] = {}
        for job in jobs:
            kind, ident = _parse(job.key)
            if kind == "invoice":
                invoice_of[job.id] = ident
            elif kind == "payment":
                payment_jobs.setdefault(ident, []).append(job)
            else:
                msg = f"payments jobs are keyed freshbooks/payment|invoice/<id>, got {job.key!r}"
                outcomes[job.id] = Outcome.fail(job, PermanentError(msg, flow=FLOW))
        payments = await _payments_by_id(pair, list(payment_jobs))
        for payment_id, waiting in payment_jobs.items():
            found = payments.get(payment_id)
            for job in waiting:
                if found is None or found.invoiceid is None:
                    log.info("payment_skipped", record_key=job.key, reason="payment not found")
                    outcomes[job.id] = Outcome.skipped(job)
                else:
                    invoice_of[job.id] = found.invoiceid
        if invoice_of:
            by_invoice: dict[int, list[Job]] = {}
            for job in jobs:
                if job.id in invoice_of:
                    by_invoice.setdefault(invoice_of[job.id], []).append(job)
            outcomes |= await self._invoices(pair, by_invoice)
        return outcomes

    async def _invoices(self, pair: Pair, by_invoice: dict[int, list[Job]]) -> dict[int, Outcome]:
        outcomes: dict[int, Outcome] = {}
        opportunities = await self._opportunities(pair, list(by_invoice))
        ours = {i: jobs for i, jobs in by_invoice.items() if str(i) in opportunities}
        for invoice_id in by_invoice.keys() - ours.keys():
            for job in by_invoice[invoice_id]:
                log.info("payment_skipped", record_key=job.key, reason="invoice not ours")
                outcomes[job.id] = Outcome.skipped(job)
        invoices = await _invoices_by_id(pair, list(ours))
        read = await asyncio.gather(*(_invoice_payments(pair, i) for i in invoices))
        ledgers = dict(zip(invoices, read, strict=True))
        planned: list[tuple[list[Job], str, dict[str, Any], MappedRecord]] = []
        for invoice_id, jobs in ours.items():
            opportunity = opportunities[str(invoice_id)]
            invoice = invoices.get(invoice_id)
            if invoice is None:
                msg = (
                    f"FreshBooks invoice {invoice_id} of Opportunity {opportunity['Id']} no "
                    "longer exists"
                )
                error = RecordGoneError(msg, flow=FLOW, system="freshbooks")
                outcomes |= {job.id: Outcome.fail(job, error) for job in jobs}
                continue
            summary = summarise(invoice, ledgers[invoice_id])
            try:
                mapped = self.map.apply(summary.record(), Direction.TO_SALESFORCE)
            except MappingRecordError as exc:
                outcomes |= {job.id: Outcome.fail(job, exc) for job in jobs}
                continue
            changes = _changes(mapped, opportunity)
            found = payment_findings(invoice, ledgers[invoice_id], drafts_odd=self.drafts_odd)
            held = False
            if changes or found:  # a finding is reviewed even when the fields stay the same
                write = _planned(jobs[0].tenant, invoice, ledgers[invoice_id], summary, found)
                held = (await self.guard.check(write)).held
            if not changes or held:
                outcomes |= {job.id: Outcome.skipped(job) for job in jobs}  # held: waits
                continue
            planned.append((jobs, str(opportunity["Id"]), changes, mapped))
        return outcomes | await self._write(pair, planned, opportunities)

    async def _opportunities(self, pair: Pair, invoice_ids: list[int]) -> dict[str, Any]:
        fields = [_ID_FIELD, *self._targets()]
        listed = ", ".join(literal(str(i)) for i in invoice_ids)
        names = ", ".join(check_name(f) for f in dict.fromkeys(["Id", *fields]))
        # SOQL, not SQL: names pass check_name and values go through literal().
        soql = f"SELECT {names} FROM Opportunity WHERE {_ID_FIELD} IN ({listed})"  # noqa: S608
        found = await pair.salesforce.query(soql, priority=Priority.PAYMENTS)
        return {str(r[_ID_FIELD]): r for r in found}

    def _targets(self) -> list[str]:
        return [ref.partition(".")[2] for rule in self.map.rules for ref in rule.salesforce]

    async def _write(
        self,
        pair: Pair,
        planned: list[tuple[list[Job], str, dict[str, Any], MappedRecord]],
        before: Mapping[str, Any],
    ) -> dict[int, Outcome]:
        if not planned:
            return {}
        records = [{"Id": ident, **changes} for _, ident, changes, _ in planned]
        try:
            results = await pair.salesforce.update(
                "Opportunity", records, priority=Priority.PAYMENTS
            )
        except FreshforceError as exc:
            return {job.id: outcome_for(job, exc) for jobs, *_ in planned for job in jobs}
        outcomes: dict[int, Outcome] = {}
        old = {str(r["Id"]): r for r in before.values()}
        for (jobs, ident, changes, mapped), result in zip(planned, results, strict=True):
            if not result.success:
                fault = "; ".join(f"{e.code}: {e.message}" for e in result.errors)
                msg = f"payment fields of Opportunity {ident} not written: {fault}"
                error = TransientError(msg, flow=FLOW, system="salesforce")
                outcomes |= {job.id: Outcome.retry(job, error) for job in jobs}
                continue
            first, *rest = jobs
            effect = _log(first, ident, changes, mapped, old[ident])
            announced = self._announced(first, ident, mapped)
            outcomes[first.id] = Outcome.done(first, effect, *announced)
            outcomes |= {job.id: Outcome.done(job) for job in rest}  # one write for them all
        return outcomes

    def _announced(self, job: Job, ident: str, mapped: MappedRecord) -> tuple[Effect, ...]:
        if self.announce is None:
            return ()
        values = mapped.by_object().get("Opportunity", {})
        return (self.announce(payment_fact(job.tenant, ident, values)),)


def _planned(
    tenant: str,
    invoice: Invoice,
    payments: Sequence[Payment],
    summary: PaymentSummary,
    findings: Sequence[Finding],
) -> PlannedWrite:
    """Describe the payment fields about to be written for the write guard."""
    live = [p for p in payments if p.vis_state != 1]
    method = {"method": live[-1].type} if live and live[-1].type else {}
    details = {
        "status": summary.status,
        "paid": str(summary.amount_paid),
        "payments": ",".join(f"{p.id}:{p.amount.amount if p.amount else ''}" for p in live),
        "invoice": f"{invoice.v3_status or invoice.status}/{invoice.vis_state}",
    }
    return PlannedWrite(
        tenant,
        FLOW,
        f"freshbooks/invoice/{invoice.id}",
        str(invoice.customerid or ""),
        labels=method,
        findings=tuple(findings),
        details=details,
    )


def _changes(mapped: MappedRecord, opportunity: Mapping[str, Any]) -> dict[str, Any]:
    wanted = {k: jsonable(v) for k, v in mapped.by_object().get("Opportunity", {}).items()}
    wanted.pop(_ID_FIELD, None)  # how the Opportunity was found: unchanged by definition
    return {k: v for k, v in wanted.items() if not _same(opportunity.get(k), v)}


def _same(current: object, wanted: object) -> bool:
    if current is None or wanted is None:
        return current is None and wanted is None
    try:
        return Decimal(str(current)) == Decimal(str(wanted))
    except ArithmeticError:
        return str(current) == str(wanted)


def _log(
    job: Job, ident: str, changes: Mapping[str, Any], mapped: MappedRecord, old: Mapping[str, Any]
) -> Effect:
    writes = [
        field_write(
            system="salesforce", obj="Opportunity", record_id=ident, field=name,
            before=old.get(name), after=value, trace=mapped.traces.get(f"Opportunity.{name}"),
            job_id=job.id,
        )
        for name, value in changes.items()
    ]  # fmt: skip
    scope = Scope(job.tenant, FLOW)

    async def log_writes(db: AsyncConnection) -> None:
        await record_field_writes(db, scope, writes)

    return log_writes


def _parse(key: str) -> tuple[str | None, int]:
    parts = key.split("/")
    if len(parts) == 3 and parts[0] == "freshbooks" and parts[2].isdigit():  # noqa: PLR2004
        return parts[1] if parts[1] in {"payment", "invoice"} else None, int(parts[2])
    return None, 0


async def _payments_by_id(pair: Pair, ids: list[int]) -> dict[int, Payment]:
    """Return the payments among ``ids``: live ones in one list call, deleted ones by GET."""
    if not ids:
        return {}
    found: dict[int, Payment] = {}
    search = {"logids": [str(i) for i in ids]}
    async for page in pair.freshbooks.list_all(_PAYMENTS, search=search):
        found |= {r.id: r for r in page.records}  # type: ignore[misc]  # Payments
    for missing in set(ids) - found.keys():
        try:
            found[missing] = await pair.freshbooks.get(_PAYMENTS, missing)  # type: ignore[assignment]
        except RecordGoneError:
            continue
    return found


async def _invoices_by_id(pair: Pair, ids: list[int]) -> dict[int, Invoice]:
    found: dict[int, Invoice] = {}
    if ids:
        search = {"invoiceids": [str(i) for i in ids]}
        async for page in pair.freshbooks.list_all(_INVOICES, search=search):
            found |= {r.id: r for r in page.records}  # type: ignore[misc]  # Invoices
    for missing in set(ids) - found.keys():  # deleted: not listed, read by their own GET
        try:
            found[missing] = await pair.freshbooks.get(_INVOICES, missing)  # type: ignore[assignment]
        except RecordGoneError:
            continue
    return {i: found[i] for i in ids if i in found}


async def _invoice_payments(pair: Pair, invoice_id: int) -> list[Payment]:
    search = {"invoiceid": str(invoice_id)}
    return [
        record  # type: ignore[misc]  # Payments
        async for page in pair.freshbooks.list_all(_PAYMENTS, search=search)
        for record in page.records
    ]


def payments_flow(runtime: Runtime, maps: MapSet) -> PaymentsFlow:
    """Build the ``payments`` flow from the runtime and the ``payments`` map."""
    send = maps[FLOW].values.get("invoice_send") is True
    return PaymentsFlow(
        pairs=runtime.pair,
        map=maps[FLOW],
        guard=BaselineGuard(runtime.engine, thresholds_of(maps[FLOW].anomalies)),
        drafts_odd=send,
    )
