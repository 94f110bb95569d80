"""Logging: structlog with bound context, JSON lines or console text, secrets redacted.

Code logs snake_case facts with structlog (``log.info("job_claimed", job_id=7)``); context bound
with ``structlog.contextvars.bind_contextvars`` rides along on every line of that task. Lines from
libraries that use the standard ``logging`` module (Alembic, uvicorn) go through the same
processors, so the output is one format. Values under keys that look secret (token, secret,
password, authorization, ...), every ``SecretStr``, bearer credentials and URL passwords inside
text are replaced before anything is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

import structlog
from pydantic import SecretBytes, SecretStr

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor, WrappedLogger

    from freshforce.settings import Settings

__all__ = ["REDACTED", "configure_logging", "redact_secrets"]

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"token|secret|password|passwd|authorization|api[_-]?key|cookie|credential|private[_-]?key",
    re.IGNORECASE,
)
# Keys that mention a secret without holding one.
_HARMLESS_SUFFIX = re.compile(r"(_version|_expires_at|_type|_url|_count|_id)$", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|Basic)\s+[^\s\"',]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\w://[^/\s:@]*:)[^@\s/]+@")
_MAX_DEPTH = 8
# Libraries that narrate their internals at INFO; heard from only at WARNING unless debugging.
_CHATTY_LOGGERS = ("alembic", "sqlalchemy", "asyncio", "aiosqlite", "httpx", "httpcore")


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Route structlog and standard logging to ``stream`` (stderr) at ``settings.log_level``."""
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Drops a call below ``level`` before any processor runs: the per-request debug lines
        # (``api_call``) cost nothing at info.
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_formatter(shared, json=settings.json_logs))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else logging.WARNING)


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace secret values in a log event (a structlog processor)."""
    return {key: _clean(key, value, 0) for key, value in event_dict.items()}


def _formatter(shared: list[Processor], *, json: bool) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor
    if json:
        renderer = structlog.processors.JSONRenderer(sort_keys=True)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )


def _clean(key: object, value: object, depth: int) -> object:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(key, str) and _SECRET_KEY.search(key) and not _HARMLESS_SUFFIX.search(key):
        return REDACTED if value is not None else None
    if isinstance(value, str):
        value = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
        return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", value)
    return _clean_container(value, depth)


def _clean_container(value: object, depth: int) -> object:
    # Nested dicts and lists are walked; deeper than _MAX_DEPTH they are dropped, not shown.
    if not isinstance(value, Mapping | list | tuple):
        return value
    if depth >= _MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _clean(k, v, depth + 1) for k, v in value.items()}
    return [_clean(None, item, depth + 1) for item in value]
