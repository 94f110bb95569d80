"""Mapping suggestions and write anomalies: offline, explained, taught by the decisions."""

from __future__ import annotations
