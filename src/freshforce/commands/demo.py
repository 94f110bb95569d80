"""The ``freshforce demo`` command: settings for the demo, then one run of the scenario."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from freshforce.commands.context import CliContext, run
from freshforce.demo import run_demo
from freshforce.sandbox.launch import SandboxSettings
from freshforce.settings import default_data_dir

__all__ = ["run_demo_command"]


def default_demo_folder() -> Path:
    """Return ``$XDG_DATA_HOME/freshforce-demo``: beside, never inside, a real data directory."""
    return default_data_dir().parent / "freshforce-demo"


def run_demo_command(cli: CliContext, *, check: bool, seed: int, folder: Path | None) -> None:
    """Run the demo: default ports while exploring, free ports with ``check``."""
    settings = cli.settings
    sandbox = SandboxSettings(seed=seed, records=0, auto_approve=True)
    if check:
        sandbox = replace(sandbox, freshbooks_port=0, salesforce_port=0, pubsub_port=0)
    where = folder or default_demo_folder()
    result = run(
        cli,
        lambda: run_demo(settings, sandbox, typer.echo, keep_running=not check, folder=where),
    )
    if result.invoice_payment_status != "paid" or result.opportunity_payment_status != "Paid":
        cli.fail("the demo did not end with a won deal, its invoice paid and the deal Paid", code=1)
