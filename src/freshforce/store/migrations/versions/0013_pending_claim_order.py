"""Jobs claim order: the index holds pending jobs only.

A claim sets jobs running and an ack sets them done; with every status in the claim-order index
each of those wrote one more index entry per job. Running jobs are found by
``uq_jobs_running_tenant_key``, done ones by id.

Revision ID: 0013_pending_claim_order
Revises: 0012_refused_fields
Create Date: 2026-12-06 05:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_pending_claim_order"
down_revision: str | None = "0012_refused_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["status", "priority", "run_at", "id"]


def upgrade() -> None:
    op.drop_index("ix_jobs_claim_order", table_name="jobs")
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_jobs_claim_order",
        "jobs",
        _COLUMNS,
        unique=False,
        sqlite_where=pending,
        postgresql_where=pending,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_claim_order", table_name="jobs")
    op.create_index("ix_jobs_claim_order", "jobs", _COLUMNS, unique=False)
