"""Salesforce's REST error codes and bodies, as the sandbox raises and renders them.

A REST error is an HTTP status plus a JSON array of ``{"message","errorCode","fields"}``;
sObject Collections put the same items in each result with ``statusCode`` instead of
``errorCode``. ``SalesforceError`` carries the status and the items from ``state.py`` (which knows
no HTTP) to ``api.py`` (which renders them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ErrorItem",
    "SalesforceError",
    "all_or_none_rolled_back",
    "duplicate_value",
    "entity_is_deleted",
    "field_integrity",
    "invalid_cross_reference",
    "invalid_email",
    "invalid_field",
    "invalid_field_for_insert_update",
    "invalid_query_locator",
    "invalid_session",
    "invalid_type",
    "json_parser_error",
    "malformed_id",
    "not_found",
    "processing_halted",
    "request_limit_exceeded",
    "required_field_missing",
    "restricted_picklist",
    "string_too_long",
    "unable_to_lock_row",
]


@dataclass(frozen=True)
class ErrorItem:
    """One element of a Salesforce error array."""

    error_code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_rest(self) -> dict[str, object]:
        """Return the REST form: ``{"message","errorCode","fields"}``."""
        return {"message": self.message, "errorCode": self.error_code, "fields": list(self.fields)}

    def as_collection(self) -> dict[str, object]:
        """Return the sObject Collections form: ``{"statusCode","message","fields"}``."""
        return {"statusCode": self.error_code, "message": self.message, "fields": list(self.fields)}


class SalesforceError(Exception):
    """A failed call: the HTTP status Salesforce answers with, and the error array."""

    def __init__(self, status: int, *items: ErrorItem) -> None:
        super().__init__(items[0].message if items else f"HTTP {status}")
        self.status = status
        self.items = items

    @property
    def error_code(self) -> str:
        return self.items[0].error_code if self.items else ""

    def body(self) -> list[dict[str, object]]:
        return [item.as_rest() for item in self.items]


def _error(status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> SalesforceError:
    return SalesforceError(status, ErrorItem(code, message, fields))


def invalid_session() -> SalesforceError:
    return _error(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> SalesforceError:
    return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def not_found() -> SalesforceError:
    return _error(404, "NOT_FOUND", "The requested resource does not exist")


def entity_is_deleted() -> SalesforceError:
    return _error(404, "ENTITY_IS_DELETED", "entity is deleted")


def invalid_type(name: str) -> SalesforceError:
    return _error(404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'")


def malformed_id(field: str, value: str) -> SalesforceError:
    label = f"{field}: " if field else ""
    return _error(400, "MALFORMED_ID", f"{label}id value of incorrect type: {value}", (field,))


def invalid_cross_reference(field: str, value: str) -> SalesforceError:
    return _error(
        400,
        "INVALID_CROSS_REFERENCE_KEY",
        f"invalid cross reference id: {field} = {value}",
        (field,),
    )


def invalid_field(object_name: str, field: str) -> SalesforceError:
    return _error(
        400,
        "INVALID_FIELD",
        f"No such column '{field}' on sobject of type {object_name}",
        (field,),
    )


def invalid_field_for_insert_update(operation: str, fields: list[str]) -> SalesforceError:
    names = ", ".join(fields)
    return _error(
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to {operation} fields: {names}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        tuple(fields),
    )


def required_field_missing(fields: list[str]) -> SalesforceError:
    names = ", ".join(fields)
    return _error(
        400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{names}]", tuple(fields)
    )


def duplicate_value(field: str, record_id: str) -> SalesforceError:
    return _error(
        400,
        "DUPLICATE_VALUE",
        f"duplicate value found: {field} duplicates value on record with id: {record_id}",
        (field,),
    )


def string_too_long(field: str, value: str, max_length: int) -> SalesforceError:
    return _error(
        400,
        "STRING_TOO_LONG",
        f"{field}: data value too large: {value[:40]} (max length={max_length})",
        (field,),
    )


def restricted_picklist(field: str, value: str) -> SalesforceError:
    return _error(
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        f"{field}: bad value for restricted picklist field: {value}",
        (field,),
    )


def invalid_email(field: str, value: str) -> SalesforceError:
    return _error(
        400, "INVALID_EMAIL_ADDRESS", f"{field}: invalid email address: {value}", (field,)
    )


def field_integrity(message: str, fields: tuple[str, ...] = ()) -> SalesforceError:
    return _error(400, "FIELD_INTEGRITY_EXCEPTION", f"field integrity exception: {message}", fields)


def json_parser_error(message: str) -> SalesforceError:
    return _error(400, "JSON_PARSER_ERROR", message)


def invalid_query_locator() -> SalesforceError:
    return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")


def unable_to_lock_row(status: int = 400) -> SalesforceError:
    return _error(
        status,
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access to this record or 1 records",
    )


def processing_halted() -> ErrorItem:
    return ErrorItem(
        "PROCESSING_HALTED",
        "The transaction was rolled back since another operation in the same transaction failed.",
    )


def all_or_none_rolled_back() -> ErrorItem:
    return ErrorItem(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header",
    )
