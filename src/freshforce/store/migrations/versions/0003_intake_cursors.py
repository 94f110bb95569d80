"""Intake cursors: one stored format and one stream naming scheme for every change stream.

FreshBooks poll cursors move from ``freshbooks:<stream>`` to ``freshbooks/poll/<stream>``. Every
value becomes ``{"position": ..., "seen": [[id, version], ...]}``: FreshBooks
``{"watermark", "seen": {id: updated}}``, Salesforce poll ``{"since", "seen": [[id, stamp]]}``
and the bare replay ids of CDC streams (base64, ``EARLIEST``, ``LATEST``) are converted. A value
already in the new format is left alone, so the upgrade can run twice. Downgrade restores the
old names and formats.

Revision ID: 0003_intake
Revises: 0002
Create Date: 2026-12-04 17:30:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_intake"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_cursors = sa.table(
    "cursors",
    sa.column("connection_id", sa.String),
    sa.column("stream", sa.String),
    sa.column("value", sa.Text),
)


def _new_value(value: str) -> str:
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # a CDC replay id or preset
        return json.dumps({"position": value, "seen": []})
    if "position" in data:
        return value
    if "watermark" in data:  # FreshBooks: {id: updated}
        seen = sorted([str(k), str(v)] for k, v in data["seen"].items())
        return json.dumps({"position": data["watermark"], "seen": seen})
    seen = sorted([str(i), str(s)] for i, s in data["seen"])
    return json.dumps({"position": data["since"], "seen": seen})


def _old_value(stream: str, value: str) -> str:
    data = json.loads(value)
    if stream.startswith("salesforce/cdc"):
        return str(data["position"])
    if stream.startswith("freshbooks"):
        seen = dict(data["seen"])
        return json.dumps({"watermark": data["position"], "seen": seen})
    return json.dumps({"since": data["position"], "seen": data["seen"]})


def _rewrite(rename: dict[str, str], *, convert: bool) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_cursors)).all()
    for row in rows:
        stream = rename.get(row.stream, row.stream)
        value = _new_value(row.value) if convert else _old_value(row.stream, row.value)
        bind.execute(
            sa.update(_cursors)
            .where(_cursors.c.connection_id == row.connection_id, _cursors.c.stream == row.stream)
            .values(stream=stream, value=value)
        )


def _renames(prefix_from: str, prefix_to: str) -> dict[str, str]:
    bind = op.get_bind()
    streams = bind.execute(sa.select(_cursors.c.stream).distinct()).scalars()
    return {
        s: prefix_to + s.removeprefix(prefix_from) for s in streams if s.startswith(prefix_from)
    }


def upgrade() -> None:
    _rewrite(_renames("freshbooks:", "freshbooks/poll/"), convert=True)


def downgrade() -> None:
    _rewrite(_renames("freshbooks/poll/", "freshbooks:"), convert=False)
