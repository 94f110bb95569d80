"""Streams: one naming scheme for change streams and their leases, one stored cursor format.

A stream is named ``<system>/<method>/<what>``: ``freshbooks/poll/clients``,
``salesforce/poll/Account/clients``, ``salesforce/cdc/data/AccountChangeEvent``. Its lease is
``<connection>/<stream>`` and its cursor is stored under ``(connection, stream)``.

Every cursor is the JSON object ``{"position": "...", "seen": [[record id, version], ...]}``:
``position`` is a poll watermark (ISO-8601 UTC) or a base64 replay id (or ``EARLIEST`` /
``LATEST``); ``seen`` holds the (record id, version) pairs already stored inside a poll's
overlap window, so the boundary re-read produces no duplicates. CDC cursors keep ``seen`` empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from freshforce.errors import ConfigError
from freshforce.store.cursors import load_cursor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Cursor", "Stream"]


@dataclass(frozen=True)
class Stream:
    """One change stream of one connection."""

    connection_id: str
    name: str

    @property
    def lease_name(self) -> str:
        """Return the lease that makes one process the only reader of this stream."""
        return f"{self.connection_id}/{self.name}"

    async def load_cursor(self, db: AsyncConnection) -> Cursor | None:
        """Return the stored cursor, or ``None`` before the first commit."""
        text = await load_cursor(db, self.connection_id, self.name)
        return None if text is None else Cursor.load(text, where=self.lease_name)


@dataclass(frozen=True)
class Cursor:
    """Where a stream stands: a position and the (record id, version) pairs already seen."""

    position: str
    seen: frozenset[tuple[str, str]] = frozenset()

    def dump(self) -> str:
        """Encode as the one stored format (sorted, so equal cursors store equal text)."""
        return json.dumps({"position": self.position, "seen": sorted(self.seen)})

    @classmethod
    def load(cls, text: str, *, where: str = "cursor") -> Cursor:
        """Decode a stored cursor; ``ConfigError`` names the stream when the text is not one."""
        try:
            data = json.loads(text)
            seen = frozenset((str(rid), str(version)) for rid, version in data["seen"])
            return cls(str(data["position"]), seen)
        except (ValueError, KeyError, TypeError) as exc:
            msg = (
                f"stored cursor of {where} is not {{'position', 'seen'}} JSON ({exc}); "
                "run `freshforce db upgrade` to convert older cursors"
            )
            raise ConfigError(msg) from None
