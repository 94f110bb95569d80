"""The store: SQLAlchemy Core schema, Alembic migrations, SQLite and PostgreSQL."""

from freshforce.store.connections import (
    Connection,
    ConnectionInfo,
    ConnectionStatus,
    NewConnection,
    Tokens,
    list_connections,
    load_connection,
    replace_tokens,
    rotate_keys,
    save_connection,
    set_status,
)
from freshforce.store.crypto import TokenCipher, new_key
from freshforce.store.engine import create_engine, is_sqlite
from freshforce.store.migrate import current, head, prepare_database, upgrade
from freshforce.store.schema import metadata
from freshforce.store.types import UTCDateTime

__all__ = [
    "Connection",
    "ConnectionInfo",
    "ConnectionStatus",
    "NewConnection",
    "TokenCipher",
    "Tokens",
    "UTCDateTime",
    "create_engine",
    "current",
    "head",
    "is_sqlite",
    "list_connections",
    "load_connection",
    "metadata",
    "new_key",
    "prepare_database",
    "replace_tokens",
    "rotate_keys",
    "save_connection",
    "set_status",
    "upgrade",
]
