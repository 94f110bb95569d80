"""Time the sandbox SOQL engine over 1,000 in-memory records and print a table."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Iterable

from freshforce.sandbox.salesforce.soql import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
    run_soql,
)

ROWS = 1_000
REPEATS = 20
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
SHAPES = {
    "account": ObjectShape(
        "Account",
        (FieldSpec("Id", "id"), FieldSpec("Name", "string")),
        children=(ChildLink("Opportunities", "Opportunity", "AccountId"),),
    ),
    "opportunity": ObjectShape(
        "Opportunity",
        (
            FieldSpec("Id", "id"),
            FieldSpec("Name", "string"),
            FieldSpec("AccountId", "reference"),
            FieldSpec("Amount", "currency"),
            FieldSpec("CloseDate", "date"),
            FieldSpec("SystemModstamp", "datetime"),
        ),
        parents=(ParentLink("Account", "AccountId", "Account"),),
    ),
}


class _Source:
    def __init__(self) -> None:
        self.accounts = {f"001{i:015d}": {"Id": f"001{i:015d}", "Name": f"A{i}"} for i in range(50)}
        self.opportunities = [
            {
                "Id": f"006{i:015d}",
                "Name": f"Deal {i}",
                "AccountId": f"001{i % 50:015d}",
                "Amount": i * 10.5,
                "CloseDate": f"2024-{i % 12 + 1:02d}-15",
                "SystemModstamp": f"2024-05-{i % 28 + 1:02d}T10:00:00.000+0000",
            }
            for i in range(ROWS)
        ]

    def shape(self, object_name: str) -> ObjectShape | None:
        return SHAPES.get(object_name.lower())

    def records(self, object_name: str, *, include_deleted: bool) -> Iterable[Record]:
        del include_deleted
        if object_name == "Account":
            return self.accounts.values()
        return self.opportunities

    def record(self, object_name: str, record_id: str) -> Record | None:
        del object_name
        return self.accounts.get(record_id)

    def children(
        self, link: ChildLink, parent_id: str, *, include_deleted: bool
    ) -> Iterable[Record]:
        del link, include_deleted
        return [o for o in self.opportunities if o["AccountId"] == parent_id]


QUERIES = {
    "select all": "SELECT Id, Name, Amount FROM Opportunity",
    "parent field": "SELECT Id, Account.Name FROM Opportunity",
    "where + order": (
        "SELECT Id FROM Opportunity WHERE SystemModstamp >= 2024-05-10T00:00:00Z "
        "AND (Amount > 100 OR Name LIKE 'Deal 1%') ORDER BY SystemModstamp, Id LIMIT 2000"
    ),
    "date literal": "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:90",
    "child subquery": "SELECT Id, (SELECT Id, Amount FROM Opportunities) FROM Account",
}


def main() -> None:
    source = _Source()
    print(f"{'query':<16} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'rows/s':>10}")
    for label, text in QUERIES.items():
        timings = []
        rows = 0
        for _ in range(REPEATS):
            start = time.perf_counter()
            rows = run_soql(text, source, now=NOW).total_size
            timings.append(time.perf_counter() - start)
        timings.sort()
        p50 = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        scanned = ROWS if label != "child subquery" else ROWS + 50
        print(f"{label:<16} {rows:>6} {p50 * 1e3:>8.2f} {p95 * 1e3:>8.2f} {scanned / p50:>10.0f}")


if __name__ == "__main__":
    main()
