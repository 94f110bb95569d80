"""The sObject operations of REST, as replies: create, read, update, delete, upsert by external id.

The REST routes and the composite resource both call these, so a subrequest behaves exactly like
the request it stands for. Each takes the transaction (or the state, for reads) and returns a
``Reply``; failures raise ``SalesforceError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from freshforce.sandbox.salesforce.addresses import field_value
from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    invalid_field,
    json_parser_error,
    not_found,
)
from freshforce.sandbox.salesforce.objects import ObjectSpec
from freshforce.sandbox.salesforce.state import (
    MultipleMatchesError,
    Record,
    SalesforceState,
    Transaction,
)

__all__ = [
    "Reply",
    "create",
    "delete",
    "delete_by_external_id",
    "read",
    "read_by_external_id",
    "record_url",
    "render_record",
    "update",
    "upsert",
]

# JSON bodies leave here as plain Python values.
JSONValue = object
UPSERT_200_SINCE = 46.0


@dataclass(frozen=True)
class Reply:
    """A REST answer before rendering: status, JSON body (None for no body), extra headers."""

    status: int
    body: JSONValue = None
    headers: tuple[tuple[str, str], ...] = ()


def record_url(version: str, object_name: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{object_name}/{record_id}"


def render_record(
    version: str, spec: ObjectSpec, record: Record, fields: list[str] | None = None
) -> dict[str, JSONValue]:
    """Return a record as REST returns it: ``attributes`` then the fields in describe order."""
    names = spec.field_names() if fields is None else fields
    body: dict[str, JSONValue] = {
        "attributes": {"type": spec.name, "url": record_url(version, spec.name, str(record["Id"]))}
    }
    body.update({name: field_value(spec, record, name) for name in names})
    return body


def _field_list(spec: ObjectSpec, raw: str | None) -> list[str] | None:
    if not raw:
        return None
    names = []
    for name in (part.strip() for part in raw.split(",")):
        found = spec.field(name)
        if found is None:
            raise invalid_field(spec.name, name)
        names.append(found.name)
    return names


def _body(body: JSONValue) -> Mapping[str, object]:
    if not isinstance(body, dict):
        raise json_parser_error("Expected a JSON object as the request body")
    return body


def create(tx: Transaction, version: str, object_name: str, body: JSONValue) -> Reply:
    if tx.state.platform_events.get(object_name) is not None:
        event_id = tx.publish_event(object_name, _body(body))
        return Reply(201, {"id": event_id, "success": True, "errors": []})
    spec = tx.state.describe(object_name)
    new_id = tx.create(spec.name, _body(body))
    location = (("Location", record_url(version, spec.name, new_id)),)
    return Reply(201, {"id": new_id, "success": True, "errors": []}, location)


def read(
    state: SalesforceState, version: str, object_name: str, record_id: str, fields: str | None
) -> Reply:
    spec = state.describe(object_name)
    record = state.read(spec.name, record_id)
    return Reply(200, render_record(version, spec, record, _field_list(spec, fields)))


def update(tx: Transaction, object_name: str, record_id: str, body: JSONValue) -> Reply:
    tx.update(object_name, record_id, _body(body))
    return Reply(204)


def delete(tx: Transaction, object_name: str, record_id: str) -> Reply:
    tx.delete(object_name, record_id)
    return Reply(204)


def _external_matches(
    state: SalesforceState, spec: ObjectSpec, field_name: str, value: str
) -> list[str]:
    field = spec.field(field_name)
    if field is None or not (field.external_id or field.name == "Id"):
        raise SalesforceError(
            404,
            ErrorItem(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            ),
        )
    return state.find(spec.name, field.name, value)


def _multiple(version: str, spec: ObjectSpec, ids: list[str] | tuple[str, ...]) -> Reply:
    return Reply(300, [record_url(version, spec.name, i) for i in ids])


def read_by_external_id(
    state: SalesforceState,
    version: str,
    object_name: str,
    field_name: str,
    value: str,
    *,
    fields: str | None,
) -> Reply:
    spec = state.describe(object_name)
    matches = _external_matches(state, spec, field_name, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return _multiple(version, spec, matches)
    record = state.read(spec.name, matches[0])
    return Reply(200, render_record(version, spec, record, _field_list(spec, fields)))


def delete_by_external_id(tx: Transaction, object_name: str, field_name: str, value: str) -> Reply:
    spec = tx.state.describe(object_name)
    matches = _external_matches(tx.state, spec, field_name, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        raise MultipleMatchesError(spec.name, matches)
    tx.delete(spec.name, matches[0])
    return Reply(204)


def upsert(
    tx: Transaction,
    version: str,
    object_name: str,
    field_name: str,
    value: str,
    *,
    body: JSONValue,
    update_only: bool = False,
) -> Reply:
    """201 created, 200 (204 before API 46.0) updated, 300 when several records match.

    ``update_only`` (``?updateOnly=true``) answers 404 NOT_FOUND instead of creating.
    """
    spec = tx.state.describe(object_name)
    if not _external_matches(tx.state, spec, field_name, value) and update_only:
        raise not_found()
    try:
        result = tx.upsert(spec.name, field_name, value, _body(body))
    except MultipleMatchesError as exc:
        return _multiple(version, spec, exc.ids)
    answer = {"id": result.id, "success": True, "errors": [], "created": result.created}
    if result.created:
        location = (("Location", record_url(version, spec.name, result.id)),)
        return Reply(201, answer, location)
    if float(version) < UPSERT_200_SINCE:
        return Reply(204)
    return Reply(200, answer)
