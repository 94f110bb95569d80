"""The tables: everything the engine knows, declared once for SQLite and PostgreSQL.

Alembic migrations under ``store/migrations`` must produce exactly this metadata; a test checks it
on both backends.
"""

from __future__ import annotations

import sqlalchemy as sa

from freshforce.store.types import UTCDateTime

__all__ = [
    "alerts",
    "anomalies",
    "anomaly_observations",
    "attempts",
    "audit_log",
    "config_versions",
    "conflicts",
    "connections",
    "cursors",
    "dead_letters",
    "event_outbox",
    "events",
    "field_writes",
    "idempotency",
    "jobs",
    "leases",
    "link_keys",
    "links",
    "mapping_decisions",
    "match_locks",
    "metadata",
    "snapshots",
    "users",
    "webhook_callbacks",
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
    sa.Column("token_refreshed_at", UTCDateTime),  # the last refresh that stored new tokens
    sa.Column("scopes", sa.Text),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

# One business record known in both systems. ``salesforce_secondary_id`` is the flow's second
# Salesforce object (the clients flow: the Account's primary Contact), a column so that a change
# event on it finds its link by an indexed, unique lookup; ``extra_ids`` keeps ids only shown.
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
    sa.Column("salesforce_secondary_id", sa.String(18)),
    sa.UniqueConstraint("tenant", "flow", "freshbooks_id"),
    sa.UniqueConstraint("tenant", "flow", "salesforce_id"),
    sa.Index(
        "uq_links_tenant_flow_salesforce_secondary_id",
        "tenant",
        "flow",
        "salesforce_secondary_id",
        unique=True,
    ),
)

# Normalised match keys of a linked record ("email:ann@acme.com", "org:acme"), so matching and
# `freshforce trace` find a link by e-mail or organisation without reading either system.
link_keys = sa.Table(
    "link_keys",
    metadata,
    sa.Column("link_id", _ID, sa.ForeignKey("links.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Index(None, "key"),
)

# A normalised match key held by one job from before its reads until its commit, so two jobs
# about one business record never run at once, even before a link exists (docs/architecture.md).
match_locks = sa.Table(
    "match_locks",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("flow", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
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
    sa.Column("freshbooks_modified_at", UTCDateTime),
    sa.Column("salesforce_modified_at", UTCDateTime),
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
    sa.Index(None, "tenant", "system", "object", "record_id"),
    sa.Index(None, "expires_at"),
)

# A field held back for review, the rest of the record syncing meanwhile: ``conflict`` when its two
# sides changed differently under the ``review`` policy, ``refused`` when one side refused its value
# (the refusing system, its error code and message kept). It waits until someone takes a side or a
# value, or (refused) the value is changed at its source. One open row per field.
conflicts = sa.Table(
    "conflicts",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("link_id", _ID, sa.ForeignKey("links.id", ondelete="CASCADE"), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("base_value", sa.JSON),
    sa.Column("freshbooks_value", sa.JSON),
    sa.Column("salesforce_value", sa.JSON),
    sa.Column("freshbooks_changed_by", sa.String(128)),
    sa.Column("freshbooks_changed_at", UTCDateTime),
    sa.Column("salesforce_changed_by", sa.String(128)),
    sa.Column("salesforce_changed_at", UTCDateTime),
    sa.Column("kind", sa.String(16), nullable=False, server_default="conflict"),  # | refused
    sa.Column("refused_by", sa.String(16)),  # the system that refused the value (refused only)
    sa.Column("error_code", sa.String(64)),  # its error code, e.g. INVALID_EMAIL_ADDRESS
    sa.Column("error_message", sa.Text),  # its message, as it gave it
    sa.Column("status", sa.String(16), nullable=False),  # open | resolved
    sa.Column("resolution", sa.String(16)),  # freshbooks | salesforce | value | fixed
    sa.Column("resolved_value", sa.JSON),
    sa.Column("resolved_by", sa.String(128)),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(
        "uq_conflicts_open_link_field",
        "link_id",
        "field",
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.Index(None, "tenant", "status"),
)

# Creates in flight: recorded (pending) before the remote create, completed (done) after, so an
# ambiguous failure is settled by looking the reference up in the target system.
idempotency = sa.Table(
    "idempotency",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),  # the target system
    sa.Column("object", sa.String(64), nullable=False),
    sa.Column("reference", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | done
    sa.Column("remote_id", sa.String(64)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant", "system", "object", "reference"),
)

# Every field we wrote, with what it was, what it became and how the mapping got there. A log:
# it outlives links and jobs, so it holds their ids without foreign keys.
field_writes = sa.Table(
    "field_writes",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("link_id", _ID),
    sa.Column("job_id", _ID),
    sa.Column("system", sa.String(16), nullable=False),  # the system written to
    sa.Column("object", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
    sa.Column("source_value", sa.JSON),
    sa.Column("trace", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index(None, "tenant", "system", "record_id"),
    sa.Index(None, "link_id"),
    sa.Index(None, "tenant", "flow", "at"),  # the update breaker counts a flow's recent writes
)

# Raw change notifications as received, kept for lineage.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    # webhook | cdc | poll; "echo": a change of our own write, recognised and dropped by a job
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("object", sa.String(64), nullable=False),
    sa.Column("record_id", sa.String(64)),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Index(None, "system", "object", "record_id"),
    sa.Index(None, "record_id"),
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
    # Claim order of the pending jobs: lowest priority number first, then earliest due. Pending
    # only, so a claim and an ack each write one index entry fewer per job (a running job is
    # found by the running index, a done one by its id).
    sa.Index(
        "ix_jobs_claim_order",
        "status",
        "priority",
        "run_at",
        "id",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
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

# Dashboard users: argon2 password hashes (pwdlib) and a role, viewer or operator.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # viewer | operator
    sa.Column("api_token_hash", sa.String(64), unique=True),  # sha256 of a bearer token
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# FreshBooks callbacks confirmed by the webhook route: the verifier FreshBooks posted is the HMAC
# secret of that callback's deliveries, so it is kept Fernet-encrypted like tokens.
webhook_callbacks = sa.Table(
    "webhook_callbacks",
    metadata,
    sa.Column(
        "connection_id",
        sa.String(64),
        sa.ForeignKey("connections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("callback_id", sa.String(32), primary_key=True),
    sa.Column("verifier_enc", sa.Text, nullable=False),
    sa.Column("verified_at", UTCDateTime, nullable=False),
)

# Platform events freshforce announces: written in the transaction of the fact they announce
# (an invoice linked, a payment written back, a dead letter), published later by the drain.
event_outbox = sa.Table(
    "event_outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    sa.Column("event", sa.String(80), nullable=False),  # FreshBooks_Invoice_Event__e
    sa.Column("event_key", sa.String(255), nullable=False, unique=True),  # one row per fact
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("published_at", UTCDateTime),
    sa.Column("replay_id", sa.String(64)),  # base64, as the server answered
    sa.Index(None, "published_at", "id"),
)

# A person's verdict on a mapping suggestion (source field -> target field), per tenant and flow:
# accepted pairs rank first next time and lend their words as synonyms; rejected ones never return.
mapping_decisions = sa.Table(
    "mapping_decisions",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("source", sa.String(255), nullable=False),  # e.g. client.mob_phone
    sa.Column("target", sa.String(255), nullable=False),  # e.g. Contact.MobilePhone
    sa.Column("decision", sa.String(16), nullable=False),  # accepted | rejected
    sa.Column("decided_by", sa.String(128)),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant", "flow", "source", "target"),
)

# What a flow wrote, for the anomaly baselines: one row per record and measure (an amount or a
# label such as the currency), replaced when the record is written again.
anomaly_observations = sa.Table(
    "anomaly_observations",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("grp", sa.String(128), nullable=False),  # e.g. the FreshBooks client id
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("number", sa.Float),
    sa.Column("text", sa.String(255)),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("tenant", "flow", "record_key", "name"),
    sa.Index(None, "tenant", "flow", "grp"),
)

# Writes the anomaly guard held for review (status open, then accepted or rejected) or flagged.
anomalies = sa.Table(
    "anomalies",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("record_key", sa.String(255), nullable=False),
    sa.Column("grp", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # hold | flag
    sa.Column("status", sa.String(16), nullable=False),  # open | accepted | rejected | flagged
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("write", sa.JSON, nullable=False),  # the planned write's amounts and labels
    sa.Column("decided_by", sa.String(128)),
    sa.Column("decided_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index(None, "tenant", "status"),
    sa.Index(None, "tenant", "flow", "record_key"),
)

# A flow paused for a tenant (the update breaker tripped, or an operator paused it): its jobs
# wait in the queue, unattempted, until resumed. One row per (tenant, flow), kept on resume: its
# ``resumed_at`` starts the breaker's next count, so the burst it stopped is not counted twice.
flow_pauses = sa.Table(
    "flow_pauses",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("flow", sa.String(64), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("paused_by", sa.String(128), nullable=False),  # "update_breaker" or a person
    sa.Column("paused_at", UTCDateTime, nullable=False),
    sa.Column("resumed_by", sa.String(128)),
    sa.Column("resumed_at", UTCDateTime),  # NULL while paused
)
