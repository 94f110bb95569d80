"""The emulated-endpoint table of a sandbox app, generated from its routes for docs/sandbox.md."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["endpoint_table", "replace_between"]


def endpoint_table(app: FastAPI) -> str:
    """Render every API route as a Markdown table: method, path, what it does."""
    rows = ["| Method | Path | Route |", "|---|---|---|"]
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            summary = str(operation.get("summary", "")).lower()
            rows.append(f"| {method.upper()} | `{path}` | {summary} |")
    return "\n".join(rows) + "\n"


def replace_between(text: str, marker: str, content: str) -> str:
    """Put ``content`` between ``<!-- marker:start -->`` and ``<!-- marker:end -->`` in ``text``."""
    start, end = f"<!-- {marker}:start -->\n", f"<!-- {marker}:end -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise ValueError(f"markers {start.strip()} / {end} not found")
    return head + start + content + end + rest.split(end, 1)[1]
