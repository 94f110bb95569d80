"""The store: SQLAlchemy Core schema, Alembic migrations, SQLite and PostgreSQL."""
