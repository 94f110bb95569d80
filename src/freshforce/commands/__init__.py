"""The CLI's command groups (``db``, ``config``, ``worker``, ``jobs``), registered by ``cli.py``.

Every module here imports only typer, rich and the standard library at module level; what a
command needs (the store, the engine, the connectors) is imported when it runs.
"""

from freshforce.commands import jobs, worker
from freshforce.commands.config import app as config_app
from freshforce.commands.context import CliContext, cli_context, run
from freshforce.commands.db import app as db_app

__all__ = ["CliContext", "cli_context", "config_app", "db_app", "jobs", "run", "worker"]
