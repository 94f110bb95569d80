"""The platform event outbox: facts to announce, written with them, published afterwards.

Revision ID: 0008_outbox
Revises: 0003_hooks
Create Date: 2026-12-05 05:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_outbox"
down_revision: str | None = "0003_hooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_key", name=op.f("uq_event_outbox_event_key")),
    )
    op.create_index(op.f("ix_event_outbox_published_at_id"), "event_outbox", ["published_at", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_event_outbox_published_at_id"), table_name="event_outbox")
    op.drop_table("event_outbox")
