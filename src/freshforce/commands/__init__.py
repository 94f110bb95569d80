"""The CLI's command groups (``db``, ``config``), each a typer app that ``cli.py`` registers."""

from freshforce.commands.config import app as config_app
from freshforce.commands.context import CliContext, cli_context, run
from freshforce.commands.db import app as db_app

__all__ = ["CliContext", "cli_context", "config_app", "db_app", "run"]
