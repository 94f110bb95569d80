"""The FreshBooks wire format: envelopes, record rendering, and reading write bodies."""

from __future__ import annotations

import json
from typing import Any

from freshforce.sandbox.freshbooks.errors import ERRNO, accounting_error
from freshforce.sandbox.freshbooks.resources import Resource
from freshforce.sandbox.freshbooks.search import Page

__all__ = ["list_envelope", "read_body", "render", "single_envelope"]

Record = dict[str, Any]  # wire fields, JSON values


def render(resource: Resource, record: Record, includes: frozenset[str], *, single: bool) -> Record:
    """Return the public view of a record: internals dropped, includes honoured.

    Invoices carry ``lines`` on a single GET (and writes) always, on lists only with
    ``include[]=lines``.
    """
    shown = {k: v for k, v in record.items() if not k.startswith("_")}
    if resource.plural == "invoices" and not single and "lines" not in includes:
        shown.pop("lines", None)
    return shown


def list_envelope(resource: Resource, page: Page, rows: list[Record]) -> dict[str, Any]:
    """Wrap a page as ``{"response":{"result":{<plural>:[...], page, pages, per_page, total}}}``."""
    result = {
        resource.plural: rows,
        "page": page.page,
        "pages": page.pages,
        "per_page": page.per_page,
        "total": page.total,
    }
    return {"response": {"result": result}}


def single_envelope(singular: str, row: Record) -> dict[str, Any]:
    """Wrap one object as ``{"response":{"result":{<singular>:{...}}}}``."""
    return {"response": {"result": {singular: row}}}


def read_body(raw: bytes, singular: str) -> Record:
    """Return the inner object of a ``{"<singular>": {...}}`` write body, or raise the API error."""
    try:
        parsed = json.loads(raw or b"null")
    except ValueError:
        raise accounting_error(
            400, ERRNO["parse"], "The request body is not valid JSON.", obj=singular
        ) from None
    inner = parsed.get(singular) if isinstance(parsed, dict) else None
    if not isinstance(inner, dict):
        raise accounting_error(
            400,
            ERRNO["required"],
            f'The request body must be an object under "{singular}".',
            obj=singular,
            field=singular,
        )
    return inner
