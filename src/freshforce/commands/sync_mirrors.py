"""The mirror flows' part of ``freshforce sync --initial``: every FreshBooks record mirrored.

After the clients are linked (so invoices find their Accounts), each mirror map of the
configuration directory (``mirror_<name>.yaml``) backfills its resource (flows/mirror_backfill.py)
and prints what it wrote, found as wanted and could not mirror.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from freshforce.commands.context import CliContext
    from freshforce.engine.pair import Pair
    from freshforce.runtime import Runtime

__all__ = ["backfill_mirrors"]


async def backfill_mirrors(
    cli: CliContext, runtime: Runtime, pair: Pair, progress: Callable[[str, int], None]
) -> None:
    """Backfill every mirror flow of the configuration; print a table for each."""
    from rich.table import Table  # noqa: PLC0415 - lazy CLI imports

    from freshforce.flows.mirror import mirror_flows  # noqa: PLC0415
    from freshforce.flows.mirror_backfill import backfill  # noqa: PLC0415
    from freshforce.mapping import load_maps  # noqa: PLC0415

    settings = runtime.settings
    maps = load_maps(settings.config_dir, profile=settings.profile)
    for name, flow in mirror_flows(runtime, maps).items():
        report = await backfill(flow, pair, progress=progress)
        table = Table(title=f"first sync: {name}")
        table.add_column("what")
        table.add_column("records", justify="right")
        for what, count in Counter(report.counts).most_common():
            table.add_row(what, str(count))
        cli.stdout.print(table)
        for error in report.errors[:20]:
            cli.stdout.print(f"[yellow]not mirrored:[/] {error}", soft_wrap=True)
