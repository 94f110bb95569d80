"""Hot reload: a running worker picks up a newly applied configuration version, no restart.

:class:`ConfigWatch` looks at the active version of its profile on every tick (one indexed
read of the number and checksum). When another one is active it loads that version's maps,
builds the flows from them and hands them to the worker, which runs every batch it starts from
then on with them; batches already running finish under the version they started with. A
version that no longer loads is logged and skipped, and the old flows keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from freshforce.environments.versions import version_maps
from freshforce.mapping import MappingConfigError
from freshforce.store.config_versions import active_checksum, active_version

if TYPE_CHECKING:
    from freshforce.engine import Flow, JobHandler, Worker
    from freshforce.mapping import MapSet
    from freshforce.runtime import Runtime

__all__ = ["ConfigWatch", "running_maps"]

log = structlog.get_logger("freshforce.config")

BuildFlows = Callable[["MapSet"], Mapping[str, "Flow | JobHandler"]]


async def running_maps(
    runtime: Runtime, directory: MapSet
) -> tuple[MapSet, tuple[int, str] | None]:
    """Return the maps to start with: the active version's, else the directory's (``directory``).

    The second item is the active version's number and checksum (None: the directory runs).
    """
    async with runtime.engine.connect() as conn:
        version = await active_version(conn, runtime.settings.profile)
    if version is None:
        return directory, None
    maps = await asyncio.to_thread(version_maps, runtime.settings, version)
    log.info("config_version_loaded", profile=version.profile, version=version.version)
    return maps, (version.version, version.checksum)


@dataclass
class ConfigWatch:
    """Follow the active configuration version of ``runtime``'s profile into ``worker``."""

    runtime: Runtime
    build: BuildFlows
    running: tuple[int, str] | None = None  # (version, checksum) the worker runs; None: directory
    worker: Worker | None = None
    _skipped: str | None = None  # a checksum that failed to load, not tried again

    async def follow(self, stop: asyncio.Event) -> None:
        """Check every ``config_reload_seconds`` until ``stop`` is set (a worker-only process)."""
        seconds = self.runtime.settings.config_reload_seconds
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)
            if not stop.is_set():
                await self.check()

    async def check(self) -> bool:
        """Swap the worker's flows when another version is active; return whether it did."""
        if self.worker is None:
            return False
        profile = self.runtime.settings.profile
        async with self.runtime.engine.connect() as conn:
            found = await active_checksum(conn, profile)
            if found is None or found == self.running or found[1] == self._skipped:
                return False
            version = await active_version(conn, profile)
        if version is None:
            return False
        try:
            maps = await asyncio.to_thread(version_maps, self.runtime.settings, version)
        except MappingConfigError as exc:
            self._skipped = version.checksum
            log.error(  # noqa: TRY400 - the problems are the message; no traceback wanted
                "config_reload_failed", version=version.version, problems=exc.message
            )
            return False
        self.worker.replace_flows(self.build(maps))
        log.info(
            "config_reloaded",
            profile=profile,
            version=version.version,
            previous=self.running[0] if self.running else None,
            checksum=version.checksum[:12],
        )
        self.running = (version.version, version.checksum)
        return True
