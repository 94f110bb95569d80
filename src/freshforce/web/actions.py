"""Operator actions on dead letters, each leaving an audit row: edit, replay, discard.

Pages and the JSON API call these and turn the outcome into HTML or JSON; a missing letter is
:class:`NotFoundError`, a replayed one :class:`GoneError`, a bad payload ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from freshforce.engine.queue import payload_hints
from freshforce.store.audit import record_audit
from freshforce.store.overview import discard_dead_letter, letter_summary
from freshforce.web.deps import WebDeps

__all__ = [
    "GoneError",
    "NotFoundError",
    "discard",
    "edit_payload",
    "parse_payload",
    "replay",
    "replay_many",
]


class NotFoundError(LookupError):
    """No dead letter has that id."""


class GoneError(LookupError):
    """The dead letter was replayed already, so it cannot change any more."""


def parse_payload(text: str) -> dict[str, Any]:  # Any: JSON typed in by a person
    """Parse an edited payload; ``ValueError`` names the line, column or path of the problem."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"payload: not JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise ValueError(msg) from None
    payload_hints(value)
    return dict(value)


async def _audit(deps: WebDeps, actor: str, action: str, letter_id: int, **detail: Any) -> None:  # noqa: ANN401 - JSON detail
    async with deps.engine.begin() as conn:
        await record_audit(
            conn,
            actor=actor,
            action=action,
            target=f"dead_letter:{letter_id}",
            now=deps.clock(),
            detail=detail,
        )


async def _require_open(deps: WebDeps, letter_id: int) -> None:
    letter = await deps.queue.dead_letter(letter_id)
    if letter is None:
        raise NotFoundError(f"no dead letter {letter_id}")
    if letter.replayed_at is not None:
        raise GoneError(f"dead letter {letter_id} was replayed already")


async def edit_payload(
    deps: WebDeps,
    actor: str,
    letter_id: int,
    payload: dict[str, Any],  # Any: JSON from the operator
) -> None:
    """Replace a letter's payload (checked first) and audit it."""
    payload_hints(payload)
    await _require_open(deps, letter_id)
    if not await deps.queue.edit_dead_letter(letter_id, payload):
        raise GoneError(f"dead letter {letter_id} was replayed already")
    await _audit(deps, actor, "dead_letter.edit", letter_id, payload=payload)


async def replay(deps: WebDeps, actor: str, letter_id: int) -> int:
    """Enqueue a letter's job again and audit it; return the new job id."""
    await _require_open(deps, letter_id)
    job_id = await deps.queue.replay(letter_id)
    if job_id is None:
        raise GoneError(f"dead letter {letter_id} was replayed already")
    await _audit(deps, actor, "dead_letter.replay", letter_id, job_id=job_id)
    return job_id


async def replay_many(deps: WebDeps, actor: str, letter_ids: Sequence[int]) -> dict[int, int | str]:
    """Replay each letter; map each id to its new job id or to why it was not replayed."""
    outcome: dict[int, int | str] = {}
    for letter_id in dict.fromkeys(letter_ids):
        try:
            outcome[letter_id] = await replay(deps, actor, letter_id)
        except LookupError as exc:
            outcome[letter_id] = str(exc)
    return outcome


async def discard(deps: WebDeps, actor: str, letter_id: int, reason: str) -> None:
    """Delete a letter for good, keeping its content and ``reason`` in the audit log."""
    reason = reason.strip()
    if not reason:
        msg = "reason: say why the letter is discarded"
        raise ValueError(msg)
    await _require_open(deps, letter_id)
    async with deps.engine.begin() as conn:
        letter = await discard_dead_letter(conn, letter_id)
        if letter is None:
            raise GoneError(f"dead letter {letter_id} was replayed or discarded already")
        await record_audit(
            conn,
            actor=actor,
            action="dead_letter.discard",
            target=f"dead_letter:{letter_id}",
            now=deps.clock(),
            detail={"reason": reason, **letter_summary(letter)},
        )
