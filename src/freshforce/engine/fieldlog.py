"""Write-log rows from mapped values: before, after, the source value and the step trace.

A flow that writes mapped fields hands the write log (``store/writelog.py``) one
:class:`FieldWrite` per field. ``field_write`` builds it from the mapping's :class:`FieldTrace`
with every value made JSON-safe (decimals and dates as text), so the row can be stored as is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from freshforce.store.writelog import FieldWrite

if TYPE_CHECKING:
    from freshforce.mapping import FieldTrace

__all__ = ["field_write", "jsonable"]


def jsonable(value: Any) -> Any:  # noqa: ANN401 - any wire or mapped value
    """Return ``value`` with decimals, dates and dataclasses turned into JSON values."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    return value


def field_write(
    *,
    system: str,
    obj: str,
    record_id: str,
    field: str,
    before: Any,  # noqa: ANN401 - wire values
    after: Any,  # noqa: ANN401
    trace: FieldTrace | None = None,
    job_id: int | None = None,
    link_id: int | None = None,
) -> FieldWrite:
    """Return the write-log row of one field written to ``system``'s ``obj`` ``record_id``."""
    steps = (
        []
        if trace is None
        else [{"rule": trace.rule, "line": trace.line, "step": name, "value": jsonable(out)}
              for name, out in trace.steps]
    )  # fmt: skip
    if trace is not None and trace.rate is not None:
        steps.append({"rule": trace.rule, "line": trace.line, "rate": jsonable(trace.rate)})
    return FieldWrite(
        system=system,
        object=obj,
        record_id=record_id,
        field=field,
        before=jsonable(before),
        after=jsonable(after),
        source_value=None if trace is None else jsonable(trace.source_value),
        trace=steps,
        link_id=link_id,
        job_id=job_id,
    )
