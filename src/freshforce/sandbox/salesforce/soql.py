"""The sandbox's SOQL engine: parse a query and run it over the org's records.

``run_soql`` is the one entry the REST ``query``/``queryAll`` routes and Bulk query jobs call.
The pieces live beside it: ``soql_grammar.lark`` and ``soql_parse`` (text to tree),
``soql_eval`` and ``soql_values`` (tree to rows), ``soql_source`` (what the records must offer),
``soql_records`` (the sandbox state as that source), ``soql_errors`` (Salesforce's error
wording) and ``soql_print`` (tree to text).
"""

from __future__ import annotations

import datetime as dt

from freshforce.sandbox.salesforce.soql_ast import Query
from freshforce.sandbox.salesforce.soql_errors import SoqlError
from freshforce.sandbox.salesforce.soql_eval import QueryResult, check, evaluate
from freshforce.sandbox.salesforce.soql_parse import parse_soql
from freshforce.sandbox.salesforce.soql_print import to_soql
from freshforce.sandbox.salesforce.soql_records import StateRecordSource
from freshforce.sandbox.salesforce.soql_source import (
    ChildLink,
    FieldSpec,
    ObjectShape,
    ParentLink,
    Record,
    RecordSource,
)

__all__ = [
    "ChildLink",
    "FieldSpec",
    "ObjectShape",
    "ParentLink",
    "Query",
    "QueryResult",
    "Record",
    "RecordSource",
    "SoqlError",
    "StateRecordSource",
    "check_soql",
    "parse_soql",
    "run_soql",
    "to_soql",
]


def check_soql(text: str, source: RecordSource) -> tuple[Query, ObjectShape]:
    """Parse ``text`` and resolve its names (no records read); return it and its object.

    Raises ``SoqlError`` as ``run_soql`` would, for jobs that must refuse a query up front.
    """
    query = parse_soql(text)
    return query, check(query, text, source)


def run_soql(
    text: str,
    source: RecordSource,
    *,
    now: dt.datetime,
    include_deleted: bool = False,
    api_version: str = "59.0",
) -> QueryResult:
    """Parse and run ``text``; ``include_deleted`` for queryAll; ``now`` anchors TODAY etc.

    Raises ``SoqlError`` (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, ...) for a query
    Salesforce would refuse.
    """
    return evaluate(
        parse_soql(text),
        text,
        source,
        now=now,
        include_deleted=include_deleted,
        api_version=api_version,
    )
