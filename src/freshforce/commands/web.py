"""``freshforce web``: serve the dashboard with uvicorn on the store of the settings.

Flags override the ``web_host`` and ``web_port`` settings. Heavy imports (FastAPI, the store,
uvicorn) happen when the command runs, so ``freshforce --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["web"]


def web(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (setting web_host).", envvar="FRESHFORCE_WEB_HOST"),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port (setting web_port).", envvar="FRESHFORCE_WEB_PORT"
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="FRESHFORCE_DATABASE_URL",
            help="The store's database URL (default: the settings' database_url).",
        ),
    ] = None,
) -> None:
    """Serve the dashboard, its JSON API, /healthz, /readyz and /metrics."""
    import uvicorn  # noqa: PLC0415 - lazy CLI imports

    from freshforce.commands.context import cli_context  # noqa: PLC0415
    from freshforce.commands.store import run_with_runtime  # noqa: PLC0415
    from freshforce.web import create_app  # noqa: PLC0415

    settings = cli_context(ctx).settings
    bind_host = host or settings.web_host
    bind_port = settings.web_port if port is None else port

    async def serve(engine: AsyncEngine) -> None:
        app = create_app(engine, settings=settings)
        config = uvicorn.Config(
            app,
            host=bind_host,
            port=bind_port,
            proxy_headers=True,
            log_config=None,
            access_log=False,
        )
        typer.echo(f"dashboard on http://{bind_host}:{bind_port}/ (stop with Ctrl-C)")
        await uvicorn.Server(config).serve()

    run_with_runtime(ctx, lambda runtime: serve(runtime.engine), database_url=database_url)
