"""Change event decoding: Avro payloads by cached writer schema, headers and field bitmaps.

Pub/Sub sends each event as Avro binary without a container header; the writer schema is
``GetSchema(schema_id)``, fetched once per id. ``changedFields`` is a bitmap over the schema's
field order (``"0x…"`` for top-level fields, ``"<parent>-0x…"`` for a compound's parts), so the
decoder needs the schema to name the fields that changed.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from freshforce.errors import PermanentError

__all__ = [
    "ChangeEvent",
    "SchemaCache",
    "UndecodableEventError",
    "decode_event",
    "field_names_from_bitmap",
]

# fastavro's parsed schemas are plain dicts/lists of anything: the Avro wire description.
Schema = Any
_CLIENT = re.compile(r"(?:^|[;,])\s*client\s*=\s*([^;,\s]+)")


class UndecodableEventError(PermanentError):
    """A change event's payload is not Avro of its writer schema; its position is not passed."""


class SchemaCache:
    """Writer schemas by schema id; ``fetch`` (GetSchema) runs once per id."""

    def __init__(self, fetch: Callable[[str], Awaitable[str]]) -> None:
        self._fetch = fetch
        self._parsed: dict[str, tuple[Schema, list[Schema]]] = {}
        self.fetches = 0

    async def get(self, schema_id: str) -> tuple[Schema, list[Schema]]:
        """Return the parsed schema and its top-level field list."""
        found = self._parsed.get(schema_id)
        if found is None:
            self.fetches += 1
            raw = json.loads(await self._fetch(schema_id))
            found = (fastavro.parse_schema(raw), list(raw["fields"]))
            self._parsed[schema_id] = found
        return found


@dataclass(frozen=True)
class ChangeEvent:
    """One decoded change event: the header's facts and the non-null field values."""

    replay_id: bytes
    entity: str
    change_type: str
    record_ids: tuple[str, ...]
    change_origin: str
    transaction_key: str
    commit_timestamp: int
    changed_fields: tuple[str, ...]
    values: dict[str, Any]  # the decoded Avro record minus the header, nulls dropped

    @property
    def origin_client(self) -> str | None:
        """The ``client=`` of ``changeOrigin`` (our writes say ``freshforce``)."""
        found = _CLIENT.search(self.change_origin.partition(";")[2])
        return found.group(1) if found else None

    @property
    def is_gap(self) -> bool:
        return self.change_type.startswith("GAP_")

    def hint(self) -> dict[str, Any]:
        """Return the small JSON summary a job carries as its hint."""
        return {
            "source": "cdc",
            "change_type": self.change_type,
            "changed_fields": list(self.changed_fields),
            "commit_timestamp": self.commit_timestamp,
        }


def _record_of(field_type: Schema) -> Schema | None:
    options = field_type if isinstance(field_type, list) else [field_type]
    for option in options:
        if isinstance(option, dict) and option.get("type") == "record":
            return option
    return None


def field_names_from_bitmap(fields: Sequence[Schema], bitmap: Sequence[str]) -> tuple[str, ...]:
    """Name the fields a ``changedFields``-style bitmap sets, ``Parent.Child`` for parts."""
    names: list[str] = []
    for element in bitmap:
        parent, _, hex_digits = element.rpartition("-")
        bits = int(hex_digits, 16)
        if not parent:
            names.extend(f["name"] for i, f in enumerate(fields) if bits >> i & 1)
            continue
        owner = fields[int(parent)]
        nested = _record_of(owner["type"])
        parts = nested["fields"] if nested else []
        names.extend(f"{owner['name']}.{p['name']}" for i, p in enumerate(parts) if bits >> i & 1)
    return tuple(names)


def decode_event(
    payload: bytes, replay_id: bytes, schema: Schema, fields: Sequence[Schema]
) -> ChangeEvent:
    """Decode one Avro payload into a ``ChangeEvent``.

    A payload that does not decode to a whole change event (truncated, garbage, bytes left over,
    no header) raises :class:`UndecodableEventError` naming the event's replay id and schema.
    """
    buffer = io.BytesIO(payload)
    try:
        record: dict[str, Any] = fastavro.schemaless_reader(buffer, schema, None)  # type: ignore[assignment]
        if buffer.tell() != len(payload):
            raise ValueError(f"{len(payload) - buffer.tell()} bytes left over")  # noqa: TRY301
        header = record.pop("ChangeEventHeader")
        return ChangeEvent(
            replay_id=replay_id,
            entity=str(header["entityName"]),
            change_type=str(header["changeType"]),
            record_ids=tuple(header.get("recordIds") or ()),
            change_origin=str(header.get("changeOrigin") or ""),
            transaction_key=str(header.get("transactionKey") or ""),
            commit_timestamp=int(header.get("commitTimestamp") or 0),
            changed_fields=field_names_from_bitmap(fields, header.get("changedFields") or ()),
            values={k: v for k, v in record.items() if v is not None},
        )
    except Exception as exc:  # fastavro raises whatever its reader hit; all mean "not this"
        name = schema.get("name", "?") if isinstance(schema, dict) else "?"
        raise UndecodableEventError(
            f"change event at replay id {base64.b64encode(replay_id).decode()} "
            f"(schema {name}, {len(payload)} bytes) does not decode: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
