"""Jobs claim order: one index on (status, priority, run_at, id) replaces (status, run_at).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 01:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_jobs_status_run_at", table_name="jobs")
    op.create_index(
        "ix_jobs_claim_order", "jobs", ["status", "priority", "run_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_claim_order", table_name="jobs")
    op.create_index("ix_jobs_status_run_at", "jobs", ["status", "run_at"], unique=False)
