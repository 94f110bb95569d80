"""Refused fields: a conflict row can hold a value the other side refused, with its error.

Revision ID: 0012_refused_fields
Revises: 0011_flow_pauses
Create Date: 2026-12-05 12:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_refused_fields"
down_revision: str | None = "0011_flow_pauses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="conflict")
        )
        batch.add_column(sa.Column("refused_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("error_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("error_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conflicts") as batch:
        batch.drop_column("error_message")
        batch.drop_column("error_code")
        batch.drop_column("refused_by")
        batch.drop_column("kind")
