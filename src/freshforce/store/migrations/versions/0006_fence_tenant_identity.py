"""Jobs: the tenant in both partial unique indexes, a Retry-After floor, tracebacks on dead letters.

Revision ID: 0003_fence
Revises: 0002
Create Date: 2026-12-04 17:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_fence"
down_revision: str | None = "0003_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("status = 'pending'")
_RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("dead_letters", sa.Column("traceback", sa.Text(), nullable=True))
    op.drop_index("uq_jobs_pending_flow_key", table_name="jobs")
    op.drop_index("uq_jobs_running_key", table_name="jobs")
    op.create_index(
        "uq_jobs_pending_tenant_flow_key",
        "jobs",
        ["tenant", "flow", "key"],
        unique=True,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index(
        "uq_jobs_running_tenant_key",
        "jobs",
        ["tenant", "key"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_running_tenant_key", table_name="jobs")
    op.drop_index("uq_jobs_pending_tenant_flow_key", table_name="jobs")
    op.create_index(
        "uq_jobs_running_key",
        "jobs",
        ["key"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )
    op.create_index(
        "uq_jobs_pending_flow_key",
        "jobs",
        ["flow", "key"],
        unique=True,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.drop_column("dead_letters", "traceback")
    op.drop_column("jobs", "not_before")
