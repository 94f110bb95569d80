"""The Salesforce sandbox's org: records, metadata, API allocation and the change log.

No HTTP here (``api.py`` speaks the wire). Writes run in a ``Transaction``
(``transaction.py``); on commit the state appends one ``ChangeRecord`` per record change to the
``ChangeLog`` the Pub/Sub server reads. Reads hand out the stored records as they are; a stored
record is never changed in place (``records.py``).

The record source SOQL reads: ``catalog`` (describe), ``records(object, include_deleted)``,
``get_record(id, include_deleted)``, ``children(object, id, relationship, include_deleted)`` and
``referencing(object, field, id, include_deleted)``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from freshforce.sandbox.salesforce import currency
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord, FieldValue
from freshforce.sandbox.salesforce.errors import (
    entity_is_deleted,
    invalid_field,
    invalid_type,
    not_found,
)
from freshforce.sandbox.salesforce.ids import IdMinter, is_valid_id, normalise_id
from freshforce.sandbox.salesforce.limits import ApiAllocation
from freshforce.sandbox.salesforce.objects import (
    FieldSpec,
    ObjectCatalog,
    ObjectSpec,
    standard_catalog,
)
from freshforce.sandbox.salesforce.platform_events import PlatformEvents
from freshforce.sandbox.salesforce.records import Record, RecordTables
from freshforce.sandbox.salesforce.transaction import (
    MultipleMatchesError,
    Transaction,
    UpsertResult,
    WriteContext,
)
from freshforce.sandbox.salesforce.validation import ValidationRules
from freshforce.sandbox.salesforce.wire import format_datetime

__all__ = [
    "MultipleMatchesError",
    "Record",
    "SalesforceState",
    "Transaction",
    "UpsertResult",
    "WriteContext",
]

Clock = Callable[[], datetime]


class SalesforceState:
    """One org: its objects, records, users, API allocation and change log.

    ``clock`` and ``rng`` are injected so two runs with the same inputs give the same ids,
    timestamps and transaction keys.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        changes: ChangeLog | None = None,
        catalog: ObjectCatalog | None = None,
        rng: random.Random | None = None,
        daily_api_limit: int = 15_000,
        pod: str = "8d",
        multi_currency: bool = False,
        org_number: int = 1,
    ) -> None:
        self.clock = clock
        self.changes = changes if changes is not None else ChangeLog()
        self.catalog = catalog if catalog is not None else standard_catalog()
        if multi_currency:
            currency.enable_multi_currency(self.catalog)
        self.validation_rules = ValidationRules()
        self.rng = rng if rng is not None else random.Random(0)  # noqa: S311 - ids, not secrets
        self.allocation = ApiAllocation(clock=clock, max_calls=daily_api_limit)
        self.minter = IdMinter(pod=pod)
        self.tables = RecordTables()
        self.platform_events = PlatformEvents()
        self._commit_number = 0
        # Orgs of one sandbox differ by ``org_number``; their record ids may be the same.
        self.org_id = IdMinter(pod=pod, start=org_number).mint("00D")
        self.admin_user_id = ""
        self._bootstrap()

    # ------------------------------------------------------------ setup

    def _bootstrap(self) -> None:
        """Create what every org has: an admin, the standard price book, its currencies (no CDC)."""
        self.admin_user_id = self.minter.mint("005")
        ctx = WriteContext(user_id=self.admin_user_id)
        with self.transaction(ctx, emit=False) as tx:
            tx.create(
                "User",
                {
                    "Username": "admin@freshforce.sandbox",
                    "FirstName": "Sandbox",
                    "LastName": "Admin",
                    "Email": "admin@freshforce.sandbox",
                    "Alias": "admin",
                },
                record_id=self.admin_user_id,
            )
            tx.create(
                "Pricebook2",
                {"Name": "Standard Price Book", "IsActive": True},
                extra={"IsStandard": True},
            )
            currency.set_up(tx)

    def reset(self) -> None:
        """Forget every record and start again from a fresh org.

        The org id stays; CDC replay ids keep increasing.
        """
        self.tables.clear()
        self.allocation.reset()
        self.changes.clear()
        self.minter.reset()
        self.minter.mint("00D")
        self._bootstrap()

    # ------------------------------------------------------------ metadata

    def describe(self, object_name: str) -> ObjectSpec:
        """Return the object called ``object_name``, or raise NOT_FOUND as REST does."""
        spec = self.catalog.get(object_name)
        if spec is None:
            raise invalid_type(object_name)
        return spec

    def add_custom_field(self, object_name: str, spec: FieldSpec) -> FieldSpec:
        """Add a custom ``__c`` field at run time (existing records read it as null)."""
        added = self.catalog.add_custom_field(object_name, spec)
        self.tables.forget_indexes(self.describe(object_name).name)
        return added

    def standard_pricebook_id(self) -> str:
        found = self.find("Pricebook2", "IsStandard", value=True)
        return found[0]

    # ------------------------------------------------------------ reads

    def records(self, object_name: str, include_deleted: bool = False) -> Iterator[Record]:
        """Yield the records of an object in creation order (recycle bin too, when asked)."""
        spec = self.describe(object_name)
        for record in list(self.tables.table(spec.name).values()):
            if include_deleted or not record["IsDeleted"]:
                yield record

    def count(self, object_name: str, include_deleted: bool = False) -> int:
        return sum(1 for _ in self.records(object_name, include_deleted))

    def get_record(self, record_id: str, include_deleted: bool = False) -> Record | None:
        """Return the record with ``record_id`` (15 or 18 characters) of any object, or None."""
        if not is_valid_id(record_id):
            return None
        canonical = normalise_id(record_id)
        spec = self.catalog.by_prefix(canonical[:3])
        if spec is None:
            return None
        record = self.tables.get(spec.name, canonical)
        if record is None or (record["IsDeleted"] and not include_deleted):
            return None
        return record

    def children(
        self,
        object_name: str,
        record_id: str,
        relationship: str,
        include_deleted: bool = False,
    ) -> list[Record]:
        """Return the children listed under ``relationship`` (``Contacts``…) of one record."""
        link = self.catalog.child_relationship(object_name, relationship)
        if link is None:
            raise invalid_field(self.describe(object_name).name, relationship)
        return self.referencing(link.child_sobject, link.field, record_id, include_deleted)

    def referencing(
        self, object_name: str, field_name: str, record_id: str, include_deleted: bool = False
    ) -> list[Record]:
        """Return the records of ``object_name`` whose reference ``field_name`` is ``record_id``."""
        spec = self.describe(object_name)
        table = self.tables.table(spec.name)
        found = [table[i] for i in self.tables.lookup(spec, field_name, record_id)]
        kept = [r for r in found if include_deleted or not r["IsDeleted"]]
        return sorted(kept, key=lambda r: str(r["CreatedDate"]) + str(r["Id"]))

    def read(self, object_name: str, record_id: str) -> Record:
        """Return a live record for REST, or raise MALFORMED_ID / NOT_FOUND / ENTITY_IS_DELETED."""
        spec = self.describe(object_name)
        if not is_valid_id(record_id):
            raise not_found()
        canonical = normalise_id(record_id)
        record = self.tables.get(spec.name, canonical)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise entity_is_deleted()
        return record

    def find(self, object_name: str, field_name: str, value: FieldValue) -> list[str]:
        """Return the ids of live records whose indexed field equals ``value``."""
        spec = self.describe(object_name)
        field = spec.field(field_name)
        if field is None:
            raise invalid_field(spec.name, field_name)
        if field.name not in self.tables.indexed_fields(spec):
            matches = [r["Id"] for r in self.records(spec.name) if r.get(field.name) == value]
            return [str(i) for i in matches]
        table = self.tables.table(spec.name)
        ids = self.tables.lookup(spec, field.name, value)
        return sorted(i for i in ids if not table[i]["IsDeleted"])

    def updated_ids(self, object_name: str, start: datetime, end: datetime) -> list[str]:
        """Ids of live records whose SystemModstamp falls in [start, end] (``…/updated/``)."""
        low, high = format_datetime(start), format_datetime(end)
        return [
            str(r["Id"])
            for r in self.records(object_name)
            if low <= str(r["SystemModstamp"]) <= high
        ]

    def deleted_records(
        self, object_name: str, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        """(id, deletedDate) of records deleted in [start, end] (``…/deleted/``)."""
        low, high = format_datetime(start), format_datetime(end)
        return [
            (str(r["Id"]), self.tables.deleted_at[str(r["Id"])])
            for r in self.records(object_name, include_deleted=True)
            if r["IsDeleted"] and low <= self.tables.deleted_at.get(str(r["Id"]), "") <= high
        ]

    # ------------------------------------------------------------ writes

    @contextmanager
    def transaction(
        self, ctx: WriteContext, emit: bool = True, now: datetime | None = None
    ) -> Iterator[Transaction]:
        """Run writes as one unit: committed (and logged) on success, undone on any error.

        ``now`` stamps the writes with another time than the clock's (seeds, silent edits).
        """
        tx = Transaction(self, ctx, now or self.clock(), self._transaction_key())
        try:
            yield tx
        except BaseException:
            tx.rollback_to(0)
            raise
        if emit:
            self._commit(tx)

    def create(self, object_name: str, fields: Mapping[str, object], ctx: WriteContext) -> str:
        with self.transaction(ctx) as tx:
            return tx.create(object_name, fields)

    def update(
        self, object_name: str, record_id: str, fields: Mapping[str, object], ctx: WriteContext
    ) -> None:
        with self.transaction(ctx) as tx:
            tx.update(object_name, record_id, fields)

    def delete(self, object_name: str, record_id: str, ctx: WriteContext) -> None:
        with self.transaction(ctx) as tx:
            tx.delete(object_name, record_id)

    def undelete(self, record_id: str, ctx: WriteContext) -> None:
        with self.transaction(ctx) as tx:
            tx.undelete(record_id)

    def upsert(
        self,
        object_name: str,
        field_name: str,
        value: str,
        fields: Mapping[str, object],
        ctx: WriteContext,
    ) -> UpsertResult:
        with self.transaction(ctx) as tx:
            return tx.upsert(object_name, field_name, value, fields)

    # ------------------------------------------------------------ internals

    def _transaction_key(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _commit(self, tx: Transaction) -> None:
        for published in tx.pending_events:
            published.topic.publish(published.event, int(tx.now.timestamp() * 1000))
        if not tx.pending:
            return
        self._commit_number += 1
        stamp = int(tx.now.timestamp() * 1000)
        for sequence, change in enumerate(tx.pending, start=1):
            self.changes.append(
                ChangeRecord(
                    replay_id=0,
                    entity_name=change.entity_name,
                    change_type=change.change_type,
                    record_ids=change.record_ids,
                    change_origin=tx.ctx.change_origin,
                    transaction_key=tx.key,
                    sequence_number=sequence,
                    commit_timestamp_ms=stamp,
                    commit_number=self._commit_number,
                    commit_user=tx.ctx.user_id,
                    fields=change.fields,
                    changed_fields=change.changed_fields,
                    nulled_fields=change.nulled_fields,
                )
            )
