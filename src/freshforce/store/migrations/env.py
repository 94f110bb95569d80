"""Alembic environment: run migrations on the connection ``store.migrate`` hands over.

There is no alembic.ini and no URL here: ``store.migrate`` opens the async engine, takes the
migration lock, and passes its connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from freshforce.store.migrate import compare_server_default
from freshforce.store.schema import metadata


def _run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=compare_server_default,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
