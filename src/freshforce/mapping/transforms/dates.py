"""Date and datetime transforms: FreshBooks' naive US/Eastern text <-> Salesforce UTC ISO.

FreshBooks writes most timestamps as naive ``"YYYY-MM-DD HH:MM:SS"`` wall-clock time in
US/Eastern; Salesforce wants ``2020-11-01T18:11:10.000+0000``. Around the DST changes a wall time
can happen twice (the November hour) or never (the March hour): ``ambiguous`` and
``nonexistent`` say what to do then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from freshforce.mapping.transforms.base import (
    NoParams,
    Params,
    StepContext,
    StepFn,
    TransformDef,
    TransformError,
    is_empty,
)

__all__ = ["DATE_TRANSFORMS", "format_utc", "parse_utc"]

EASTERN = "America/New_York"
_NAIVE = "%Y-%m-%d %H:%M:%S"


class ZoneParams(Params):
    """``zone``: the IANA zone of the naive side; DST handling for wall times."""

    zone: str = EASTERN
    ambiguous: Literal["earlier", "later", "error"] = "earlier"
    nonexistent: Literal["shift_forward", "error"] = "shift_forward"

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. America/New_York)") from None
        return value


def parse_utc(value: object) -> datetime:
    """Read a Salesforce (or any ISO, offset-carrying) datetime as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # noqa: PLR2004
            text = f"{text[:-2]}:{text[-2:]}"  # +0000 -> +00:00
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise TransformError(f"value {value!r} is not an ISO datetime") from None
    if moment.tzinfo is None:
        raise TransformError(f"value {value!r} has no UTC offset (expected e.g. …T18:11:10Z)")
    return moment.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """Write an aware datetime the way Salesforce does: ``2020-11-01T18:11:10.000+0000``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _wall_to_utc(wall: datetime, params: ZoneParams) -> datetime:
    zone = ZoneInfo(params.zone)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != wall:  # the March gap: this wall time never happened
        if params.nonexistent == "error":
            raise TransformError(f"{wall:{_NAIVE}} does not exist in {params.zone} (DST gap)")
        return first.astimezone(UTC)
    if first.utcoffset() != second.utcoffset():  # the November hour: it happened twice
        if params.ambiguous == "error":
            raise TransformError(f"{wall:{_NAIVE}} happened twice in {params.zone} (DST end)")
        return (first if params.ambiguous == "earlier" else second).astimezone(UTC)
    return first.astimezone(UTC)


def _naive_to_utc(params: ZoneParams) -> StepFn:
    def step(value: Any, ctx: StepContext) -> str | None:  # noqa: ANN401
        # Any: text from the wire.
        del ctx
        if is_empty(value):
            return None
        text = str(value).strip()
        try:
            wall = datetime.fromisoformat(text)
        except ValueError:
            raise TransformError(f"value {value!r} is not a 'YYYY-MM-DD HH:MM:SS' time") from None
        if wall.tzinfo is not None:
            return format_utc(wall)
        return format_utc(_wall_to_utc(wall, params))

    return step


def _utc_to_naive(params: ZoneParams) -> StepFn:
    zone = ZoneInfo(params.zone)

    def step(value: Any, ctx: StepContext) -> str | None:  # noqa: ANN401
        # Any: text from the wire.
        del ctx
        if is_empty(value):
            return None
        return parse_utc(value).astimezone(zone).strftime(_NAIVE)

    return step


def _date(params: NoParams) -> StepFn:
    del params

    def step(value: Any, ctx: StepContext) -> str | None:  # noqa: ANN401
        # Any: text, date or datetime.
        del ctx
        if is_empty(value):
            return None
        if isinstance(value, date):
            return value.isoformat()[:10]
        text = str(value).strip()
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            raise TransformError(f"value {value!r} is not a 'YYYY-MM-DD' date") from None

    return step


DATE_TRANSFORMS: list[TransformDef[Any]] = [
    TransformDef(
        name="date",
        summary="a date as YYYY-MM-DD (checks it); both ways",
        params=NoParams,
        build=_date,
        inverse=lambda params, arity: [("date", params)],
        example="transform: [date]",
    ),
    TransformDef(
        name="naive_to_utc",
        summary="naive wall time in `zone` -> UTC ISO; inverse utc_to_naive",
        params=ZoneParams,
        build=_naive_to_utc,
        inverse=lambda params, arity: [("utc_to_naive", params)],
        shorthand="zone",
        example="transform: [naive_to_utc]",
    ),
    TransformDef(
        name="utc_to_naive",
        summary="UTC ISO (Salesforce) -> naive wall time in `zone`; inverse naive_to_utc",
        params=ZoneParams,
        build=_utc_to_naive,
        inverse=lambda params, arity: [("naive_to_utc", params)],
        shorthand="zone",
        example="transform: [utc_to_naive]",
    ),
]
