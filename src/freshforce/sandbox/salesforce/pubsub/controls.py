"""Pub/Sub run-time knobs the sandbox admin API turns: retention, keepalive, idle close, outage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

__all__ = ["PubSubControls"]


@dataclass
class PubSubControls:
    """Settings read on every call, so a change applies to the next call or wait.

    Defaults are Salesforce's: 72 hours of retention, a keepalive within 270 seconds of
    silence, and a stream with nothing requested closed after 60 seconds.
    """

    retention: timedelta = timedelta(hours=72)
    keepalive_seconds: float = 270.0
    idle_close_seconds: float = 60.0
    unavailable: bool = False
    # replay id → the payload sent instead of that event's (a corrupted event on the wire)
    corrupt: dict[int, bytes] = field(default_factory=dict)
