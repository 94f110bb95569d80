"""Flow pauses (the update breaker), and the write-log index it counts recent writes with.

Revision ID: 0011_flow_pauses
Revises: 0010_anomalies
Create Date: 2026-12-05 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_flow_pauses"
down_revision: str | None = "0010_anomalies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "flow_pauses",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("paused_by", sa.String(length=128), nullable=False),
        sa.Column("paused_at", _utc(), nullable=False),
        sa.Column("resumed_by", sa.String(length=128), nullable=True),
        sa.Column("resumed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "flow", name=op.f("pk_flow_pauses")),
    )
    op.create_index(
        op.f("ix_field_writes_tenant_flow_at"), "field_writes", ["tenant", "flow", "at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_field_writes_tenant_flow_at"), table_name="field_writes")
    op.drop_table("flow_pauses")
