"""Mapping suggestions: the accept/reject decisions kept per tenant and flow.

Revision ID: 0009_assist
Revises: 0008_outbox
Create Date: 2026-12-05 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_assist"
down_revision: str | None = "0008_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "mapping_decisions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mapping_decisions")),
        sa.UniqueConstraint(
            "tenant",
            "flow",
            "source",
            "target",
            name=op.f("uq_mapping_decisions_tenant_flow_source_target"),
        ),
    )


def downgrade() -> None:
    op.drop_table("mapping_decisions")
