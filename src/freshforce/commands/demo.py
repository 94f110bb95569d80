"""The ``freshforce demo`` command: settings for the demo, then one run of the scenario."""

from __future__ import annotations

from dataclasses import replace

import typer

from freshforce.commands.context import CliContext, run
from freshforce.demo import run_demo
from freshforce.sandbox.launch import SandboxSettings

__all__ = ["run_demo_command"]


def run_demo_command(cli: CliContext, *, check: bool, seed: int) -> None:
    """Run the demo: default ports while exploring, free ports with ``check``."""
    settings = cli.settings
    sandbox = SandboxSettings(seed=seed, records=0, auto_approve=True)
    if check:
        sandbox = replace(sandbox, freshbooks_port=0, salesforce_port=0, pubsub_port=0)
    result = run(cli, lambda: run_demo(settings, sandbox, typer.echo, keep_running=not check))
    if result.invoice_payment_status != "paid" or result.opportunity_payment_status != "Paid":
        cli.fail("the demo did not end with a won deal, its invoice paid and the deal Paid", code=1)
