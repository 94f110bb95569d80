"""Sync store: link keys, match locks, conflicts, idempotency ledger, field writes.

Links gain the second Salesforce object's id (the primary Contact), snapshots each side's
modified time; fingerprints are indexed by tenant and expiry, events by record id.

Revision ID: 0003_syncstore
Revises: 0002
Create Date: 2026-12-04 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_syncstore"
down_revision: str | None = "0003_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _alter_existing()
    _create_link_tables()
    _create_conflicts()
    _create_idempotency()
    _create_field_writes()


def _alter_existing() -> None:
    op.add_column("links", sa.Column("salesforce_secondary_id", sa.String(18), nullable=True))
    op.create_index(
        "uq_links_tenant_flow_salesforce_secondary_id",
        "links",
        ["tenant", "flow", "salesforce_secondary_id"],
        unique=True,
    )
    op.add_column("snapshots", sa.Column("freshbooks_modified_at", _utc(), nullable=True))
    op.add_column("snapshots", sa.Column("salesforce_modified_at", _utc(), nullable=True))
    op.drop_index("ix_write_fingerprints_system_object_record_id", table_name="write_fingerprints")
    op.create_index(
        "ix_write_fingerprints_tenant_system_object_record_id",
        "write_fingerprints",
        ["tenant", "system", "object", "record_id"],
    )
    op.create_index("ix_write_fingerprints_expires_at", "write_fingerprints", ["expires_at"])
    op.create_index("ix_events_record_id", "events", ["record_id"])


def _create_link_tables() -> None:
    op.create_table(
        "link_keys",
        sa.Column("link_id", _big_id(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_link_keys_link_id_links"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("link_id", "key", name=op.f("pk_link_keys")),
    )
    op.create_index("ix_link_keys_key", "link_keys", ["key"])
    op.create_table(
        "match_locks",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "flow", "key", name=op.f("pk_match_locks")),
    )


def _create_conflicts() -> None:
    op.create_table(
        "conflicts",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("link_id", _big_id(), nullable=False),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("base_value", sa.JSON(), nullable=True),
        sa.Column("freshbooks_value", sa.JSON(), nullable=True),
        sa.Column("salesforce_value", sa.JSON(), nullable=True),
        sa.Column("freshbooks_changed_by", sa.String(128), nullable=True),
        sa.Column("freshbooks_changed_at", _utc(), nullable=True),
        sa.Column("salesforce_changed_by", sa.String(128), nullable=True),
        sa.Column("salesforce_changed_at", _utc(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("resolved_value", sa.JSON(), nullable=True),
        sa.Column("resolved_by", sa.String(128), nullable=True),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"], ["links.id"], name=op.f("fk_conflicts_link_id_links"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    op.create_index(
        "uq_conflicts_open_link_field",
        "conflicts",
        ["link_id", "field"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_conflicts_tenant_status", "conflicts", ["tenant", "status"])


def _create_idempotency() -> None:
    op.create_table(
        "idempotency",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("remote_id", sa.String(64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency")),
        sa.UniqueConstraint(
            "tenant",
            "system",
            "object",
            "reference",
            name=op.f("uq_idempotency_tenant_system_object_reference"),
        ),
    )


def _create_field_writes() -> None:
    op.create_table(
        "field_writes",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("link_id", _big_id(), nullable=True),
        sa.Column("job_id", _big_id(), nullable=True),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("object", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("source_value", sa.JSON(), nullable=True),
        sa.Column("trace", sa.JSON(), server_default="[]", nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_writes")),
    )
    op.create_index(
        "ix_field_writes_tenant_system_record_id", "field_writes", ["tenant", "system", "record_id"]
    )
    op.create_index("ix_field_writes_link_id", "field_writes", ["link_id"])


def downgrade() -> None:
    for table in ("field_writes", "idempotency", "conflicts", "match_locks", "link_keys"):
        op.drop_table(table)
    op.drop_index("ix_events_record_id", table_name="events")
    op.drop_index("ix_write_fingerprints_expires_at", table_name="write_fingerprints")
    op.drop_index(
        "ix_write_fingerprints_tenant_system_object_record_id", table_name="write_fingerprints"
    )
    op.create_index(
        "ix_write_fingerprints_system_object_record_id",
        "write_fingerprints",
        ["system", "object", "record_id"],
    )
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("salesforce_modified_at")
        batch.drop_column("freshbooks_modified_at")
    op.drop_index("uq_links_tenant_flow_salesforce_secondary_id", table_name="links")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("salesforce_secondary_id")
