"""Write anomalies: the observations baselines are learned from, and held or flagged writes.

Revision ID: 0010_anomalies
Revises: 0009_assist
Create Date: 2026-12-05 05:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_anomalies"
down_revision: str | None = "0009_assist"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anomaly_observations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("grp", sa.String(length=128), nullable=False),
        sa.Column("record_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("text", sa.String(length=255), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_observations")),
        sa.UniqueConstraint(
            "tenant", "flow", "record_key", "name",
            name=op.f("uq_anomaly_observations_tenant_flow_record_key_name"),
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_anomaly_observations_tenant_flow_grp"),
        "anomaly_observations",
        ["tenant", "flow", "grp"],
    )
    op.create_table(
        "anomalies",
        sa.Column("id", _ID, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=255), nullable=False),
        sa.Column("grp", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("write", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
    )
    op.create_index(op.f("ix_anomalies_tenant_status"), "anomalies", ["tenant", "status"])
    op.create_index(
        op.f("ix_anomalies_tenant_flow_record_key"), "anomalies", ["tenant", "flow", "record_key"]
    )


def downgrade() -> None:
    op.drop_table("anomalies")
    op.drop_table("anomaly_observations")
