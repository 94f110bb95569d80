"""The tables: everything the engine knows, declared once for SQLite and PostgreSQL.

Alembic migrations under ``store/migrations`` must produce exactly this metadata; a test checks it
on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa

from freshforce.store.types import UTCDateTime

__all__ = [
    "alerts",
    "attempts",
    "audit_log",
    "config_versions",
    "connections",
    "cursors",
    "dead_letters",
    "events",
    "jobs",
    "leases",
    "links",
    "metadata",
    "snapshots",
    "write_fingerprints",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    },
)

# One remote account reached with OAuth tokens; tokens are Fernet-encrypted (store/crypto.py).
connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("system", sa.String(16), nullable=False),  # freshbooks | salesforce
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("remote_account", sa.String(64)),  # FreshBooks account id / Salesforce org id
    sa.Column("remote_business", sa.String(64)),  # FreshBooks business id / Salesforce user id
    sa.Column("instance_url", sa.String(255)),
    sa.Column("access_token_enc", sa.Text),
    sa.Column("refresh_token_enc", sa.Text),
    sa.Column("token_expires_at", UTCDateTime),
    sa.Column("token_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("scopes", sa.Text),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One business record known in both systems.
links = sa.Table(
    "links",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("freshbooks_id", sa.String(64)),
    sa.Column("salesforce_id", sa.String(18)),
    sa.Column("extra_ids", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant", "flow", "freshbooks_id"),
    sa.UniqueConstraint("tenant", "flow", "salesforce_id"),
)

# Field values of a link as of its last sync: the base of the three-way compare.
snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column(
        "link_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("links.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("synced_at", UTCDateTime, nullable=False),
)

# What we wrote, so the change event our own write causes is recognised and dropped.
write_fingerprints = sa.Table(
    "write_fingerprints",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("object", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("written_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index(None, "system", "object", "record_id"),
)

# Raw change notifications as received, kept for lineage.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("source", sa.String(32), nullable=False),  # webhook | cdc | poll
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("object", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(64)),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "system", "object", "record_id"),
)

# "Reconcile KEY for FLOW" for a tenant. At most one pending job per (tenant, flow, key), at most
# one running per (tenant, key). ``not_before`` is a remote's Retry-After: coalescing keeps it.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),  # 0 runs first
    sa.Column("hints", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="10"),
    sa.Column("run_at", UTCDateTime, nullable=False),
    sa.Column("not_before", UTCDateTime),
    sa.Column("locked_by", sa.String(128)),
    sa.Column("lease_expires_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(
        "uq_jobs_pending_tenant_flow_key",
        "tenant",
        "flow",
        "key",
        unique=True,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "uq_jobs_running_tenant_key",
        "tenant",
        "key",
        unique=True,
        sqlite_where=sa.text("status = 'running'"),
        postgresql_where=sa.text("status = 'running'"),
    ),
    # Claim order: lowest priority number first, then earliest due; also serves status filters.
    sa.Index("ix_jobs_claim_order", "status", "priority", "run_at", "id"),
)

# One row per try of a job, with how long it took and how it ended.
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("jobs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(128)),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("duration_ms", sa.Float),
    sa.Column("outcome", sa.String(16)),  # done | retry | dead | skipped | lost
    sa.Column("error_class", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("traceback", sa.Text),
)

# Jobs that will not succeed by waiting: inspect, edit the payload, replay.
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "job_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("jobs.id", ondelete="SET NULL"),
    ),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("error_class", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("traceback", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("edited_at", UTCDateTime),
    sa.Column("replayed_at", UTCDateTime),
)

# Change-stream positions (replay ids, poll watermarks), per connection and stream.
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("connection_id", sa.String(64), primary_key=True),
    sa.Column("stream", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Named leases: exactly one change-stream listener per connection and stream.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(191), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

# Versioned mapping/configuration per profile; one version is active.
config_versions = sa.Table(
    "config_versions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("profile", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", sa.String(128)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("profile", "version"),
)

# Who did what, for governance.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(255)),
    sa.Column("detail", sa.JSON, nullable=False, server_default="{}"),
)

# Things a person should know about: auth failures, dead letters, drift.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("connection_id", sa.String(64)),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
)
