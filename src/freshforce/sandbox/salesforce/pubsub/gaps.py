"""Gap events on demand: header-only change records a subscriber must resolve by re-reading."""

from __future__ import annotations

from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord, ChangeType

__all__ = ["GAP_TYPES", "emit_gap"]

GAP_TYPES: tuple[ChangeType, ...] = (
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
)


def emit_gap(
    log: ChangeLog,
    *,
    entity_name: str,
    change_type: ChangeType,
    record_ids: tuple[str, ...],
    transaction_key: str,
    commit_timestamp_ms: int,
    commit_user: str,
) -> ChangeRecord:
    """Append a gap event to ``log``; GAP_OVERFLOW names no records (resync the entity)."""
    if change_type not in GAP_TYPES:
        raise ValueError(
            f"gap change type must be one of {', '.join(GAP_TYPES)}, not {change_type}"
        )
    if change_type == "GAP_OVERFLOW":
        record_ids = ()
    elif not record_ids:
        raise ValueError(f"{change_type} needs at least one record id")
    return log.append(
        ChangeRecord(
            replay_id=0,
            entity_name=entity_name,
            change_type=change_type,
            record_ids=record_ids,
            change_origin="",
            transaction_key=transaction_key,
            sequence_number=1,
            commit_timestamp_ms=commit_timestamp_ms,
            commit_number=commit_timestamp_ms,
            commit_user=commit_user,
        )
    )
