"""Bulk API 2.0 CSV: read uploaded batches, write result files, flatten query rows.

Uploads name fields in a header row; an empty cell leaves a field alone and ``#N/A`` sets it to
null, as Salesforce documents. Result files quote every value, like Salesforce's do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["DELIMITERS", "LINE_ENDINGS", "NULL_MARKER", "flatten_row", "read_batch", "write_csv"]

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
NULL_MARKER = "#N/A"


def read_batch(text: str, delimiter: str) -> tuple[list[str], list[list[str]]]:
    """Return the header and the data rows of one uploaded CSV batch (NULs stripped)."""
    reader = csv.reader(io.StringIO(text.replace("\x00", "")), delimiter=delimiter)
    rows = [row for row in reader if row]
    if not rows:
        return [], []
    return [name.strip() for name in rows[0]], rows[1:]


def write_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], delimiter: str, line_ending: str
) -> str:
    """Return a fully quoted CSV document; ``None`` becomes an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A query row is JSON from the SOQL engine: nested parent objects under their relationship names.
def flatten_row(row: Mapping[str, Any], columns: Sequence[str]) -> list[object]:
    """Return the values of dotted ``columns`` (``Account.Name``) from a nested query row."""
    return [_dig(row, column.split(".")) for column in columns]


def _dig(row: Mapping[str, Any], parts: list[str]) -> object:
    current: Any = row
    for part in parts:
        if not isinstance(current, Mapping):
            return None
        key = next((k for k in current if k.lower() == part.lower()), None)
        current = current.get(key) if key is not None else None
    return current
