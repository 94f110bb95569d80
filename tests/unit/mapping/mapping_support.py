"""Helpers for the mapping tests: write a one-flow directory and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from freshforce.mapping import FlowMap, Problem, check_maps, load_maps

HEADERS = {
    "clients": "flow: clients\nlink: {freshbooks: client, salesforce: [Account, Contact]}\n",
    "invoices": "flow: invoices\nlink: {freshbooks: invoice, salesforce: Opportunity}\n",
}


def write_flow(
    directory: Path,
    fields: str,
    *,
    flow: str = "clients",
    values: str | None = None,
    extra: str = "",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    body = (
        HEADERS[flow]
        + textwrap.dedent(extra)
        + "fields:\n"
        + textwrap.indent(textwrap.dedent(fields), "  ")
    )
    (directory / f"{flow}.yaml").write_text(body)
    if values is not None:
        (directory / "values.yaml").write_text(textwrap.dedent(values))
    return directory


def flow_map(directory: Path, fields: str, **kwargs: str) -> FlowMap:
    flow = kwargs.get("flow", "clients")
    return load_maps(write_flow(directory, fields, **kwargs))[flow]


def problems_of(directory: Path, fields: str, **kwargs: str) -> list[Problem]:
    _, problems = check_maps(write_flow(directory, fields, **kwargs))
    return problems
