"""FreshBooks webhook callbacks: the encrypted verifier of each confirmed callback.

Connections also record when their tokens were last refreshed (`freshforce connections`).

Revision ID: 0003_hooks
Revises: 0003_web
Create Date: 2026-12-04 18:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_hooks"
down_revision: str | None = "0003_fence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "connections", sa.Column("token_refreshed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "webhook_callbacks",
        sa.Column("connection_id", sa.String(length=64), nullable=False),
        sa.Column("callback_id", sa.String(length=32), nullable=False),
        sa.Column("verifier_enc", sa.Text(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_webhook_callbacks_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "callback_id", name=op.f("pk_webhook_callbacks")),
    )


def downgrade() -> None:
    op.drop_table("webhook_callbacks")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("token_refreshed_at")
