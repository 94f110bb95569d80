"""Bulk API 2.0 CSV: records to upload files, result files back to per-record outcomes.

Uploads are RFC 4180 CSV written by the ``csv`` module (every cell quoted when it needs to be),
with a header row naming the union of the records' fields in first-seen order. A field a record
lacks is an empty cell (Salesforce leaves it alone); ``None`` is ``#N/A`` (sets it to null).
Result files are unordered, so outcomes are matched back to the records by the input columns
Salesforce echoes after ``sf__Id``/``sf__Created`` or ``sf__Error``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from freshforce.connectors.salesforce.errors import SalesforceFault
from freshforce.connectors.salesforce.ids import to_18
from freshforce.connectors.salesforce.models import WriteResult

__all__ = ["NULL_MARKER", "build_upload", "match_results", "parse_rows"]

NULL_MARKER = "#N/A"
# A record as Salesforce takes it: a JSON-like object.
Record = Mapping[str, Any]
_Key = tuple[str, ...]
_SKIPPED = SalesforceFault("UNPROCESSED", "the bulk job was aborted before this record")


def columns_of(records: Sequence[Record]) -> list[str]:
    """Return every field the records name, in first-seen order, without ``attributes``."""
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(k for k in record if k != "attributes"))
    return list(seen)


def cell(value: object, *, where: str) -> str:
    """Render one field value the way Bulk API 2.0 reads it."""
    if value is None:
        return NULL_MARKER
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    msg = f"Bulk upload {where}: a {type(value).__name__} cannot go in a CSV cell"
    raise ValueError(msg)


def _row(record: Record, columns: Sequence[str], index: int) -> list[str]:
    return [
        cell(record[c], where=f"record {index} field {c!r}") if c in record else "" for c in columns
    ]


def build_upload(records: Sequence[Record], columns: Sequence[str], *, max_bytes: int) -> list[str]:
    """Return CSV files (each with the header row) of at most ``max_bytes`` UTF-8 bytes."""
    header = _line(columns)
    files: list[str] = []
    lines: list[str] = []
    size = len(header.encode())
    for index, record in enumerate(records):
        line = _line(_row(record, columns, index))
        grown = size + len(line.encode())
        if lines and grown > max_bytes:
            files.append(header + "".join(lines))
            lines, grown = [], len(header.encode()) + len(line.encode())
        lines.append(line)
        size = grown
    if lines:
        files.append(header + "".join(lines))
    return files


def _line(values: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def parse_rows(text: str) -> list[dict[str, str]]:
    """Return a CSV answer's rows as dicts keyed by its header (NUL characters dropped)."""
    return list(csv.DictReader(io.StringIO(text.replace("\x00", ""))))


def parse_error(text: str) -> SalesforceFault:
    """Split an ``sf__Error`` cell (``CODE:message:fields --``) into a fault."""
    code, _, rest = text.partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:
        message, fields = rest, ""
    names = tuple(f for f in fields.removesuffix("--").strip().split(",") if f)
    return SalesforceFault(code.strip() or "UNKNOWN", message.strip(), names)


def match_results(
    records: Sequence[Record],
    columns: Sequence[str],
    successes: Sequence[Mapping[str, str]],
    failures: Sequence[Mapping[str, str]],
    unprocessed: Sequence[Mapping[str, str]] = (),
) -> list[WriteResult | None]:
    """Return each record's outcome in input order; ``None`` where Salesforce reported none."""
    waiting: defaultdict[_Key, deque[int]] = defaultdict(deque)
    for index, record in enumerate(records):
        waiting[tuple(_row(record, columns, index))].append(index)
    found: list[WriteResult | None] = [None] * len(records)
    for index, result in _outcomes(columns, successes, failures, waiting):
        found[index] = result
    for row in unprocessed:
        queue = waiting.get(tuple(row.get(c, "") for c in columns))
        if queue:
            found[queue.popleft()] = WriteResult(None, success=False, errors=(_SKIPPED,))
    return found


def _outcomes(
    columns: Sequence[str],
    successes: Sequence[Mapping[str, str]],
    failures: Sequence[Mapping[str, str]],
    waiting: Mapping[_Key, deque[int]],
) -> Iterator[tuple[int, WriteResult]]:
    for row in successes:
        queue = waiting.get(tuple(row.get(c, "") for c in columns))
        if queue:
            created = row.get("sf__Created", "").lower() == "true"
            yield queue.popleft(), WriteResult(_id(row), success=True, created=created)
    for row in failures:
        queue = waiting.get(tuple(row.get(c, "") for c in columns))
        if queue:
            fault = parse_error(row.get("sf__Error", ""))
            yield queue.popleft(), WriteResult(_id(row), success=False, errors=(fault,))


def _id(row: Mapping[str, str]) -> str | None:
    raw = row.get("sf__Id") or ""
    return to_18(raw) if raw else None
