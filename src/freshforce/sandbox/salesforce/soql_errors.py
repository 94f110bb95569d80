"""SOQL errors worded as Salesforce words them: the query, a caret line, the row and column.

A ``SoqlError`` is a ``SalesforceError`` (``errors.py``), so the REST layer renders it as the
documented error array ``[{"message": ..., "errorCode": ...}]`` with HTTP 400.
"""

from __future__ import annotations

from typing import Literal

from freshforce.sandbox.salesforce.errors import ErrorItem, SalesforceError

__all__ = [
    "SoqlError",
    "SoqlErrorCode",
    "invalid_field",
    "invalid_relationship",
    "invalid_type",
    "malformed",
    "pointed",
]

SoqlErrorCode = Literal[
    "MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "NUMBER_OUTSIDE_VALID_RANGE"
]

_NO_SUCH_COLUMN_TAIL = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
_NO_SUCH_TYPE_TAIL = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity "
    "name. Please reference your WSDL or the describe call for the appropriate names."
)
_NO_SUCH_RELATIONSHIP_TAIL = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the "
    "custom relationship name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)


class SoqlError(SalesforceError):
    """A query Salesforce would refuse: HTTP 400 with one error item, rendered by the REST layer."""

    http_status = 400

    def __init__(self, error_code: SoqlErrorCode, message: str) -> None:
        super().__init__(self.http_status, ErrorItem(error_code, message))

    @property
    def message(self) -> str:
        return self.items[0].message


def pointed(text: str, line: int, column: int, detail: str) -> str:
    """Echo the offending query line, a caret under ``column`` and ``ERROR at Row:..:Column:..``."""
    lines = text.splitlines() or [""]
    echoed = lines[min(max(line, 1), len(lines)) - 1]
    caret = " " * max(column - 1, 0) + "^"
    return f"\n{echoed}\n{caret}\nERROR at Row:{line}:Column:{column}\n{detail}"


def malformed(text: str, line: int, column: int, detail: str) -> SoqlError:
    """Build the MALFORMED_QUERY error for a syntax problem at ``line``/``column``."""
    return SoqlError("MALFORMED_QUERY", pointed(text, line, column, detail))


def invalid_field(text: str, line: int, column: int, name: str, entity: str) -> SoqlError:
    """Build the INVALID_FIELD ``No such column`` error for ``name`` on ``entity``."""
    detail = f"No such column '{name}' on entity '{entity}'. {_NO_SUCH_COLUMN_TAIL}"
    return SoqlError("INVALID_FIELD", pointed(text, line, column, detail))


def invalid_relationship(
    text: str, line: int, column: int, name: str, *, in_from: bool
) -> SoqlError:
    """Build the error for an unknown parent relationship (field path) or child one (FROM)."""
    where = "FROM part of query call" if in_from else "field path"
    detail = f"Didn't understand relationship '{name}' in {where}. {_NO_SUCH_RELATIONSHIP_TAIL}"
    code: SoqlErrorCode = "INVALID_TYPE" if in_from else "INVALID_FIELD"
    return SoqlError(code, pointed(text, line, column, detail))


def invalid_type(text: str, line: int, column: int, name: str) -> SoqlError:
    """Build the INVALID_TYPE error for an unknown sObject in ``FROM``."""
    detail = f"sObject type '{name}' is not supported. {_NO_SUCH_TYPE_TAIL}"
    return SoqlError("INVALID_TYPE", pointed(text, line, column, detail))
