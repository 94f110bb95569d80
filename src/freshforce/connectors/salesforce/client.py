"""Salesforce REST client: describe, paged queries, batched reads and writes, composite.

The client is handed an ``httpx.AsyncClient`` built by the HTTP core's factory (base URL = the
instance URL, ``BearerAuth`` that refreshes once on 401 INVALID_SESSION_ID and keeps the old
refresh token, timeouts), so tests route it to the sandbox; requests go through the core's
``ApiClient`` (retries, classification, call counter). Every call first asks the governor for
budget at the caller's priority, and every answer's ``Sforce-Limit-Info`` is fed back to it.
A query cursor dies with the session it was opened in: after a refresh the next page answers
INVALID_QUERY_LOCATOR, which ``query`` meets by running the query again. Every write carries
``Sforce-Call-Options: client=freshforce`` so its change events can be recognised as echoes.
Writes go through sObject Collections, 200 records per call, with ``allOrNone=false`` and a
result per record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from freshforce.connectors.core import ApiClient, CallCounter, CallRetryPolicy, Sleep
from freshforce.connectors.salesforce.bulk import BulkPolicy, Operation, SalesforceBulk
from freshforce.connectors.salesforce.errors import (
    is_daily_limit,
    map_salesforce_error,
    parse_error_body,
)
from freshforce.connectors.salesforce.governor import Governor, Priority
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.models import (
    CollectionItem,
    CompositeItem,
    CompositeResult,
    QueryPage,
    SObjectInfo,
    WriteResult,
)
from freshforce.connectors.salesforce.soql import by_ids, check_name
from freshforce.errors import FreshforceError, PermanentError, TransientError

__all__ = [
    "BULK_THRESHOLD",
    "CALL_CLIENT",
    "COLLECTION_SIZE",
    "LocatorLostError",
    "SalesforceClient",
    "SalesforceOrg",
]

CALL_CLIENT = "freshforce"
BULK_THRESHOLD = 2000
COLLECTION_SIZE = 200
COMPOSITE_SIZE = 25
_IDS_PER_QUERY = 200
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_QUERY_RESTARTS = 2
# A record as Salesforce sends and takes it: a JSON object.
Record = dict[str, Any]
M = TypeVar("M", QueryPage, SObjectInfo)
Item = TypeVar("Item", CollectionItem, CompositeItem)


@dataclass(frozen=True)
class SalesforceOrg:
    """Which org a client talks to and at which REST API version."""

    org_id: str
    api_version: str = "59.0"

    @property
    def base(self) -> str:
        return f"/services/data/v{self.api_version}"


class LocatorLostError(TransientError):
    """A query's next page belongs to a session that was refreshed away: run it again."""


class SalesforceClient:
    """The connector's one way to Salesforce REST; build one per connection."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        org: SalesforceOrg,
        governor: Governor,
        *,
        connection_id: str,
        retry: CallRetryPolicy,
        counter: CallCounter,
        sleep: Sleep = asyncio.sleep,
        bulk_threshold: int = BULK_THRESHOLD,
        bulk_policy: BulkPolicy | None = None,
    ) -> None:
        self.org = org
        self.bulk_threshold = bulk_threshold
        self.governor = governor
        self.api = ApiClient(
            http,
            system="salesforce",
            connection_id=connection_id,
            map_error=self._map_error,
            retry=retry,
            counter=counter,
            sleep=sleep,
        )
        self._describes: dict[str, SObjectInfo] = {}
        self.bulk = SalesforceBulk(
            self.send,
            org.base,
            call_client=CALL_CLIENT,
            policy=bulk_policy or BulkPolicy(),
            sleep=sleep,
        )

    def _map_error(self, response: httpx.Response) -> FreshforceError | None:
        limit_info = response.headers.get("sforce-limit-info")
        if limit_info:
            self.governor.observe(self.org.org_id, limit_info)
        error = map_salesforce_error(response)
        if error is not None and error.remote_code == "REQUEST_LIMIT_EXCEEDED":
            fault = parse_error_body(_json_or_text(response))
            if is_daily_limit(fault):
                self.governor.exhausted(self.org.org_id)
        return error

    async def send(
        self,
        method: str,
        path: str,
        *,
        priority: Priority,
        json: Any = None,  # noqa: ANN401 - a JSON body for the wire
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one call after governor admission; writes carry ``Sforce-Call-Options``."""
        await self.governor.admit(self.org.org_id, priority)
        write = method in _WRITE_METHODS
        sent = dict(headers or {})
        if write:
            sent["Sforce-Call-Options"] = f"client={CALL_CLIENT}"
        return await self.api.request(
            method,
            path,
            json=json,
            content=content,
            params=httpx.QueryParams(params) if params else None,
            headers=sent,
            write=write,
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        priority: Priority,
        json: Any = None,  # noqa: ANN401 - a JSON body for the wire
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:  # noqa: ANN401 - the decoded JSON answer
        response = await self.send(
            method, path, priority=priority, json=json, params=params, headers=headers
        )
        return response.json() if response.content else None

    async def describe(self, sobject: str, *, priority: Priority = Priority.CLIENTS) -> SObjectInfo:
        """Return ``sobject``'s describe, fetched once per client."""
        found = self._describes.get(sobject)
        if found is None:
            body = await self._call(
                "GET",
                f"{self.org.base}/sobjects/{check_name(sobject)}/describe",
                priority=priority,
            )
            found = self._describes[sobject] = _parse(SObjectInfo, body, f"describe {sobject}")
        return found

    async def query_pages(
        self,
        soql: str,
        *,
        priority: Priority,
        include_deleted: bool = False,
        batch_size: int = 2000,
    ) -> AsyncIterator[list[Record]]:
        """Yield each page of ``soql``'s records, following ``nextRecordsUrl`` until done.

        ``batch_size`` (200..2000) is a hint Salesforce may lower.
        """
        resource = "queryAll" if include_deleted else "query"
        body = await self._call(
            "GET",
            f"{self.org.base}/{resource}",
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={batch_size}"},
            priority=priority,
        )
        while True:
            page = _parse(QueryPage, body, "query")
            yield page.records
            if page.done:
                return
            if not page.next_records_url:
                msg = "Salesforce query answered done=false without a nextRecordsUrl"
                raise PermanentError(msg, system="salesforce")
            try:
                body = await self._call("GET", page.next_records_url, priority=priority)
            except PermanentError as exc:
                if exc.remote_code != "INVALID_QUERY_LOCATOR":
                    raise
                msg = "Salesforce query cursor expired with its session; run the query again"
                raise LocatorLostError(msg, retry_after=0.0, system="salesforce") from exc

    async def query(self, soql: str, *, priority: Priority, batch_size: int = 2000) -> list[Record]:
        """Return every record of ``soql`` (every page)."""
        for restart in range(_QUERY_RESTARTS + 1):
            pages = self.query_pages(soql, priority=priority, batch_size=batch_size)
            try:
                return [record async for page in pages for record in page]
            except LocatorLostError:
                if restart == _QUERY_RESTARTS:
                    raise
        raise AssertionError  # pragma: no cover - the loop returns or raises

    async def get_by_ids(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str], *, priority: Priority
    ) -> dict[str, Record]:
        """Return the records found among ``ids`` by their 18-character id, 200 per query."""
        wanted = list(dict.fromkeys(to_18(i) for i in ids))
        found: dict[str, Record] = {}
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            for record in await self.query(by_ids(sobject, fields, chunk), priority=priority):
                found[to_18(record["Id"])] = record
        return found

    async def _collection(
        self, method: str, path: str, records: Sequence[Record], *, priority: Priority, what: str
    ) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = list(records[start : start + COLLECTION_SIZE])
            body = await self._call(
                method,
                path,
                json={"allOrNone": False, "records": chunk},
                priority=priority,
            )
            items = _parse_list(CollectionItem, body, what)
            results.extend(WriteResult.from_item(item) for item in items)
        return results

    async def create(
        self, sobject: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Insert ``records`` of ``sobject``; one result per record, in order."""
        if len(records) > self.bulk_threshold:
            return await self._bulk(sobject, "insert", records, priority=priority)
        typed = [{"attributes": {"type": check_name(sobject)}, **r} for r in records]
        return await self._collection(
            "POST",
            f"{self.org.base}/composite/sobjects",
            typed,
            priority=priority,
            what=f"create {sobject}",
        )

    async def update(
        self, sobject: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Update ``records`` (each with an ``Id``) of ``sobject``; one result per record."""
        if len(records) > self.bulk_threshold:
            return await self._bulk(sobject, "update", records, priority=priority)
        typed = [
            {"attributes": {"type": check_name(sobject)}, **r, "Id": to_18(str(r["Id"]))}
            for r in records
        ]
        return await self._collection(
            "PATCH",
            f"{self.org.base}/composite/sobjects",
            typed,
            priority=priority,
            what=f"update {sobject}",
        )

    async def update_mixed(
        self, records: Sequence[tuple[str, Record]], *, priority: Priority
    ) -> list[WriteResult]:
        """Update records of several objects, ``(sobject, record)`` pairs, in order.

        Collections take mixed types, so an Account and its Contact cost one call; above the
        bulk threshold each object goes to its own Bulk API job.
        """
        if len(records) > self.bulk_threshold:
            results: list[WriteResult | None] = [None] * len(records)
            for sobject in dict.fromkeys(obj for obj, _ in records):
                where = [i for i, (obj, _) in enumerate(records) if obj == sobject]
                done = await self.update(sobject, [records[i][1] for i in where], priority=priority)
                for i, result in zip(where, done, strict=True):
                    results[i] = result
            return [r for r in results if r is not None]
        typed = [
            {"attributes": {"type": check_name(obj)}, **r, "Id": to_18(str(r["Id"]))}
            for obj, r in records
        ]
        return await self._collection(
            "PATCH", f"{self.org.base}/composite/sobjects", typed, priority=priority, what="update"
        )

    async def upsert(
        self, sobject: str, external_field: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Insert or update ``records`` matched on ``external_field``; results say ``created``."""
        if len(records) > self.bulk_threshold:
            return await self.bulk_upsert(sobject, external_field, records, priority=priority)
        typed = [{"attributes": {"type": check_name(sobject)}, **r} for r in records]
        path = f"{self.org.base}/composite/sobjects/{sobject}/{check_name(external_field)}"
        return await self._collection(
            "PATCH", path, typed, priority=priority, what=f"upsert {sobject}"
        )

    async def delete(
        self, sobject: str, ids: Sequence[str], *, priority: Priority
    ) -> list[WriteResult]:
        """Delete records of ``sobject`` by id, 200 a call; one result per id, in order."""
        if len(ids) > self.bulk_threshold:
            return await self.bulk_delete(sobject, ids, priority=priority)
        results: list[WriteResult] = []
        for start in range(0, len(ids), COLLECTION_SIZE):
            chunk = ",".join(to_18(str(i)) for i in ids[start : start + COLLECTION_SIZE])
            body = await self._call(
                "DELETE",
                f"{self.org.base}/composite/sobjects",
                params={"ids": chunk, "allOrNone": "false"},
                priority=priority,
            )
            items = _parse_list(CollectionItem, body, f"delete {sobject}")
            results.extend(WriteResult.from_item(item) for item in items)
        return results

    async def _bulk(
        self, sobject: str, operation: Operation, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        plain = [{k: v for k, v in r.items() if k != "attributes"} for r in records]
        if operation in {"update", "delete"}:
            plain = [
                {**r, "Id": _record_id(r, i, f"bulk {operation} {sobject}")}
                for i, r in enumerate(plain)
            ]
        return await self.bulk.ingest(sobject, operation, plain, priority=priority)

    async def bulk_insert(
        self, sobject: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Insert ``records`` through one Bulk API 2.0 job; one result per record, in order."""
        return await self._bulk(sobject, "insert", records, priority=priority)

    async def bulk_update(
        self, sobject: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Update ``records`` (each with an ``Id``) through one Bulk API 2.0 job."""
        return await self._bulk(sobject, "update", records, priority=priority)

    async def bulk_upsert(
        self, sobject: str, external_field: str, records: Sequence[Record], *, priority: Priority
    ) -> list[WriteResult]:
        """Upsert ``records`` on ``external_field`` through one Bulk API 2.0 job."""
        plain = [{k: v for k, v in r.items() if k != "attributes"} for r in records]
        return await self.bulk.ingest(
            sobject, "upsert", plain, priority=priority, external_id_field=external_field
        )

    async def bulk_delete(
        self, sobject: str, ids: Sequence[str], *, priority: Priority
    ) -> list[WriteResult]:
        """Delete records by id through one Bulk API 2.0 job; one result per id, in order."""
        return await self._bulk(sobject, "delete", [{"Id": i} for i in ids], priority=priority)

    async def bulk_query(
        self, soql: str, *, priority: Priority, include_deleted: bool = False
    ) -> list[dict[str, str | None]]:
        """Run ``soql`` as a Bulk API 2.0 query job; rows of CSV text, empty cells as None."""
        return await self.bulk.query(soql, priority=priority, include_deleted=include_deleted)

    async def composite(
        self, subrequests: Sequence[Record], *, all_or_none: bool, priority: Priority
    ) -> list[CompositeResult]:
        """Run up to 25 dependent subrequests in one call (``@{ref.id}`` links them)."""
        if not 0 < len(subrequests) <= COMPOSITE_SIZE:
            msg = f"composite takes 1..{COMPOSITE_SIZE} subrequests, got {len(subrequests)}"
            raise ValueError(msg)
        body = await self._call(
            "POST",
            f"{self.org.base}/composite",
            json={"allOrNone": all_or_none, "compositeRequest": list(subrequests)},
            priority=priority,
        )
        items = _parse_list(CompositeItem, _field(body, "compositeResponse"), "composite")
        return [CompositeResult(i.reference_id, i.http_status_code, i.body) for i in items]


def _record_id(record: Record, index: int, what: str) -> str:
    raw = record.get("Id")
    if not raw:
        msg = f"{what}: record {index} has no Id"
        raise ValueError(msg)
    return to_18(str(raw))


def _json_or_text(response: httpx.Response) -> Any:  # noqa: ANN401 - decoded JSON
    try:
        return response.json()
    except ValueError:
        return response.text


def _field(body: Any, name: str) -> Any:  # noqa: ANN401 - decoded JSON
    return body.get(name) if isinstance(body, dict) else None


def _parse(model: type[M], body: Any, what: str) -> M:  # noqa: ANN401
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        msg = f"Salesforce {what}: unexpected answer shape: {exc.errors()[0]['msg']}"
        raise PermanentError(msg, system="salesforce") from exc


def _parse_list(
    model: type[Item],
    body: Any,  # noqa: ANN401 - decoded JSON
    what: str,
) -> list[Item]:
    if not isinstance(body, list):
        msg = f"Salesforce {what}: expected a list of results, got {type(body).__name__}"
        raise PermanentError(msg, system="salesforce")
    try:
        return [model.model_validate(item) for item in body]
    except ValidationError as exc:
        msg = f"Salesforce {what}: unexpected result shape: {exc.errors()[0]['msg']}"
        raise PermanentError(msg, system="salesforce") from exc
