"""Alembic migrations of the store, shipped inside the package; run them with ``store.migrate``."""
