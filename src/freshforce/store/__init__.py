"""The store: SQLAlchemy Core schema, Alembic migrations, SQLite and PostgreSQL."""

from freshforce.store.alerts import Alert, AlertKind, list_alerts, raise_alert, resolve_alerts
from freshforce.store.connections import (
    Connection,
    ConnectionInfo,
    ConnectionStatus,
    NewConnection,
    Tokens,
    list_connections,
    load_connection,
    lock_connection,
    replace_tokens,
    rotate_keys,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.cursors import load_cursor, save_cursor
from freshforce.store.engine import create_engine, is_sqlite
from freshforce.store.events import NewEvent, record_events
from freshforce.store.lease import acquire_lease, lease_holder, release_lease, renew_lease
from freshforce.store.migrate import current, head, prepare_database, upgrade
from freshforce.store.refresh_lock import refresh_lock
from freshforce.store.schema import metadata
from freshforce.store.types import UTCDateTime

__all__ = [
    "Alert",
    "AlertKind",
    "Connection",
    "ConnectionInfo",
    "ConnectionStatus",
    "NewConnection",
    "NewEvent",
    "TokenCipher",
    "Tokens",
    "UTCDateTime",
    "acquire_lease",
    "create_engine",
    "current",
    "head",
    "is_sqlite",
    "lease_holder",
    "list_alerts",
    "list_connections",
    "load_connection",
    "load_cursor",
    "lock_connection",
    "metadata",
    "new_key",
    "prepare_database",
    "raise_alert",
    "record_events",
    "refresh_lock",
    "release_lease",
    "renew_lease",
    "replace_tokens",
    "resolve_alerts",
    "rotate_keys",
    "save_connection",
    "save_cursor",
    "set_status",
    "upgrade",
]
